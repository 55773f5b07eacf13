# Saved -> Running (Start-VM restores the saved memory); Paused -> Running (Resume-VM).
param(
    [Parameter(Mandatory = $true)][guid]$VmId
)
. (Join-Path $PSScriptRoot 'hyperv-common.ps1')
try {
    $vm = Get-HpVm $VmId
    $state = $vm.State.ToString()
    if ($state -eq 'Off') { Exit-HpError 'Conflict' "$VmId is Off; start it instead" }
    if ($state -eq 'Saved') { Hyper-V\Start-VM -VM $vm }
    elseif ($state -eq 'Paused') { Hyper-V\Resume-VM -VM $vm }
    Write-HpResult (ConvertTo-HpVm (Get-HpVm $VmId))
} catch {
    Exit-HpException $_
}
