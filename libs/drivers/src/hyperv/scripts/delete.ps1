# Remove-VM deletes the configuration only: the disks (and the differencing chain of any
# checkpoint) stay behind, so they are listed first and removed after it, with the folder.
param(
    [Parameter(Mandatory = $true)][guid]$VmId,
    [Parameter(Mandatory = $true)][string]$InstanceDir
)
. (Join-Path $PSScriptRoot 'hyperv-common.ps1')
try {
    $vm = Get-HpVm $VmId
    $state = $vm.State.ToString()
    if ($state -eq 'Saved') { Hyper-V\Remove-VMSavedState -VM $vm }
    elseif ($state -ne 'Off') { Hyper-V\Stop-VM -VM $vm -TurnOff -Force }
    $disks = @(Hyper-V\Get-VMHardDiskDrive -VM $vm | ForEach-Object { [string]$_.Path })
    Hyper-V\Remove-VM -VM $vm -Force
    foreach ($d in $disks) {
        if (Test-Path -LiteralPath $d) { Remove-Item -LiteralPath $d -Force }
    }
    if (Test-Path -LiteralPath $InstanceDir) { Remove-Item -LiteralPath $InstanceDir -Recurse -Force }
    Write-HpResult ([ordered]@{ removedDisks = $disks })
} catch {
    Exit-HpException $_
}
