# vCPUs and startup memory change only while the VM is Off.
param(
    [Parameter(Mandatory = $true)][guid]$VmId,
    [Parameter(Mandatory = $true)][int]$ProcessorCount,
    [Parameter(Mandatory = $true)][int64]$MemoryBytes
)
. (Join-Path $PSScriptRoot 'hyperv-common.ps1')
try {
    $vm = Get-HpVm $VmId
    $state = $vm.State.ToString()
    if ($state -ne 'Off') { Exit-HpError 'Conflict' "$VmId is $state; a Hyper-V VM is resized while Off" }
    Hyper-V\Set-VMProcessor -VM $vm -Count $ProcessorCount
    Hyper-V\Set-VMMemory -VM $vm -StartupBytes $MemoryBytes
    Write-HpResult (ConvertTo-HpVm (Get-HpVm $VmId))
} catch {
    Exit-HpException $_
}
