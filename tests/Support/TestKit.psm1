# Helpers the Pester files share: a pipeline run in a runspace of its own (to stop it as Ctrl-C
# would), and waiting for a condition.

function Wait-Until {
    param([scriptblock] $Condition, [int] $Seconds = 60, [int] $PollMilliseconds = 20)
    $deadline = [datetime]::UtcNow.AddSeconds($Seconds)
    while (-not (& $Condition)) {
        if ([datetime]::UtcNow -gt $deadline) { throw "condition not met in $Seconds s: $Condition" }
        Start-Sleep -Milliseconds $PollMilliseconds
    }
}

# One script in a runspace of its own, with the module imported: a multi-statement batch has
# PowerShell read variables on a pool thread, which crashes the host when the runspace closes
# under it. Stop it with $p.PowerShell.Stop() (what Ctrl-C does), then Stop-Pipeline.
function Start-Pipeline {
    param([Parameter(Mandatory)] [string] $ModulePath, [Parameter(Mandatory)] [string] $Script, [hashtable] $Variables = @{})
    $rs = [runspacefactory]::CreateRunspace()
    $rs.Open()
    foreach ($k in $Variables.Keys) { $rs.SessionStateProxy.SetVariable($k, $Variables[$k]) }
    $ps = [powershell]::Create()
    $ps.Runspace = $rs
    $null = $ps.AddScript("Import-Module '$ModulePath'`n$Script")
    $async = $ps.BeginInvoke()
    [pscustomobject]@{ PowerShell = $ps; Async = $async; Runspace = $rs }
}

function Stop-Pipeline {
    param($Pipeline)
    $Pipeline.PowerShell.Dispose()
    $Pipeline.Runspace.Dispose()
}

Export-ModuleMember -Function Wait-Until, Start-Pipeline, Stop-Pipeline
