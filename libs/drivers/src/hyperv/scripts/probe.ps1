# Is Hyper-V usable here, and which base disks can VMs be created from?
param(
    [Parameter(Mandatory = $true)][string]$TemplateDir
)
. (Join-Path $PSScriptRoot 'hyperv-common.ps1')
try {
    $os = [Environment]::OSVersion.Version
    $module = @(Get-Module -ListAvailable -Name 'Hyper-V')
    $computer = Get-CimInstance -ClassName 'Win32_ComputerSystem'
    $vmms = Get-Service -Name 'vmms' -ErrorAction SilentlyContinue
    $result = [ordered]@{
        build = [int]$os.Build
        osVersion = $os.ToString()
        moduleAvailable = ($module.Count -gt 0)
        hypervisorPresent = [bool]$computer.HypervisorPresent
        vmmsRunning = ($null -ne $vmms -and $vmms.Status.ToString() -eq 'Running')
        hostVersion = ''
        templates = @()
    }
    if ($result.moduleAvailable -and $result.vmmsRunning) {
        $vmHost = Hyper-V\Get-VMHost
        $result.hostVersion = [string]$vmHost.Version
    }
    if (Test-Path -LiteralPath $TemplateDir -PathType Container) {
        $result.templates = @(Get-ChildItem -LiteralPath $TemplateDir -Filter '*.vhdx' -File | ForEach-Object {
            [ordered]@{ name = $_.BaseName; path = $_.FullName; sizeBytes = [int64]$_.Length }
        })
    }
    Write-HpResult $result
} catch {
    Exit-HpException $_
}
