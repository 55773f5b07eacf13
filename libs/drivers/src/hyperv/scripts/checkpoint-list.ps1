param(
    [Parameter(Mandatory = $true)][guid]$VmId
)
. (Join-Path $PSScriptRoot 'hyperv-common.ps1')
try {
    $vm = Get-HpVm $VmId
    $list = @(Hyper-V\Get-VMSnapshot -VM $vm | ForEach-Object {
        [ordered]@{ name = $_.Name; id = $_.Id.ToString(); createdAt = $_.CreationTime.ToUniversalTime().ToString('o') }
    })
    Write-HpResult $list
} catch {
    Exit-HpException $_
}
