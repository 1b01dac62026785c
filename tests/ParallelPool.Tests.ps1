#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Runspace pools (New/Get/Remove/Use-ParallelPool and -Pool) against the built module.

BeforeAll {
    $modulePath = if ($env:PARALLELMAP_MODULE) { $env:PARALLELMAP_MODULE } else { Join-Path $PSScriptRoot '../out/ParallelMap/ParallelMap.psd1' }
    Import-Module $modulePath -Force

    # A script in a runspace of its own, started asynchronously, so that a test can stop it as
    # Ctrl-C would, or give up on it when it hangs (a deadlock fails the test instead of hanging it).
    function Start-Pipeline([string] $Script, [hashtable] $Variables = @{}) {
        $rs = [runspacefactory]::CreateRunspace()
        $rs.Open()
        foreach ($k in $Variables.Keys) { $rs.SessionStateProxy.SetVariable($k, $Variables[$k]) }
        $ps = [powershell]::Create()
        $ps.Runspace = $rs
        $null = $ps.AddScript("Import-Module '$modulePath'`n$Script")
        $async = $ps.BeginInvoke()
        [pscustomobject]@{ PowerShell = $ps; Async = $async; Runspace = $rs }
    }

    # Waits (bounded) for a started pipeline's results; a pipeline still running then is stopped and reported.
    function Wait-Pipeline($p, [int] $Seconds = 60) {
        try {
            if (-not $p.Async.AsyncWaitHandle.WaitOne([timespan]::FromSeconds($Seconds))) {
                $p.PowerShell.Stop()
                throw "the pipeline did not finish within $Seconds s (deadlock?)"
            }
            $p.PowerShell.EndInvoke($p.Async)
        } finally {
            $p.PowerShell.Dispose()
            $p.Runspace.Dispose()
        }
    }

    function Wait-Until([scriptblock] $Condition, [int] $Seconds = 30) {
        $deadline = [datetime]::UtcNow.AddSeconds($Seconds)
        while (-not (& $Condition)) {
            if ([datetime]::UtcNow -gt $deadline) { throw "condition not met in $Seconds s: $Condition" }
            Start-Sleep -Milliseconds 20
        }
    }

    function New-Bag { , [System.Collections.Concurrent.ConcurrentBag[object]]::new() }
}

AfterAll {
    Get-ParallelPool | Remove-ParallelPool
}

