namespace ParallelMap.Commands
{
    /// <summary>
    /// The scripts a worker process runs: pure PowerShell, with nothing of this module loaded in
    /// the child, so that any runspace that can run a script (a child process today, a remote
    /// session next) is driven the same way.
    /// </summary>
    internal static class ProcessScripts
    {
        /// <summary>
        /// Run once per child, in its global scope: functions, location, the relay the item
        /// script reports terminating errors to, modules, then the variables (preferences last of
        /// all, so that an ErrorActionPreference of Stop does not change how the set-up runs).
        /// </summary>
        internal const string Setup = @"param($__pmFunctions, $__pmDirectory, $__pmModules, $__pmVariables, $__pmScriptBlocks)
$global:__pmSaved = @{ v = @{}; f = @{} }
foreach ($__pmName in $__pmFunctions.Keys) {
    $global:__pmSaved.f[$__pmName] = (Get-Item -LiteralPath ('function:global:' + $__pmName) -ErrorAction Ignore).ScriptBlock
    Set-Item -LiteralPath ('function:global:' + $__pmName) -Value ([scriptblock]::Create($__pmFunctions[$__pmName]))
}
if ($__pmDirectory -and (Test-Path -LiteralPath $__pmDirectory -PathType Container)) { Set-Location -LiteralPath $__pmDirectory }
$global:__pmRelay = New-Object psobject
Add-Member -InputObject $global:__pmRelay -MemberType ScriptMethod -Name Fail -Value { param($e) if ($null -eq $global:__pmCaught) { $global:__pmCaught = $e } }
foreach ($__pmName in $__pmModules) { Import-Module -Name $__pmName -Global -ErrorAction Stop }
foreach ($__pmName in @($__pmScriptBlocks.Keys) + @($__pmVariables.Keys)) {
    $__pmOld = Get-Variable -Name $__pmName -Scope Global -ErrorAction Ignore
    if (-not $global:__pmSaved.v.ContainsKey($__pmName)) { $global:__pmSaved.v[$__pmName] = if ($__pmOld) { @{ Value = $__pmOld.Value } } else { $null } }
}
foreach ($__pmName in $__pmScriptBlocks.Keys) { Set-Variable -Name $__pmName -Value ([scriptblock]::Create($__pmScriptBlocks[$__pmName])) -Scope Global }
foreach ($__pmName in $__pmVariables.Keys) { Set-Variable -Name $__pmName -Value $__pmVariables[$__pmName] -Scope Global }
Remove-Variable -Name __pmFunctions, __pmDirectory, __pmModules, __pmVariables, __pmScriptBlocks, __pmName, __pmOld -Scope Global -ErrorAction SilentlyContinue
";

        /// <summary>
        /// Undoes what the last <see cref="Setup"/> set (variables, preferences, functions), so that
        /// a pooled remote runspace goes back to its pool as the pool's set-up left it: a value
        /// that existed before is put back, one that did not is removed.
        /// </summary>
        internal const string Reset = @"$__pmSavedNow = $global:__pmSaved
if ($null -ne $__pmSavedNow) {
    foreach ($__pmPair in $__pmSavedNow.v.GetEnumerator()) {
        if ($null -eq $__pmPair.Value) { Remove-Variable -Name $__pmPair.Key -Scope Global -Force -ErrorAction Ignore }
        else { Set-Variable -Name $__pmPair.Key -Value $__pmPair.Value.Value -Scope Global -Force }
    }
    foreach ($__pmPair in $__pmSavedNow.f.GetEnumerator()) {
        if ($null -eq $__pmPair.Value) { Remove-Item -LiteralPath ('function:global:' + $__pmPair.Key) -Force -ErrorAction Ignore }
        else { Set-Item -LiteralPath ('function:global:' + $__pmPair.Key) -Value $__pmPair.Value }
    }
}
Remove-Variable -Name __pmSaved, __pmSavedNow, __pmPair -Scope Global -ErrorAction Ignore
";

        /// <summary>
        /// The one long-lived pipeline of a child: each input object is a batch (an array) of
        /// items; each item runs through one steppable pipeline of the user's script and is
        /// answered with exactly one output object, <c>@('k', outputs...)</c>, written after
        /// every stream record the item wrote, so the client attributes records by order alone.
        /// An item that ended with a terminating error is answered <c>@('f', outputs...)</c>
        /// instead, and that error is the last error record before it (an error record alone
        /// cannot say whether it was terminating; the order can).
        /// <c>'r'</c> says the pipeline is ready, <c>'b', message</c> that the script's begin
        /// block failed, <c>'e', outputs...</c> carries its end block's outputs. A terminating
        /// error of the item (caught by the relay) is written to the error stream before 'k',
        /// in a scope of its own so that the caller's ErrorActionPreference of Stop does not turn
        /// it into a failure of this driver. 'exit' in the item unwinds this whole pipeline: the
        /// client learns its code from the host call it causes.
        /// </summary>
        internal const string Driver = @"param($__pmText)
$__pmBlock = [scriptblock]::Create($__pmText)
$__pmPipe = { & $__pmBlock }.GetSteppablePipeline()
try { $__pmPipe.Begin($true) }
catch { ,([object[]]@('b', [string]$_)); return }
$__pmDone = [object[]]@('k')
,([object[]]@('r'))
foreach ($__pmBatch in $input) {
    foreach ($__pmItem in $__pmBatch) {
        $global:__pmCaught = $null
        $__pmFailure = $null
        $__pmOut = $null
        try {
            if ($null -eq $__pmPipe) {
                $__pmPipe = { & $__pmBlock }.GetSteppablePipeline()
                $__pmPipe.Begin($true)
            }
            $__pmOut = $__pmPipe.Process($__pmItem)
        }
        catch {
            $__pmFailure = $_
            try { $__pmPipe.Dispose() } catch { }
            $__pmPipe = $null
        }
        if ($null -ne $global:__pmCaught) { $__pmFailure = $global:__pmCaught }
        $__pmKind = 'k'
        if ($null -ne $__pmFailure) {
            & { $ErrorActionPreference = 'Continue'; Write-Error -ErrorRecord $__pmFailure }
            $__pmKind = 'f'
        }
        if ($null -eq $__pmOut) { if ($__pmKind -eq 'k') { ,$__pmDone } else { ,([object[]]@('f')) } }
        else { ,([object[]](@($__pmKind) + $__pmOut)) }
    }
}
$__pmEnd = @()
if ($null -ne $__pmPipe) { $__pmEnd = $__pmPipe.End(); $__pmPipe.Dispose() }
,([object[]](@('e') + $__pmEnd))
";
    }
}
