# A Generation 2 VM on a differencing disk whose parent is the template's base VHDX: seconds
# instead of a copy, and the base stays read-only for every VM made from it.
param(
    [Parameter(Mandatory = $true)][string]$Name,
    [Parameter(Mandatory = $true)][string]$BaseVhdx,
    [Parameter(Mandatory = $true)][string]$InstanceDir,
    [Parameter(Mandatory = $true)][int]$ProcessorCount,
    [Parameter(Mandatory = $true)][int64]$MemoryBytes,
    [Parameter(Mandatory = $true)][string]$GuestOs,
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
    # Generation 2 boots with Secure Boot against Microsoft's Windows keys; Linux loaders are
    # signed by the UEFI CA.
    if ($GuestOs -eq 'linux') { Hyper-V\Set-VMFirmware -VM $vm -SecureBootTemplate 'MicrosoftUEFICertificateAuthority' }
    # Checkpoints only when asked for (Vagrant does the same; the switch is missing before
    # Windows Server 2019), and Standard ones so a restore needs no VSS inside the guest.
    $setVm = @{ VM = $vm; CheckpointType = 'Standard' }
    if ((Get-Command 'Hyper-V\Set-VM').Parameters.ContainsKey('AutomaticCheckpointsEnabled')) { $setVm.AutomaticCheckpointsEnabled = $false }
    Hyper-V\Set-VM @setVm
    Write-HpResult (ConvertTo-HpVm (Get-HpVm $vm.Id.ToString()))
} catch {
    Exit-HpException $_
}
