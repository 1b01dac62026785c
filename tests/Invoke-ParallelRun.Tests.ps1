#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Invoke-ParallelRun against the built module (./build.ps1 puts it in out/ParallelMap).

BeforeAll {
    $modulePath = if ($env:PARALLELMAP_MODULE) { $env:PARALLELMAP_MODULE } else { Join-Path $PSScriptRoot '../out/ParallelMap/ParallelMap.psd1' }
    Import-Module $modulePath -Force
}

Describe 'Invoke-ParallelRun' {
    It 'runs several script blocks at once' {
        # Each block waits until all three are running together: they fail unless they run at once.
        $barrier = [System.Threading.Barrier]::new(3)
        $ok = [System.Collections.Concurrent.ConcurrentBag[string]]::new()
        $blocks = { if ($barrier.SignalAndWait(30000)) { $ok.Add('a') } }, { if ($barrier.SignalAndWait(30000)) { $ok.Add('b') } }, { if ($barrier.SignalAndWait(30000)) { $ok.Add('c') } }
        Invoke-ParallelRun -ThrottleLimit 3 -Variable @{ barrier = $barrier; ok = $ok } -ScriptBlock $blocks
        ($ok | Sort-Object) | Should -Be 'a', 'b', 'c'
    }

    It 'runs one script block per pipeline item and returns nothing' {
        $seen = [System.Collections.Concurrent.ConcurrentBag[int]]::new()
        $r = 1..20 | Invoke-ParallelRun -Variable @{ seen = $seen } { $seen.Add($_); 'discarded' }
        $r | Should -BeNullOrEmpty
        ($seen | Sort-Object) | Should -Be (1..20)
    }

    It 'returns a summary with -PassThru' {
        $s = Invoke-ParallelRun { 1 }, { throw 'x' }, { 2 } -PassThru -ErrorAction SilentlyContinue
        $s.Total | Should -Be 3
        $s.Succeeded | Should -Be 2
        $s.Failed | Should -Be 1
        $s.Elapsed | Should -BeOfType [timespan]
        $s.GetType().Name | Should -Be 'ParallelRunSummary'
    }

    It 'reports a failed item with its own error id and the item as target' {
        1..3 | Invoke-ParallelRun { if ($_ -eq 2) { throw 'two' } } -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -Be 'two'
        $errs[0].TargetObject | Should -Be 2
    }

    It 'counts an item that wrote a non-terminating error as succeeded, and shows the error as it is (issue 10)' {
        $ErrorActionPreference = 'Continue'
        $s = Invoke-ParallelRun { Write-Error 'soft' }, { 'x' } -PassThru -ErrorVariable errs -ErrorAction SilentlyContinue
        $s.Succeeded | Should -Be 2
        $s.Failed | Should -Be 0
        $errs.Count | Should -Be 1
        # Several blocks run as functions of the runspaces: the id names the one that wrote it.
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'Microsoft.PowerShell.Commands.WriteErrorException*'
        # Placed at the script block that wrote it, never at the module's own code.
        $errs[0].InvocationInfo.Line | Should -Match "Write-Error 'soft'"
    }

    It 'counts exit 0 as success and exit N as a failure (issue 10)' {
        $s = Invoke-ParallelRun { exit 0 }, { exit 2 } -PassThru -ErrorVariable errs -ErrorAction SilentlyContinue
        $s.Succeeded | Should -Be 1
        $s.Failed | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'ItemExited,*'
    }

    It 'forwards the other streams' {
        (Invoke-ParallelRun { Write-Warning 'careful' } 3>&1).Message | Should -Be 'careful'
    }

    It 'runs the initialization script and $using: as Invoke-ParallelMap does' {
        $bag = [System.Collections.Concurrent.ConcurrentBag[string]]::new()
        $suffix = '!'
        Invoke-ParallelRun -Variable @{ bag = $bag } -InitializationScript { $prefix = 'p' } { $bag.Add("$prefix-a$using:suffix") }, { $bag.Add("$prefix-b$using:suffix") }
        ($bag | Sort-Object) | Should -Be 'p-a!', 'p-b!'
    }

    It 'times out a blocked script block' {
        $s = Invoke-ParallelRun -TimeoutSeconds 1 { Start-Sleep -Seconds 3600 }, { 'fine' } -PassThru -ErrorVariable errs -ErrorAction SilentlyContinue
        $s.Failed | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'ItemTimedOut,*'
    }

    It 'refuses several script blocks with pipeline input' {
        { 1..2 | Invoke-ParallelRun { 1 }, { 2 } } | Should -Throw -ErrorId 'SeveralScriptBlocksWithInput,*'
    }

    It 'refuses an empty script block' {
        { Invoke-ParallelRun { 1 }, { } } | Should -Throw -ErrorId 'EmptyScriptBlock,*'
    }

    It 'stops the whole run with -ErrorAction Stop' {
        { 1..100 | Invoke-ParallelRun -ThrottleLimit 2 -ErrorAction Stop { if ($_ -eq 2) { throw 'halt' }; Start-Sleep -Milliseconds 100 } } | Should -Throw -ErrorId 'halt'
    }

    It 'leaves no runspace behind' {
        $before = @(Get-Runspace).Count
        for ($i = 0; $i -lt 10; $i++) { Invoke-ParallelRun { 1 }, { 2 } }
        @(Get-Runspace).Count | Should -Be $before
    }
}
