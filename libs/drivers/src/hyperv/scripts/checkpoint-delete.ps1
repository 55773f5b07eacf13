# Deleting a missing checkpoint succeeds (the contract's idempotence).
param(
    [Parameter(Mandatory = $true)][guid]$VmId,
    [Parameter(Mandatory = $true)][string]$SnapshotName
)
. (Join-Path $PSScriptRoot 'hyperv-common.ps1')
try {
    $vm = Get-HpVm $VmId
    $target = @(Hyper-V\Get-VMSnapshot -VM $vm | Where-Object { $_.Name -eq $SnapshotName })
    foreach ($s in $target) { Hyper-V\Remove-VMSnapshot -VMSnapshot $s -Confirm:$false }
    Write-HpResult ([ordered]@{ removed = $target.Count })
} catch {
    Exit-HpException $_
}