Describe 'A pool across calls' {
    AfterEach { Get-ParallelPool | Remove-ParallelPool }

    It 'runs the initialization once per runspace, however many calls use the pool' {
        $inits = New-Bag
        $pool = New-ParallelPool -ThrottleLimit 3 -Variable @{ inits = $inits } -InitializationScript { $inits.Add(1); $model = 'M' }
        $all = for ($i = 0; $i -lt 5; $i++) { 1..30 | Invoke-ParallelMap -Pool $pool { "$model$_" } }
        $all.Count | Should -Be 150
        @($all | Where-Object { $_ -notlike 'M*' }).Count | Should -Be 0
        $inits.Count | Should -BeLessOrEqual 3
        $inits.Count | Should -Be $pool.OpenRunspaces
        $pool.ItemsRun | Should -Be 150
    }

    It 'removes what one call made in the global scope before the next call, and keeps what the init made' {
        $pool = New-ParallelPool -ThrottleLimit 2 -InitializationScript { $model = [System.Collections.ArrayList]::new(); $kept = 'init'; function Get-Kept { 'kept' } }
        $null = 1..6 | Invoke-ParallelMap -Pool $pool {
            $global:leak = 1
            Set-Variable -Name leak2 -Value 2 -Scope Global -Option ReadOnly -Force
            function global:Get-Leak { 'leak' }
            $global:kept = 'changed by a call'
            $global:model = 'replaced'
            Write-Error 'an error for $Error' -ErrorAction SilentlyContinue
            $_
        }
        $seen = 1..6 | Invoke-ParallelMap -Pool $pool {
            [pscustomobject]@{
                Leak = [bool](Get-Variable -Name leak, leak2 -ErrorAction Ignore)
                LeakFunction = [bool](Get-Command Get-Leak -ErrorAction Ignore)
                Kept = $kept
                KeptFunction = Get-Kept
                Model = $model.GetType().Name
                Errors = $Error.Count
            }
        }
        $seen.Count | Should -Be 6
        $seen | ForEach-Object {
            $_.Leak | Should -BeFalse
            $_.LeakFunction | Should -BeFalse
            $_.Kept | Should -Be 'init'
            $_.KeptFunction | Should -Be 'kept'
            $_.Model | Should -Be 'ArrayList'
            $_.Errors | Should -Be 0
        }
    }

    It 'applies -Variable and $using: to their own call only' {
        $pool = New-ParallelPool -ThrottleLimit 2 -Variable @{ base = 100 }
        $offset = 5
        $r = 1..4 | Invoke-ParallelMap -Pool $pool -Variable @{ factor = 10 } { $_ * $factor + $using:offset + $base }
        ($r | Sort-Object) | Should -Be 115, 125, 135, 145
        $after = 1..4 | Invoke-ParallelMap -Pool $pool { "$([bool](Get-Variable factor -ErrorAction Ignore)) $([bool](Get-Variable -Name '__pmUsing_*' -ErrorAction Ignore)) $base" }
        $after | Sort-Object -Unique | Should -Be 'False False 100'
    }

    It 'gives each runspace its own copy of a script block in the pool''s -Variable and $using:, never the caller''s' {
        # A script block literal belongs to the runspace that made it; run from the pool's threads
        # as it was, it ran in this runspace: it saw $callerOnly, and at once corrupted this
        # runspace's state (wrong results, "Stack empty", a crash).
        $callerOnly = 'caller'
        $twice = { param($x) "$callerOnly" + ($x * 2) }
        $init = { 'init' }
        $pool = New-ParallelPool -ThrottleLimit 4 -Variable @{ twice = $twice } -InitializationScript { $fromInit = & $using:init }
        $r = 1..2000 | Invoke-ParallelMap -Pool $pool { & $twice $_ }
        $r.Count | Should -Be 2000
        ($r | Measure-Object -Sum).Sum | Should -Be (2 * (1..2000 | Measure-Object -Sum).Sum)
        $seen = 1..4 | Invoke-ParallelMap -Pool $pool { "$fromInit $($twice.GetType().Name)" }
        $seen | Sort-Object -Unique | Should -Be 'init ScriptBlock'
    }

    It 'refuses a script block inside a hashtable given to New-ParallelPool -Variable' {
        { New-ParallelPool -Variable @{ tools = @{ run = { 1 } } } } | Should -Throw -ErrorId 'NestedScriptBlockNotSupported,ParallelMap.Commands.NewParallelPoolCommand'
        @(Get-ParallelPool).Count | Should -Be 0
    }

    It 'applies each call''s preferences to that call only' {
        $pool = New-ParallelPool -ThrottleLimit 1
        $v = 1 | Invoke-ParallelMap -Pool $pool -Verbose { $VerbosePreference.ToString() }
        $q = 1 | Invoke-ParallelMap -Pool $pool { $VerbosePreference.ToString() }
        $v | Should -Be 'Continue'
        $q | Should -Be 'SilentlyContinue'
    }

    It 'gives Invoke-ParallelRun''s script blocks to their call only' {
        $pool = New-ParallelPool -ThrottleLimit 2
        $bag = New-Bag
        Invoke-ParallelRun -Pool $pool -Variable @{ bag = $bag } { $bag.Add('a') }, { $bag.Add('b') }
        ($bag | Sort-Object) | Should -Be 'a', 'b'
        $left = 1..2 | Invoke-ParallelMap -Pool $pool { @(Get-ChildItem function:__pmBlock* -ErrorAction Ignore).Count }
        $left | Should -Be 0, 0
    }

    It 'is listed by Get-ParallelPool with its counts' {
        $pool = New-ParallelPool -ThrottleLimit 2 -IdleTimeoutSeconds 600
        $null = 1..10 | Invoke-ParallelMap -Pool $pool { $_ }
        $listed = Get-ParallelPool -Id $pool.Id
        $listed.Size | Should -Be 2
        $listed.BusyRunspaces | Should -Be 0
        $listed.IdleRunspaces | Should -Be $listed.OpenRunspaces
        $listed.ItemsRun | Should -Be 10
        $listed.IdleTimeout | Should -Be ([timespan]::FromSeconds(600))
        $listed.Created | Should -BeLessOrEqual ([datetime]::Now)
        { Get-ParallelPool -Id 987654 -ErrorAction Stop } | Should -Throw -ErrorId 'PoolNotFound,ParallelMap.Commands.GetParallelPoolCommand'
    }
}

