# A Generation 2 VM on a differencing disk whose parent is the template's base VHDX: seconds
# instead of a copy, and the base stays read-only for every VM made from it.
param(
    [Parameter(Mandatory = $true)][string]$Name,
    [Parameter(Mandatory = $true)][string]$BaseVhdx,
    [Parameter(Mandatory = $true)][string]$InstanceDir,
    [Parameter(Mandatory = $true)][int]$ProcessorCount,
    [Parameter(Mandatory = $true)][int64]$MemoryBytes,
    [string]$SwitchName = ''
)
. (Join-Path $PSScriptRoot 'hyperv-common.ps1')
try {
    if (-not (Test-Path -LiteralPath $BaseVhdx -PathType Leaf)) { Exit-HpError 'TemplateMissing' "base disk $BaseVhdx does not exist" }
    $existing = @(Hyper-V\Get-VM | Where-Object { $_.Name -eq $Name })
    if ($existing.Count -gt 0) { Exit-HpError 'Conflict' "a virtual machine named $Name exists ($($existing[0].Id))" }
    New-Item -ItemType Directory -Force -Path $InstanceDir | Out-Null
    $disk = Join-Path $InstanceDir 'disk.vhdx'
    if (Test-Path -LiteralPath $disk) { Remove-Item -LiteralPath $disk -Force }
    Hyper-V\New-VHD -Path $disk -ParentPath $BaseVhdx -Differencing | Out-Null
    $vmArgs = @{ Name = $Name; Generation = 2; MemoryStartupBytes = $MemoryBytes; VHDPath = $disk; Path = $InstanceDir }
    if ($SwitchName -ne '') { $vmArgs.SwitchName = $SwitchName }
    $vm = Hyper-V\New-VM @vmArgs
    Hyper-V\Set-VMProcessor -VM $vm -Count $ProcessorCount
    Hyper-V\Set-VMMemory -VM $vm -DynamicMemoryEnabled $false -StartupBytes $MemoryBytes
    # Checkpoints only when asked for (Vagrant does the same), and Standard ones so a restore
    # needs no VSS inside the guest.
    Hyper-V\Set-VM -VM $vm -AutomaticCheckpointsEnabled $false -CheckpointType Standard
    Write-HpResult (ConvertTo-HpVm (Get-HpVm $vm.Id.ToString()))
} catch {
    Exit-HpException $_
}
