# Hyperplane's "suspend" is Save-VM, not Suspend-VM: a saved VM's memory goes to disk and the
# host's RAM is freed (what a scheduler counting capacity wants, and it survives a host
# reboot); Suspend-VM only pauses the vCPUs and keeps all memory resident.
param(
    [Parameter(Mandatory = $true)][guid]$VmId
)
. (Join-Path $PSScriptRoot 'hyperv-common.ps1')
try {
    $vm = Get-HpVm $VmId
    $state = $vm.State.ToString()
    if ($state -eq 'Off') { Exit-HpError 'Conflict' "$VmId is Off; only a running VM can be saved" }
    if ($state -ne 'Saved') { Hyper-V\Save-VM -VM $vm }
    Write-HpResult (ConvertTo-HpVm (Get-HpVm $VmId))
} catch {
    Exit-HpException $_
}