Describe 'Settings that belong to the pool' {
    BeforeAll {
        $pool = New-ParallelPool -ThrottleLimit 2
        function Get-PmPoolHelper { 1 }
    }
    AfterAll { Remove-ParallelPool $pool }

    It 'refuses -<Name> with -Pool' -TestCases @(
        @{ Name = 'Module'; Splat = @{ Module = 'Microsoft.PowerShell.Utility' } }
        @{ Name = 'InitializationScript'; Splat = @{ InitializationScript = { 1 } } }
        @{ Name = 'CleanupScript'; Splat = @{ CleanupScript = { 1 } } }
        @{ Name = 'Function'; Splat = @{ Function = 'Get-PmPoolHelper' } }
        @{ Name = 'ThrottleLimit'; Splat = @{ ThrottleLimit = 3 } }
        @{ Name = 'Isolation'; Splat = @{ Isolation = 'Process' } }
        @{ Name = 'MaxItemsPerWorker'; Splat = @{ Isolation = 'Process'; MaxItemsPerWorker = 5 } }
    ) {
        param($Name, $Splat)
        { 1 | Invoke-ParallelMap -Pool $pool @Splat { $_ } } | Should -Throw -ErrorId 'PoolSettingConflict,ParallelMap.Commands.InvokeParallelMapCommand'
        { Invoke-ParallelRun -Pool $pool @Splat { 1 } } | Should -Throw -ErrorId 'PoolSettingConflict,ParallelMap.Commands.InvokeParallelRunCommand'
        $pool.BusyRunspaces | Should -Be 0
        $pool.ActiveCalls | Should -Be 0
    }

    It 'accepts a -ThrottleLimit within the pool''s size' {
        (1..4 | Invoke-ParallelMap -Pool $pool -ThrottleLimit 1 { $_ } | Sort-Object) | Should -Be 1, 2, 3, 4
    }

    It 'refuses a closed pool' {
        $closed = New-ParallelPool -ThrottleLimit 1
        Remove-ParallelPool $closed
        $closed.IsClosed | Should -BeTrue
        { 1 | Invoke-ParallelMap -Pool $closed { $_ } } | Should -Throw -ErrorId 'PoolClosed,ParallelMap.Commands.InvokeParallelMapCommand'
    }
}

Describe 'Broken runspaces are replaced' {
    AfterEach { Get-ParallelPool | Remove-ParallelPool }

    It 'replaces a runspace whose item timed out, and runs its cleanup script' {
        $inits = New-Bag
        $cleanups = New-Bag
        $pool = New-ParallelPool -ThrottleLimit 1 -Variable @{ inits = $inits; cleanups = $cleanups } -InitializationScript { $inits.Add(1) } -CleanupScript { $cleanups.Add(1) }
        $first = 1 | Invoke-ParallelMap -Pool $pool { [runspace]::DefaultRunspace.InstanceId }
        $err = $null
        $null = 1 | Invoke-ParallelMap -Pool $pool -TimeoutSeconds 0.5 { Start-Sleep -Seconds 30 } -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'ItemTimedOut*'
        $cleanups.Count | Should -Be 1
        $second = 1 | Invoke-ParallelMap -Pool $pool { [runspace]::DefaultRunspace.InstanceId }
        $second | Should -Not -Be $first
        $inits.Count | Should -Be 2
        $pool.OpenRunspaces | Should -Be 1
    }

    It 'stops a pooled call on Ctrl-C promptly, replaces the stopped runspaces and stays usable' {
        $pool = New-ParallelPool -ThrottleLimit 2
        $ids = 1..2 | Invoke-ParallelMap -Pool $pool { Start-Sleep -Milliseconds 200; [runspace]::DefaultRunspace.InstanceId }
        $started = New-Bag
        $p = Start-Pipeline '1..10 | Invoke-ParallelMap -Pool $pool -Variable @{ started = $started } { $started.Add(1); Start-Sleep -Seconds 3600 }' @{ pool = $pool; started = $started }
        Wait-Until { $started.Count -ge 2 }
        $sw = [System.Diagnostics.Stopwatch]::StartNew()
        $p.PowerShell.Stop()
        $sw.Elapsed.TotalSeconds | Should -BeLessThan 10
        $p.PowerShell.Dispose(); $p.Runspace.Dispose()
        Wait-Until { $pool.BusyRunspaces -eq 0 -and $pool.ActiveCalls -eq 0 }
        $after = 1..2 | Invoke-ParallelMap -Pool $pool { Start-Sleep -Milliseconds 200; [runspace]::DefaultRunspace.InstanceId }
        @($after | Where-Object { $ids -contains $_ }).Count | Should -Be 0
        $pool.OpenRunspaces | Should -BeLessOrEqual 2
    }
}

