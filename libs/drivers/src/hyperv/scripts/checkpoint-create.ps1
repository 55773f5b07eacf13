# A named checkpoint; an existing one of that name is returned as it is.
param(
    [Parameter(Mandatory = $true)][guid]$VmId,
    [Parameter(Mandatory = $true)][string]$SnapshotName
)
. (Join-Path $PSScriptRoot 'hyperv-common.ps1')
try {
    $vm = Get-HpVm $VmId
    $taken = @(Hyper-V\Get-VMSnapshot -VM $vm | Where-Object { $_.Name -eq $SnapshotName })
    if ($taken.Count -eq 0) {
        Hyper-V\Checkpoint-VM -VM $vm -SnapshotName $SnapshotName
        $taken = @(Hyper-V\Get-VMSnapshot -VM $vm | Where-Object { $_.Name -eq $SnapshotName })
    }
    Write-HpResult ([ordered]@{ name = $taken[0].Name; id = $taken[0].Id.ToString(); createdAt = $taken[0].CreationTime.ToUniversalTime().ToString('o') })
} catch {
    Exit-HpException $_
}
