#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# -Isolation Process: each worker is a child PowerShell process (real ones: these tests start
# them). The behaviours both kinds share run once per kind (-ForEach), the crash domain ones
# under Process only. Starting a child takes seconds on a loaded machine: runs here are small.

BeforeDiscovery {
    $kinds = @(@{ Isolation = 'Runspace' }, @{ Isolation = 'Process' })
}

BeforeAll {
    $modulePath = if ($env:PARALLELMAP_MODULE) { $env:PARALLELMAP_MODULE } else { Join-Path $PSScriptRoot '../out/ParallelMap/ParallelMap.psd1' }
    $modulePath = (Resolve-Path $modulePath).Path
    Import-Module $modulePath -Force

    function New-TempFolder {
        $d = Join-Path ([System.IO.Path]::GetTempPath()) ('pm-pi-' + [guid]::NewGuid().ToString('N'))
        $null = New-Item -ItemType Directory -Path $d
        $d
    }

    # The live child processes of this process (the worker processes), by parent PID.
    function Get-ChildProcessIds {
        if ($IsWindows) {
            @(Get-CimInstance Win32_Process -Filter "ParentProcessId = $PID" | ForEach-Object ProcessId)
        }
        else {
            @(Get-ChildItem /proc -Directory -ErrorAction SilentlyContinue | Where-Object Name -match '^\d+$' | ForEach-Object {
                    $stat = try { [IO.File]::ReadAllText("/proc/$($_.Name)/stat") } catch { $null }
                    # Fields after the command name '(...)': state, ppid.
                    if ($stat -and $stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')[1] -eq "$PID") { [int]$_.Name }
                })
        }
    }

    function Wait-Until([scriptblock] $Condition, [int] $Seconds = 60) {
        $deadline = [datetime]::UtcNow.AddSeconds($Seconds)
        while (-not (& $Condition)) {
            if ([datetime]::UtcNow -gt $deadline) { throw "condition not met in $Seconds s: $Condition" }
            Start-Sleep -Milliseconds 50
        }
    }

    function Start-Pipeline([string] $Script) {
        $rs = [runspacefactory]::CreateRunspace()
        $rs.Open()
        $ps = [powershell]::Create()
        $ps.Runspace = $rs
        $null = $ps.AddScript("Import-Module '$modulePath'`n$Script")
        $async = $ps.BeginInvoke()
        [pscustomobject]@{ PowerShell = $ps; Async = $async; Runspace = $rs }
    }

    $baseline = Get-ChildProcessIds
}

Describe 'Behaviours of both isolation kinds (<Isolation>)' -ForEach $kinds {
    It 'keeps input order with -Ordered' {
        $r = 1..30 | Invoke-ParallelMap -Isolation $Isolation -ThrottleLimit 2 -Ordered { $_ * 2 }
        $r | Should -Be (1..30 | ForEach-Object { $_ * 2 })
    }

    It 'runs the initialization and cleanup scripts once per worker' {
        $r = 1..12 | Invoke-ParallelMap -Isolation $Isolation -ThrottleLimit 2 -InitializationScript {
            $global:wid = [guid]::NewGuid().ToString(); $global:inits = 1 + [int]$global:inits
        } -CleanupScript { "cleanup:${wid}:$inits" } { "${wid}:$inits" }
        $items = @($r | Where-Object { $_ -notlike 'cleanup:*' })
        $cleanups = @($r | Where-Object { $_ -like 'cleanup:*' })
        $items.Count | Should -Be 12
        $workers = @($items | Sort-Object -Unique)
        $workers | ForEach-Object { $_ | Should -BeLike '*:1' }
        # Every worker cleans up once, also one that got no item.
        $cleaned = @($cleanups | ForEach-Object { $_.Substring(8) })
        $cleaned | ForEach-Object { $_ | Should -BeLike '*:1' }
        @($cleaned | Sort-Object -Unique).Count | Should -Be $cleaned.Count
        $cleaned.Count | Should -BeLessOrEqual 2
        $workers | ForEach-Object { $_ | Should -BeIn $cleaned }
    }

    It 'brings -Variable, $using:, -Function and -Module into every worker' {
        $folder = New-TempFolder
        try {
            Set-Content -Path (Join-Path $folder 'PiMod.psm1') -Value 'function Get-PiTriple($x) { 3 * $x }'
            function Get-PiPlusOne($x) { $x + 1 }
            $offset = 100
            $r = 1..4 | Invoke-ParallelMap -Isolation $Isolation -ThrottleLimit 2 -Ordered -Variable @{ factor = 10 } -Function Get-PiPlusOne -Module (Join-Path $folder 'PiMod.psm1') {
                (Get-PiTriple (Get-PiPlusOne ($_ * $factor))) + $using:offset
            }
            $r | Should -Be 133, 163, 193, 223
        }
        finally { Remove-Item $folder -Recurse -Force }
    }

    It 'writes a failed item''s error with the input as TargetObject, and every stream with it' {
        $r = 1..4 | Invoke-ParallelMap -Isolation $Isolation -ThrottleLimit 2 {
            Write-Warning "warn $_"
            if ($_ -eq 3) { throw "bad $_" }
            $_
        } -ErrorVariable errs -ErrorAction SilentlyContinue -WarningVariable warns -WarningAction SilentlyContinue
        ($r | Sort-Object) | Should -Be 1, 2, 4
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -Be 'bad 3'
        $errs[0].TargetObject | Should -Be 3
        $errs[0].Exception.Message | Should -Be 'bad 3'
        ($warns | ForEach-Object Message | Sort-Object) | Should -Be 'warn 1', 'warn 2', 'warn 3', 'warn 4'
    }

    It 'times out a blocked item with ItemTimedOut; the others go on' {
        $r = 1..5 | Invoke-ParallelMap -Isolation $Isolation -ThrottleLimit 2 -TimeoutSeconds 2 { if ($_ -eq 2) { Start-Sleep -Seconds 3600 }; $_ } -ErrorVariable errs -ErrorAction SilentlyContinue
        ($r | Sort-Object) | Should -Be 1, 3, 4, 5
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'ItemTimedOut,*'
        $errs[0].TargetObject | Should -Be 2
    }

    It 'forwards a non-terminating error with the input as target; the item goes on' {
        $r = 1..3 | Invoke-ParallelMap -Isolation $Isolation -ThrottleLimit 2 { if ($_ -eq 2) { Write-Error "soft $_" -ErrorAction Continue }; "out$_" } -ErrorVariable errs -ErrorAction SilentlyContinue
        ($r | Sort-Object) | Should -Be 'out1', 'out2', 'out3'
        $errs.Count | Should -Be 1
        $errs[0].TargetObject | Should -Be 2
        $errs[0].Exception.Message | Should -Be 'soft 2'
    }

    It 'retries a failed item' {
        $folder = New-TempFolder
        try {
            $r = 1..3 | Invoke-ParallelMap -Isolation $Isolation -ThrottleLimit 2 -RetryCount 2 -RetryDelaySeconds 0 {
                $mark = Join-Path $using:folder "$_"
                if ($_ -eq 2 -and -not (Test-Path $mark)) { $null = New-Item $mark; throw 'first attempt' }
                "$_ ok"
            }
            ($r | Sort-Object) | Should -Be '1 ok', '2 ok', '3 ok'
        }
        finally { Remove-Item $folder -Recurse -Force }
    }

    It 'ends the run with -ErrorAction Stop' {
        { 1..20 | Invoke-ParallelMap -Isolation $Isolation -ThrottleLimit 2 -ErrorAction Stop { if ($_ -eq 2) { throw 'stop here' }; $_ } } | Should -Throw '*stop here*'
    }

    It 'stops promptly on Ctrl-C' {
        $folder = New-TempFolder
        try {
            $p = Start-Pipeline "1..50 | Invoke-ParallelMap -Isolation $Isolation -ThrottleLimit 2 { `$null = New-Item (Join-Path '$folder' `"`$_`"); Start-Sleep -Seconds 3600 }"
            Wait-Until { @(Get-ChildItem $folder).Count -ge 2 } -Seconds 120
            $sw = [System.Diagnostics.Stopwatch]::StartNew()
            $p.PowerShell.Stop()
            $sw.Elapsed.TotalSeconds | Should -BeLessThan 15
            $p.PowerShell.Dispose(); $p.Runspace.Dispose()
        }
        finally { Remove-Item $folder -Recurse -Force }
    }

    It 'records every item of a resumable batch' {
        $cp = Join-Path (New-TempFolder) 'cp'
        try {
            $summary = 'a', 'b', 'c', 'd' | Start-ResumableBatch -Path $cp -Isolation $Isolation -ThrottleLimit 2 { if ($_ -eq 'c') { throw 'no c' }; $_.ToUpper() } -ErrorAction SilentlyContinue
            $summary.Done | Should -Be 3
            $summary.Failed | Should -Be 1
            (Receive-ResumableBatch $cp | Sort-Object) | Should -Be 'A', 'B', 'D'
        }
        finally { Remove-Item (Split-Path $cp) -Recurse -Force }
    }

    It 'runs the item of Invoke-ParallelRun' {
        $r = Invoke-ParallelRun -Isolation $Isolation { 'x' }, { throw 'y' } -PassThru -ErrorAction SilentlyContinue -ErrorVariable errs
        $errs.Count | Should -Be 1
        $errs[0].Exception.Message | Should -Be 'y'
    }
}

Describe 'Process isolation: a worker process that dies' {
    It 'fails only the item of a worker <Name> with WorkerProcessExited, and a retry recovers it' -ForEach @(
        @{ Name = 'killed with SIGKILL'; Kill = '[System.Diagnostics.Process]::GetCurrentProcess().Kill()'; Says = '*signal 9*' }
        @{ Name = 'that calls exit 3'; Kill = 'exit 3'; Says = '*exit 3*' }
        @{ Name = 'crashed by a fatal runtime error'; Kill = '[Environment]::FailFast(''native crash'')'; Says = '*exit code*' }
    ) {
        $r = 1..5 | Invoke-ParallelMap -Isolation Process -ThrottleLimit 2 -Ordered ([scriptblock]::Create("if (`$_ -eq 3) { $Kill }; `$_")) -ErrorVariable errs -ErrorAction SilentlyContinue
        $r | Should -Be 1, 2, 4, 5
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'WorkerProcessExited,*'
        $errs[0].TargetObject | Should -Be 3
        $errs[0].Exception.Message | Should -BeLike $Says

        $folder = New-TempFolder
        try {
            $script = [scriptblock]::Create("`$m = Join-Path '$folder' `"`$_`"; if (`$_ -eq 3 -and -not (Test-Path `$m)) { `$null = New-Item `$m; $Kill }; `$_")
            $r = 1..5 | Invoke-ParallelMap -Isolation Process -ThrottleLimit 2 -Ordered -RetryCount 1 -RetryDelaySeconds 0 $script
            $r | Should -Be 1, 2, 3, 4, 5
        }
        finally { Remove-Item $folder -Recurse -Force }
    }

    # Regression: PowerShell's client never broke the session of a child that died (it reports
    # the exit as a failed connect, ignored once connected), so disposing the dead child's
    # pipeline waited for ever, and pwsh itself hung at exit closing that runspace: a CI run
    # that never ended. Each death is run in a pwsh of its own, which must then exit.
    It 'leaves no runspace open and lets pwsh exit after a worker <_> ' -ForEach @('crashes', 'is killed', 'times out') {
        . (Join-Path $PSScriptRoot '../tools/Pwsh.ps1')
        $body = switch ($_) {
            'crashes' { '1..4 | Invoke-ParallelMap -Isolation Process -ThrottleLimit 2 { if ($_ -eq 3) { [Environment]::FailFast(''x'') }; $_ } -ErrorAction SilentlyContinue' }
            'is killed' { '1..4 | Invoke-ParallelMap -Isolation Process -ThrottleLimit 2 { if ($_ -eq 3) { Stop-Process -Id $PID -Force }; $_ } -ErrorAction SilentlyContinue' }
            'times out' { '1..4 | Invoke-ParallelMap -Isolation Process -ThrottleLimit 2 -TimeoutSeconds 2 { if ($_ -eq 3) { Start-Sleep 300 }; $_ } -ErrorAction SilentlyContinue' }
        }
        $script = "Import-Module '$modulePath'; `$r = $body; 'RESULTS ' + ((`$r | Sort-Object) -join ','); Start-Sleep -Milliseconds 500; 'OPEN ' + @(Get-Runspace | Where-Object { `$_.RunspaceStateInfo.State -eq 'Opened' -and `$_.GetType().Name -ne 'LocalRunspace' }).Count"
        $psi = [System.Diagnostics.ProcessStartInfo]::new((Get-PwshPath))
        foreach ($a in '-NoProfile', '-NonInteractive', '-Command', $script) { $psi.ArgumentList.Add($a) }
        $psi.RedirectStandardOutput = $true
        $psi.UseShellExecute = $false
        $p = [System.Diagnostics.Process]::Start($psi)
        try {
            $out = $p.StandardOutput.ReadToEndAsync()
            # A generous bound: this detects a hang, it measures no speed.
            $exited = $p.WaitForExit(120000)
            $exited | Should -BeTrue -Because 'pwsh must exit once the run is over'
            $text = $out.Result
            $text | Should -Match 'RESULTS 1,2,4\b'
            $text | Should -Match 'OPEN 0\b'
        }
        finally {
            if (-not $p.HasExited) { $p.Kill($true) }
            $p.Dispose()
        }
    }

    It 'records a killed item as failed in a resumable batch, and done after its retry' {
        $cp = Join-Path (New-TempFolder) 'cp'
        try {
            $summary = 'a', 'b', 'c' | Start-ResumableBatch -Path $cp -Isolation Process -ThrottleLimit 1 { if ($_ -eq 'b') { exit 4 }; $_ } -ErrorAction SilentlyContinue
            $summary.Done | Should -Be 2
            $summary.Failed | Should -Be 1
            (Receive-ResumableBatch $cp -Failed).Key | Should -Be 'b'
        }
        finally { Remove-Item (Split-Path $cp) -Recurse -Force }
    }
}

Describe 'Process isolation: recycling' {
    It 'replaces a worker process after -MaxItemsPerWorker items' {
        $r = 1..7 | Invoke-ParallelMap -Isolation Process -ThrottleLimit 1 -MaxItemsPerWorker 3 -Ordered { $PID }
        $r.Count | Should -Be 7
        $pids = @($r | Select-Object -Unique)
        $pids.Count | Should -Be 3
        @($r | Group-Object | ForEach-Object Count) | Should -Be 3, 3, 1
    }

    It 'replaces a worker process whose working set grew past -MaxWorkerMemoryMB' {
        # A child's working set is tens of MB at start: a 1 MB cap recycles it after every check.
        $r = 1..3 | Invoke-ParallelMap -Isolation Process -ThrottleLimit 1 -MaxWorkerMemoryMB 1 -BatchSize 1 { Start-Sleep -Milliseconds 300; $PID }
        @($r | Select-Object -Unique).Count | Should -BeGreaterThan 1
    }

    It 'refuses the recycling limits without -Isolation Process' {
        { 1 | Invoke-ParallelMap -MaxItemsPerWorker 2 { $_ } } | Should -Throw -ErrorId 'ProcessIsolationRequired,*'
    }
}

Describe 'Process isolation: what crosses the boundary' {
    It 'copies values (a change in the worker does not reach the caller)' {
        $list = [System.Collections.ArrayList]::new()
        $null = 1..3 | Invoke-ParallelMap -Isolation Process -ThrottleLimit 1 -Variable @{ list = $list } { $null = $list.Add($_) }
        $list.Count | Should -Be 0
    }

    It 'refuses a -Variable that holds a live object with VariableNotSerializable' {
        $rs = [runspacefactory]::CreateRunspace()
        try {
            { 1 | Invoke-ParallelMap -Isolation Process -Variable @{ rs = $rs } { $_ } } | Should -Throw -ErrorId 'VariableNotSerializable,*'
        }
        finally { $rs.Dispose() }
    }

    It 'isolates a thread-unsafe static .NET type that breaks under runspaces' {
        $source = @'
public static class PiUnsafeCounter {
    private static int busy;
    // Not thread-safe by design: two callers at once see each other.
    public static string Use() {
        if (System.Threading.Interlocked.Exchange(ref busy, 1) == 1) throw new System.InvalidOperationException("used concurrently");
        System.Threading.Thread.Sleep(1500);
        busy = 0;
        return "ok";
    }
}
'@
        $init = { Add-Type -TypeDefinition $using:source }
        $script = { [PiUnsafeCounter]::Use() }
        $null = 1..4 | Invoke-ParallelMap -Isolation Runspace -ThrottleLimit 4 -InitializationScript $init $script -ErrorVariable rsErrors -ErrorAction SilentlyContinue
        $rsErrors.Count | Should -BeGreaterThan 0
        $r = 1..4 | Invoke-ParallelMap -Isolation Process -ThrottleLimit 2 -InitializationScript $init $script -ErrorVariable procErrors -ErrorAction SilentlyContinue
        $procErrors.Count | Should -Be 0
        $r | Should -Be 'ok', 'ok', 'ok', 'ok'
    }
}

Describe 'Process isolation: no child process is left' {
    It 'after <Name>' -ForEach @(
        @{ Name = 'success'; Script = { 1..4 | Invoke-ParallelMap -Isolation Process -ThrottleLimit 2 { $_ } } }
        @{ Name = 'failures'; Script = { 1..4 | Invoke-ParallelMap -Isolation Process -ThrottleLimit 2 { throw 'x' } -ErrorAction SilentlyContinue } }
        @{ Name = 'a timeout'; Script = { 1..2 | Invoke-ParallelMap -Isolation Process -ThrottleLimit 2 -TimeoutSeconds 1 { Start-Sleep 3600 } -ErrorAction SilentlyContinue } }
        @{ Name = '-ErrorAction Stop'; Script = { try { 1..4 | Invoke-ParallelMap -Isolation Process -ThrottleLimit 2 -ErrorAction Stop { throw 'x' } } catch { } } }
    ) {
        $null = & $Script
        Wait-Until { @(Get-ChildProcessIds | Where-Object { $_ -notin $baseline }).Count -eq 0 } -Seconds 15
    }

    It 'after Ctrl-C' {
        $folder = New-TempFolder
        try {
            $p = Start-Pipeline "1..50 | Invoke-ParallelMap -Isolation Process -ThrottleLimit 2 { `$null = New-Item (Join-Path '$folder' `"`$_`"); Start-Sleep -Seconds 3600 }"
            Wait-Until { @(Get-ChildItem $folder).Count -ge 2 } -Seconds 120
            @(Get-ChildProcessIds | Where-Object { $_ -notin $baseline }).Count | Should -Be 2
            $p.PowerShell.Stop()
            $p.PowerShell.Dispose(); $p.Runspace.Dispose()
            Wait-Until { @(Get-ChildProcessIds | Where-Object { $_ -notin $baseline }).Count -eq 0 } -Seconds 15
        }
        finally { Remove-Item $folder -Recurse -Force }
    }
}

Describe 'A pool of worker processes (New-ParallelPool -Isolation Process)' {
    BeforeAll {
        $baseline = @(Get-ChildProcessIds)
    }
    AfterEach {
        Get-ParallelPool | Remove-ParallelPool
        Wait-Until { @(Get-ChildProcessIds | Where-Object { $_ -notin $baseline }).Count -eq 0 } -Seconds 15
    }

    It 'starts and sets up each worker process once, reuses them across calls, and ends them at Remove-ParallelPool' {
        $folder = New-TempFolder
        try {
            $pool = New-ParallelPool -Isolation Process -ThrottleLimit 2 -Variable @{ folder = $folder } -InitializationScript { Add-Content -LiteralPath (Join-Path $folder "init-$PID") -Value x }
            $pool.Isolation | Should -Be 'Process'
            $first = @(1..20 | Invoke-ParallelMap -Pool $pool { $PID })
            $second = @(1..20 | Invoke-ParallelMap -Pool $pool { $PID })
            $pids = @($first + $second | Sort-Object -Unique)
            $pids.Count | Should -BeLessOrEqual 2
            $pids | Should -Not -Contain $PID -Because 'items run in worker processes'
            ($second | Sort-Object -Unique) | Should -BeIn $pids
            foreach ($p in $pids) { @(Get-Content -LiteralPath (Join-Path $folder "init-$p")).Count | Should -Be 1 -Because 'a pooled process runs its init once, whatever the calls' }
            $pool.IdleRunspaces | Should -Be $pids.Count

            $children = @(Get-ChildProcessIds | Where-Object { $_ -notin $baseline })
            $children.Count | Should -Be $pids.Count -Because 'the processes outlive the calls'
            Remove-ParallelPool $pool
            Wait-Until { @(Get-ChildProcessIds | Where-Object { $_ -notin $baseline }).Count -eq 0 } -Seconds 15
        }
        finally { Remove-Item -LiteralPath $folder -Recurse -Force }
    }

    It 'gives each call its own variables and location, and none of an earlier call''s' {
        $pool = New-ParallelPool -Isolation Process -ThrottleLimit 1
        $a = New-TempFolder
        $b = New-TempFolder
        try {
            Push-Location $a
            try { $r1 = 1 | Invoke-ParallelMap -Pool $pool -Variable @{ mine = 'one' } { "$mine $((Get-Location).Path) $PID" } }
            finally { Pop-Location }
            Push-Location $b
            try { $r2 = 1 | Invoke-ParallelMap -Pool $pool { "[$mine] $((Get-Location).Path) $PID" } }
            finally { Pop-Location }
            $p1 = ($r1 -split ' ')[-1]
            $r1 | Should -Be "one $((Resolve-Path $a).Path) $p1"
            $r2 | Should -Be "[] $((Resolve-Path $b).Path) $p1" -Because 'the same process, without the first call''s variable, in the second caller''s location'
        }
        finally { Remove-Item -LiteralPath $a, $b -Recurse -Force }
    }

    It 'replaces a worker process that died between calls, and one killed by a timeout' {
        $pool = New-ParallelPool -Isolation Process -ThrottleLimit 1
        $p1 = 1 | Invoke-ParallelMap -Pool $pool { $PID }
        Stop-Process -Id $p1 -Force
        Wait-Until { -not (Get-Process -Id $p1 -ErrorAction Ignore) } -Seconds 15
        $p2 = 1 | Invoke-ParallelMap -Pool $pool { $PID }
        $p2 | Should -Not -Be $p1
        $r = @(1, 2 | Invoke-ParallelMap -Pool $pool -TimeoutSeconds 2 { if ($_ -eq 1) { Start-Sleep 3600 }; $PID } -ErrorVariable ev -ErrorAction SilentlyContinue)
        $ev.Count | Should -Be 1
        $ev[0].FullyQualifiedErrorId | Should -BeLike 'ItemTimedOut*'
        $r.Count | Should -Be 1
        $r[0] | Should -Not -Be $p2 -Because 'the timed-out process was killed and replaced'
        (1 | Invoke-ParallelMap -Pool $pool { $PID }) | Should -Be $r[0] -Because 'the replacement went back to the pool'
    }

    It 'records a resumable batch through the pool''s processes' {
        $cp = Join-Path ([System.IO.Path]::GetTempPath()) ('pm-pool-cp-' + [guid]::NewGuid().ToString('N'))
        try {
            $pool = New-ParallelPool -Isolation Process -ThrottleLimit 2
            $s = 1..10 | ForEach-Object { "k$_" } | Start-ResumableBatch -Path $cp -Pool $pool { "$_ in $PID" }
            $s.Done | Should -Be 10
            $saved = @(Receive-ResumableBatch $cp)
            $saved.Count | Should -Be 10
            $saved | ForEach-Object { [int]($_ -split ' ')[-1] } | Should -Not -Contain $PID
        }
        finally { Remove-Item -LiteralPath $cp -Recurse -Force -ErrorAction Ignore }
    }

    It 'refuses -IdleTimeoutSeconds, and -Isolation or the recycling limits given to a call on the pool' {
        { New-ParallelPool -Isolation Process -IdleTimeoutSeconds 5 } | Should -Throw -ErrorId 'PoolSettingConflict,*'
        $pool = New-ParallelPool -Isolation Process -ThrottleLimit 1
        { 1 | Invoke-ParallelMap -Pool $pool -Isolation Process { $_ } } | Should -Throw -ErrorId 'PoolSettingConflict,*'
        { 1 | Invoke-ParallelMap -Pool $pool -Isolation Process -MaxItemsPerWorker 2 { $_ } } | Should -Throw -ErrorId 'PoolSettingConflict,*'
    }
}
