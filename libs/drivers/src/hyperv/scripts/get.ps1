# One VM by GUID.
param(
    [Parameter(Mandatory = $true)][guid]$VmId
)
. (Join-Path $PSScriptRoot 'hyperv-common.ps1')
try {
    Write-HpResult (ConvertTo-HpVm (Get-HpVm $VmId))
} catch {
    Exit-HpException $_
}
