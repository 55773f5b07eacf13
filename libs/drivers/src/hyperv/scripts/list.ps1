# The VMs whose names start with the prefix (Hyperplane's own).
param(
    [Parameter(Mandatory = $true)][string]$NamePrefix
)
. (Join-Path $PSScriptRoot 'hyperv-common.ps1')
try {
    $vms = @(Hyper-V\Get-VM | Where-Object { $_.Name.StartsWith($NamePrefix, [StringComparison]::Ordinal) } | ForEach-Object { ConvertTo-HpVm $_ })
    Write-HpResult $vms
} catch {
    Exit-HpException $_
}
