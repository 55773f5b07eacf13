# A guest shutdown through the integration services, given TimeoutSeconds; then the plug is
# pulled (-TurnOff). -TurnOff alone pulls it at once. A saved VM loses its saved state.
param(
    [Parameter(Mandatory = $true)][guid]$VmId,
    [Parameter(Mandatory = $true)][int]$TimeoutSeconds,
    [switch]$TurnOff
)
. (Join-Path $PSScriptRoot 'hyperv-common.ps1')
try {
    $vm = Get-HpVm $VmId
    $state = $vm.State.ToString()
    $escalated = $false
    if ($state -eq 'Saved') {
        Hyper-V\Remove-VMSavedState -VM $vm
    } elseif ($state -ne 'Off') {
        $graceful = (-not $TurnOff) -and ($state -eq 'Running')
        if ($graceful) {
            # As a job, so the wait has our deadline and not Stop-VM's own five minutes.
            $job = Hyper-V\Stop-VM -VM $vm -Force -AsJob
            $done = Wait-Job -Job $job -Timeout $TimeoutSeconds
            if ($null -eq $done) {
                Stop-Job -Job $job
                $escalated = $true
            }
            Remove-Job -Job $job -Force
        }
        if ((-not $graceful) -or $escalated -or ((Get-HpVm $VmId).State.ToString() -ne 'Off')) {
            Hyper-V\Stop-VM -VM $vm -TurnOff -Force
        }
    }
    $out = ConvertTo-HpVm (Get-HpVm $VmId)
    $out.escalated = $escalated
    Write-HpResult $out
} catch {
    Exit-HpException $_
}
