param(
    [Parameter(Mandatory = $true)][guid]$VmId,
    [Parameter(Mandatory = $true)][string]$SnapshotName
)
. (Join-Path $PSScriptRoot 'hyperv-common.ps1')
try {
    $vm = Get-HpVm $VmId
    $target = @(Hyper-V\Get-VMSnapshot -VM $vm | Where-Object { $_.Name -eq $SnapshotName })
    if ($target.Count -eq 0) { Exit-HpError 'NotFound' "$VmId has no checkpoint $SnapshotName" }
    Hyper-V\Restore-VMSnapshot -VMSnapshot $target[0] -Confirm:$false
    Write-HpResult (ConvertTo-HpVm (Get-HpVm $VmId))
} catch {
    Exit-HpException $_
}