Describe 'Sharing a pool' {
    AfterEach { Get-ParallelPool | Remove-ParallelPool }

    It 'serves two pipelines of different runspaces at once without deadlock' {
        $pool = New-ParallelPool -ThrottleLimit 2
        $a = Start-Pipeline '1..20 | Invoke-ParallelMap -Pool $pool { Start-Sleep -Milliseconds 50; "a$_" }' @{ pool = $pool }
        $b = Start-Pipeline '1..20 | Invoke-ParallelMap -Pool $pool { Start-Sleep -Milliseconds 50; "b$_" }' @{ pool = $pool }
        $ra = Wait-Pipeline $a
        $rb = Wait-Pipeline $b
        $ra.Count | Should -Be 20
        $rb.Count | Should -Be 20
        $pool.OpenRunspaces | Should -BeLessOrEqual 2
    }

    It 'makes a call wait while another holds every place, and lets Ctrl-C end that wait promptly' {
        $pool = New-ParallelPool -ThrottleLimit 1
        $started = New-Bag
        $release = [System.Threading.ManualResetEventSlim]::new()
        $holder = Start-Pipeline '1 | Invoke-ParallelMap -Pool $pool -Variable @{ started = $started; release = $release } { $started.Add(1); $null = $release.Wait(60000); "held" }' @{ pool = $pool; started = $started; release = $release }
        Wait-Until { $started.Count -ge 1 }
        $stopped = Start-Pipeline '1 | Invoke-ParallelMap -Pool $pool { "ran" }' @{ pool = $pool }
        $waiting = Start-Pipeline '1 | Invoke-ParallelMap -Pool $pool { "ran" }' @{ pool = $pool }
        Start-Sleep -Milliseconds 500
        $stopped.Async.IsCompleted | Should -BeFalse
        $waiting.Async.IsCompleted | Should -BeFalse
        $sw = [System.Diagnostics.Stopwatch]::StartNew()
        $stopped.PowerShell.Stop()
        $sw.Elapsed.TotalSeconds | Should -BeLessThan 5
        $stopped.PowerShell.Dispose(); $stopped.Runspace.Dispose()
        $release.Set()
        Wait-Pipeline $holder | Should -Be 'held'
        Wait-Pipeline $waiting | Should -Be 'ran'
        $pool.ActiveCalls | Should -Be 0
        $pool.OpenRunspaces | Should -Be 1
    }

    It 'runs a pooled call nested in an item of another call on the same pool without deadlock' {
        $p = Start-Pipeline @'
$pool = New-ParallelPool -ThrottleLimit 2 -Module $modulePath
1..4 | Invoke-ParallelMap -Pool $pool -Variable @{ pool = $pool } { $x = $_; (1..3 | Invoke-ParallelMap -Pool $pool { $_ * 10 } | Measure-Object -Sum).Sum + $x }
Remove-ParallelPool $pool
'@ @{ modulePath = $modulePath }
        $r = Wait-Pipeline $p
        ($r | Sort-Object) | Should -Be 61, 62, 63, 64
    }

    It 'runs two pooled calls in one pipeline (the second nested in the first''s thread) without deadlock' {
        $p = Start-Pipeline @'
$pool = New-ParallelPool -ThrottleLimit 2
1..6 | Invoke-ParallelMap -Pool $pool { $_ * 2 } | Invoke-ParallelMap -Pool $pool { $_ + 1 }
Remove-ParallelPool $pool
'@
        $r = Wait-Pipeline $p
        ($r | Sort-Object) | Should -Be 3, 5, 7, 9, 11, 13
    }
}

