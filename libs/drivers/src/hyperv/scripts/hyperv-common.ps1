# Dot-sourced by every operation script. Windows PowerShell 5.1 syntax only (no ?? ?. && ||,
# no -AsArray, no -EnumsAsStrings): the agent runs on Windows Server 2016 and later.
# The driver reads one frame from stdout: ===HP-BEGIN-OUTPUT=== <json> ===HP-END-OUTPUT=== or
# ===HP-BEGIN-ERROR=== <json> ===HP-END-ERROR=== (with exit 1); anything around it is noise.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# UTF-8 without a BOM: the console's OEM code page would mangle a path with accents.
[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false
Set-StrictMode -Version 2.0

function Write-HpFrame([string]$Kind, $Value) {
    # -InputObject keeps a one-element array an array (the pipeline would unroll it).
    $json = ConvertTo-Json -InputObject $Value -Depth 6 -Compress
    [Console]::Out.WriteLine("===HP-BEGIN-$Kind===")
    [Console]::Out.WriteLine($json)
    [Console]::Out.WriteLine("===HP-END-$Kind===")
}

function Write-HpResult($Value) {
    Write-HpFrame 'OUTPUT' $Value
}

# Our own refusals: the driver maps Code (NotFound, Conflict) to its error codes.
function Exit-HpError([string]$Code, [string]$Message) {
    Write-HpFrame 'ERROR' ([ordered]@{ code = $Code; message = $Message; fqid = ''; category = '' })
    exit 1
}

# Anything a cmdlet threw: the driver classifies it by FullyQualifiedErrorId and message.
function Exit-HpException($Record) {
    $fqid = [string]$Record.FullyQualifiedErrorId
    $category = [string]$Record.CategoryInfo.Category
    Write-HpFrame 'ERROR' ([ordered]@{ code = 'Failed'; message = $Record.Exception.Message; fqid = $fqid; category = $category })
    exit 1
}

# Found by listing and filtering, not with Get-VM -Id: a missing VM and an unreachable VMMS
# both surface as errors from -Id, and only one of them is NotFound.
function Get-HpVm([string]$VmId) {
    $wanted = [guid]$VmId
    $found = @(Hyper-V\Get-VM | Where-Object { $_.Id -eq $wanted })
    if ($found.Count -eq 0) { Exit-HpError 'NotFound' "no virtual machine with id $VmId" }
    return $found[0]
}

# State by name: 5.1's ConvertTo-Json writes enums as integers, and the integers of the newer
# states differ between Windows versions.
function ConvertTo-HpVm($Vm) {
    $disks = @(Hyper-V\Get-VMHardDiskDrive -VM $Vm | ForEach-Object { [string]$_.Path })
    return [ordered]@{
        id = $Vm.Id.ToString()
        name = $Vm.Name
        state = $Vm.State.ToString()
        generation = [int]$Vm.Generation
        processorCount = [int]$Vm.ProcessorCount
        memoryStartupBytes = [int64]$Vm.MemoryStartup
        path = [string]$Vm.Path
        uptimeSeconds = [int64]$Vm.Uptime.TotalSeconds
        disks = $disks
    }
}
