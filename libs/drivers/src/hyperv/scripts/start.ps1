# Off or Saved -> Running (Start-VM restores a saved VM); Paused -> Running with Resume-VM.
param(
    [Parameter(Mandatory = $true)][guid]$VmId
)
. (Join-Path $PSScriptRoot 'hyperv-common.ps1')
try {
    $vm = Get-HpVm $VmId
    $state = $vm.State.ToString()
    if ($state -eq 'Paused') { Hyper-V\Resume-VM -VM $vm }
    elseif ($state -ne 'Running') { Hyper-V\Start-VM -VM $vm }
    Write-HpResult (ConvertTo-HpVm (Get-HpVm $VmId))
} catch {
    Exit-HpException $_
}
