# Remove-VM deletes the configuration only: the disks (and the differencing chain of any
# checkpoint) stay behind, so they are listed first and removed after it, with the folder.
param(
    [Parameter(Mandatory = $true)][guid]$VmId,
    [Parameter(Mandatory = $true)][string]$InstanceDir
)
. (Join-Path $PSScriptRoot 'hyperv-common.ps1')

# Remove-VM merges checkpoints into the disks after it returns and the files stay locked until
# that merge ends, so a removal is tried again for a while.
function Remove-HpPath([string]$Path) {
    for ($try = 1; ; $try++) {
        if (-not (Test-Path -LiteralPath $Path)) { return }
        try {
            Remove-Item -LiteralPath $Path -Recurse -Force
            return
        } catch {
            if ($try -ge 60) { throw }
            Start-Sleep -Seconds 1
        }
    }
}
try {
    $vm = Get-HpVm $VmId
    $state = $vm.State.ToString()
    if ($state -eq 'Saved') { Hyper-V\Remove-VMSavedState -VM $vm }
    elseif ($state -ne 'Off') { Hyper-V\Stop-VM -VM $vm -TurnOff -Force }
    $disks = @(Hyper-V\Get-VMHardDiskDrive -VM $vm | ForEach-Object { [string]$_.Path })
    Hyper-V\Remove-VM -VM $vm -Force
    foreach ($d in $disks) { Remove-HpPath $d }
    Remove-HpPath $InstanceDir
    Write-HpResult ([ordered]@{ removedDisks = $disks })
} catch {
    Exit-HpException $_
}