Describe 'No runspace left behind' {
    It 'closes every runspace on Remove-ParallelPool, with pipeline input' {
        $before = @(Get-Runspace).Count
        $pools = 1..2 | ForEach-Object { New-ParallelPool -ThrottleLimit 2 }
        foreach ($pool in $pools) { $null = 1..8 | Invoke-ParallelMap -Pool $pool { $_ } }
        @(Get-Runspace).Count | Should -BeGreaterThan $before
        $pools | Remove-ParallelPool
        @(Get-Runspace).Count | Should -Be $before
        @(Get-ParallelPool | Where-Object { $pools -contains $_ }).Count | Should -Be 0
    }

    It 'writes what the cleanup scripts write on Remove-ParallelPool' {
        $pool = New-ParallelPool -ThrottleLimit 1 -CleanupScript { 'cleaned' }
        $null = 1 | Invoke-ParallelMap -Pool $pool { $_ }
        Remove-ParallelPool $pool | Should -Be 'cleaned'
    }

    It 'closes the pools of a runspace that removes the module' {
        $p = Start-Pipeline @'
$pool = New-ParallelPool -ThrottleLimit 2
$null = 1..8 | Invoke-ParallelMap -Pool $pool { $_ }
$open = @(Get-Runspace -Name 'ParallelPool*').Count
Remove-Module ParallelMap
[pscustomobject]@{ Open = $open; After = @(Get-Runspace -Name ('ParallelPool' + $pool.Id)).Count; Closed = $pool.IsClosed }
'@
        $r = Wait-Pipeline $p
        $r.Open | Should -BeGreaterThan 0
        $r.After | Should -Be 0
        $r.Closed | Should -BeTrue
    }

    It 'closes idle runspaces after the idle timeout, and opens them again on demand' {
        $before = @(Get-Runspace).Count
        $pool = New-ParallelPool -ThrottleLimit 2 -IdleTimeoutSeconds 0.5
        $null = 1..8 | Invoke-ParallelMap -Pool $pool { Start-Sleep -Milliseconds 20; $_ }
        $pool.OpenRunspaces | Should -BeGreaterThan 0
        Wait-Until { $pool.OpenRunspaces -eq 0 } 20
        @(Get-Runspace).Count | Should -Be $before
        (1..3 | Invoke-ParallelMap -Pool $pool { $_ } | Sort-Object) | Should -Be 1, 2, 3
        Remove-ParallelPool $pool
        @(Get-Runspace).Count | Should -Be $before
    }

    It 'closes the pool when Use-ParallelPool''s block ends, also when it throws' {
        $before = @(Get-Runspace).Count
        $pool = New-ParallelPool -ThrottleLimit 2
        $r = Use-ParallelPool $pool { 1..3 | Invoke-ParallelMap -Pool $_ { $_ * 2 } }
        ($r | Sort-Object) | Should -Be 2, 4, 6
        $pool.IsClosed | Should -BeTrue
        $other = New-ParallelPool -ThrottleLimit 1
        { Use-ParallelPool $other { param($p) $null = 1 | Invoke-ParallelMap -Pool $p { $_ }; throw 'boom' } } | Should -Throw '*boom*'
        $other.IsClosed | Should -BeTrue
        @(Get-Runspace).Count | Should -Be $before
    }
}

Describe 'Start-ResumableBatch on a pool' {
    It 'runs a batch on a pool, then resumes it on the same pool' {
        $cp = Join-Path $TestDrive 'pooled'
        $inits = New-Bag
        $pool = New-ParallelPool -ThrottleLimit 2 -Variable @{ inits = $inits } -InitializationScript { $inits.Add(1) }
        $fail = [hashtable]::Synchronized(@{ k3 = $true })
        $null = 1..6 | ForEach-Object { "k$_" } | Start-ResumableBatch -Path $cp -Pool $pool -Variable @{ fail = $fail } { if ($fail[$_]) { throw "fails once: $_" }; $_.ToUpper() } -ErrorAction SilentlyContinue
        (Get-ResumableBatch $cp).Failed | Should -Be 1
        $fail.Clear()
        $null = 1..6 | ForEach-Object { "k$_" } | Start-ResumableBatch -Path $cp -Pool $pool -RetryFailed -Variable @{ fail = $fail } { if ($fail[$_]) { throw "fails once: $_" }; $_.ToUpper() }
        (Get-ResumableBatch $cp).Done | Should -Be 6
        (Receive-ResumableBatch $cp | Sort-Object) | Should -Be ('K1', 'K2', 'K3', 'K4', 'K5', 'K6')
        $inits.Count | Should -BeLessOrEqual 2
        Remove-ParallelPool $pool
    }
}
