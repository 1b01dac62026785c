#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Invoke-ParallelMap against the built module (./build.ps1 puts it in out/ParallelMap).

BeforeAll {
    $modulePath = if ($env:PARALLELMAP_MODULE) { $env:PARALLELMAP_MODULE } else { Join-Path $PSScriptRoot '../out/ParallelMap/ParallelMap.psd1' }
    Import-Module $modulePath -Force

    # Runs a script in a fresh PowerShell of this runspace's process and returns it started, so
    # a test can stop it as Ctrl-C would.
    function Start-Pipeline([string] $Script, [hashtable] $Variables = @{}) {
        # One script in a runspace of its own: a multi-statement batch has PowerShell read
        # variables on a pool thread, which crashes the host when the runspace closes under it.
        $rs = [runspacefactory]::CreateRunspace()
        $rs.Open()
        foreach ($k in $Variables.Keys) { $rs.SessionStateProxy.SetVariable($k, $Variables[$k]) }
        $ps = [powershell]::Create()
        $ps.Runspace = $rs
        $null = $ps.AddScript("Import-Module '$modulePath'`n$Script")
        $async = $ps.BeginInvoke()
        [pscustomobject]@{ PowerShell = $ps; Async = $async; Runspace = $rs }
    }

    function Stop-Pipeline($p) {
        $p.PowerShell.Dispose()
        $p.Runspace.Dispose()
    }

    function Wait-Until([scriptblock] $Condition, [int] $Seconds = 30) {
        $deadline = [datetime]::UtcNow.AddSeconds($Seconds)
        while (-not (& $Condition)) {
            if ([datetime]::UtcNow -gt $deadline) { throw "condition not met in $Seconds s: $Condition" }
            Start-Sleep -Milliseconds 20
        }
    }
}

Describe 'Invoke-ParallelMap basics' {
    It 'doubles ten numbers' {
        $r = 1..10 | Invoke-ParallelMap { $_ * 2 }
        ($r | Sort-Object) | Should -Be (2, 4, 6, 8, 10, 12, 14, 16, 18, 20)
    }

    It 'sees the item as $PSItem too' {
        (1..3 | Invoke-ParallelMap { $PSItem + 1 } | Sort-Object) | Should -Be 2, 3, 4
    }

    It 'passes several outputs per item through flat' {
        $r = 1..3 | Invoke-ParallelMap { $_; $_ * 10 }
        $r.Count | Should -Be 6
        ($r | Sort-Object) | Should -Be 1, 2, 3, 10, 20, 30
    }

    It 'does nothing without input' {
        Invoke-ParallelMap { 'ran' } | Should -BeNullOrEmpty
    }

    It 'takes -InputObject as one item' {
        Invoke-ParallelMap -InputObject (1, 2, 3) { $_.Count } | Should -Be 3
    }

    It 'keeps the same runspace state across items (one long-lived pipeline per runspace)' {
        $r = 1..40 | Invoke-ParallelMap -ThrottleLimit 2 { $script:seen++; [pscustomobject]@{ Rs = [runspace]::DefaultRunspace.Id; Seen = $script:seen } }
        foreach ($g in $r | Group-Object Rs) {
            ($g.Group.Seen | Sort-Object) | Should -Be (1..$g.Count)
        }
    }

    It 'runs a begin and end block once per runspace' {
        $r = 1..20 | Invoke-ParallelMap -ThrottleLimit 2 { begin { $n = 0 } process { $n++ } end { "end:$n" } }
        $ends = @($r | Where-Object { $_ -like 'end:*' })
        $ends.Count | Should -BeLessOrEqual 2
        ($ends | ForEach-Object { [int]($_ -replace 'end:') } | Measure-Object -Sum).Sum | Should -Be 20
    }

    It 'runs no more runspaces at once than -ThrottleLimit' {
        $r = 1..30 | Invoke-ParallelMap -ThrottleLimit 3 { Start-Sleep -Milliseconds 20; [runspace]::DefaultRunspace.Id }
        @($r | Sort-Object -Unique).Count | Should -BeLessOrEqual 3
    }

    It 'uses the processor count as default throttle' {
        (Get-Command Invoke-ParallelMap).Parameters.ThrottleLimit | Should -Not -BeNullOrEmpty
        $r = 1..40 | Invoke-ParallelMap { Start-Sleep -Milliseconds 10; [runspace]::DefaultRunspace.Id }
        @($r | Sort-Object -Unique).Count | Should -BeLessOrEqual ([Environment]::ProcessorCount)
    }
}

Describe 'Order and streaming' {
    It 'keeps input order with -Ordered' {
        $r = 1..50 | Invoke-ParallelMap -Ordered -ThrottleLimit 4 { Start-Sleep -Milliseconds (Get-Random -Maximum 20); $_ }
        $r | Should -Be (1..50)
    }

    It 'streams results while input still arrives' {
        $log = [System.Collections.Concurrent.ConcurrentQueue[string]]::new()
        1..5 | ForEach-Object { $log.Enqueue("in$_"); $_; Start-Sleep -Milliseconds 300 } |
            Invoke-ParallelMap { $_ } |
            ForEach-Object { $log.Enqueue("out$_") }
        $entries = @($log.ToArray())
        $entries.IndexOf('out1') | Should -BeLessThan $entries.IndexOf('in5')
    }

    It 'holds upstream back when the runspaces are busy (bounded memory)' {
        $state = [hashtable]::Synchronized(@{ Produced = 0; ProducedWhenFirstDone = -1 })
        1..200000 | ForEach-Object { $state.Produced++; $_ } |
            Invoke-ParallelMap -ThrottleLimit 1 -Variable @{ state = $state } {
                if ($_ -eq 1) { Start-Sleep -Milliseconds 1500; $state.ProducedWhenFirstDone = $state.Produced }
            } | Out-Null
        $state.Produced | Should -Be 200000
        $state.ProducedWhenFirstDone | Should -BeGreaterThan 0
        $state.ProducedWhenFirstDone | Should -BeLessThan 10000
    }

    It 'gives the same results with a fixed -BatchSize' {
        (1..500 | Invoke-ParallelMap -BatchSize 7 -ThrottleLimit 3 { $_ } | Measure-Object -Sum).Sum | Should -Be 125250
    }
}

Describe 'Initialization, cleanup, variables, functions, modules, $using:' {
    It 'runs the initialization script once per runspace, visible to every item' {
        $inits = [System.Collections.Concurrent.ConcurrentDictionary[string, int]]::new()
        $r = 1..30 | Invoke-ParallelMap -ThrottleLimit 3 -Variable @{ inits = $inits } -InitializationScript {
            $null = $inits.AddOrUpdate([string][runspace]::DefaultRunspace.Id, 1, { param($k, $v) $v + 1 })
            function Get-Triple($v) { $v * 3 }
            $model = 'loaded'
        } { "$(Get-Triple $_):$model" }
        $r.Count | Should -Be 30
        $r | ForEach-Object { $_ | Should -Match ':loaded$' }
        $inits.Values | ForEach-Object { $_ | Should -Be 1 }
        $inits.Count | Should -BeLessOrEqual 3
    }

    It 'runs the cleanup script once per runspace, also after item errors' {
        $inits = [System.Collections.Concurrent.ConcurrentBag[string]]::new()
        $cleanups = [System.Collections.Concurrent.ConcurrentBag[string]]::new()
        $null = 1..20 | Invoke-ParallelMap -ThrottleLimit 2 -Variable @{ inits = $inits; cleanups = $cleanups } `
            -InitializationScript { $inits.Add([string][runspace]::DefaultRunspace.Id) } `
            -CleanupScript { $cleanups.Add([string][runspace]::DefaultRunspace.Id) } `
            { if ($_ % 5 -eq 0) { throw 'boom' }; $_ } -ErrorAction SilentlyContinue
        $inits.Count | Should -BeGreaterThan 0
        @($cleanups | Sort-Object) | Should -Be @($inits | Sort-Object)
    }

    It 'shares -Variable values by reference, not by copy' {
        $shared = [System.Collections.Generic.List[int]]::new()
        $callerHash = [System.Runtime.CompilerServices.RuntimeHelpers]::GetHashCode($shared)
        $r = 1..4 | Invoke-ParallelMap -Variable @{ shared = $shared } { [System.Runtime.CompilerServices.RuntimeHelpers]::GetHashCode($shared) }
        $r | ForEach-Object { $_ | Should -Be $callerHash }
        $bag = [System.Collections.Concurrent.ConcurrentBag[int]]::new()
        1..100 | Invoke-ParallelMap -Variable @{ bag = $bag } { $bag.Add($_) }
        $bag.Count | Should -Be 100
    }

    It 'copies -Function definitions from the caller' {
        function Get-Square([int] $v) { $v * $v }
        (1..4 | Invoke-ParallelMap -Function Get-Square { Get-Square $_ } | Sort-Object) | Should -Be 1, 4, 9, 16
    }

    It 'imports a -Module by path once per runspace' {
        $dir = Join-Path ([System.IO.Path]::GetTempPath()) ("pm-mod-" + [guid]::NewGuid())
        $null = New-Item -ItemType Directory $dir
        try {
            $psm1 = Join-Path $dir 'PmTestModule.psm1'
            Set-Content $psm1 'function Get-PmTestValue { param($x) "mod:$x" }; Export-ModuleMember -Function Get-PmTestValue'
            (1..3 | Invoke-ParallelMap -Module $psm1 { Get-PmTestValue $_ } | Sort-Object) | Should -Be 'mod:1', 'mod:2', 'mod:3'
        }
        finally { Remove-Item $dir -Recurse -Force }
    }

    It 'imports by its path a module the caller loaded from a file and names' {
        $dir = Join-Path ([System.IO.Path]::GetTempPath()) ("pm-mod-" + [guid]::NewGuid())
        $null = New-Item -ItemType Directory $dir
        try {
            Set-Content (Join-Path $dir 'PmLoaded.psm1') 'function Get-PmCube($v) { $v * $v * $v }'
            Import-Module (Join-Path $dir 'PmLoaded.psm1')
            2 | Invoke-ParallelMap -Module PmLoaded { Get-PmCube $_ } | Should -Be 8
        }
        finally { Remove-Module PmLoaded -ErrorAction SilentlyContinue; Remove-Item $dir -Recurse -Force }
    }

    It 'starts each runspace in the caller''s current location' {
        Push-Location ([System.IO.Path]::GetTempPath())
        try { 1 | Invoke-ParallelMap { $PWD.ProviderPath } | Should -Be (Get-Location).ProviderPath }
        finally { Pop-Location }
    }

    It 'starts each runspace in the caller''s location when it is the process''s directory too' {
        Push-Location ([Environment]::CurrentDirectory)
        try { 1..4 | Invoke-ParallelMap { $PWD.ProviderPath } -ThrottleLimit 2 | Sort-Object -Unique | Should -Be (Get-Location).ProviderPath }
        finally { Pop-Location }
    }

    It 'resolves a drive-qualified $using: such as $using:env:' {
        $env:PM_USING_TEST = 'from-env'
        try { 1 | Invoke-ParallelMap { $using:env:PM_USING_TEST } | Should -Be 'from-env' }
        finally { $env:PM_USING_TEST = $null }
    }

    It 'waits for a slow cleanup script and forwards its output' {
        1 | Invoke-ParallelMap { 'item' } -CleanupScript { Start-Sleep -Milliseconds 5500; 'cleanup output' } | Should -Be 'item', 'cleanup output'
    }

    It 'treats exit 0 as success and exit N as a failure of the item' {
        $r = 1..3 | Invoke-ParallelMap { if ($_ -eq 2) { exit 3 }; if ($_ -eq 3) { exit }; $_ } -ErrorVariable ev -ErrorAction SilentlyContinue
        $r | Should -Be 1
        $ev.Count | Should -Be 1
        $ev[0].TargetObject | Should -Be 2
        $ev[0].Exception.Message | Should -Match 'exit 3'
    }

    It 'imports a -Module by name' {
        (1 | Invoke-ParallelMap -Module Microsoft.PowerShell.Utility { (Get-Module Microsoft.PowerShell.Utility).Name }) | Should -Be 'Microsoft.PowerShell.Utility'
    }

    It 'resolves $using: from the caller''s scope, nested script blocks included' {
        $offset = 100
        $names = @{ a = 'x' }
        (1..3 | Invoke-ParallelMap { $_ + $using:offset } | Sort-Object) | Should -Be 101, 102, 103
        (1 | Invoke-ParallelMap { 1..2 | ForEach-Object { $using:names.a + $_ } }) | Should -Be 'x1', 'x2'
    }

    It 'shares $using: values by reference too' {
        $list = [System.Collections.ArrayList]::new()
        $h = [System.Runtime.CompilerServices.RuntimeHelpers]::GetHashCode($list)
        1 | Invoke-ParallelMap { [System.Runtime.CompilerServices.RuntimeHelpers]::GetHashCode($using:list) } | Should -Be $h
    }
}

Describe 'Errors' {
    It 'writes a non-terminating error with the input as target for a throw' {
        $r = 1..4 | Invoke-ParallelMap { if ($_ -eq 2) { throw "bad $_" }; $_ } -ErrorVariable errs -ErrorAction SilentlyContinue
        ($r | Sort-Object) | Should -Be 1, 3, 4
        $errs.Count | Should -Be 1
        # The id PowerShell gives a throw of a string (its text), as in ForEach-Object.
        $errs[0].FullyQualifiedErrorId | Should -Be 'bad 2'
        $errs[0].Exception | Should -BeOfType [System.Management.Automation.RuntimeException]
        $errs[0].TargetObject | Should -Be 2
        $errs[0].Exception.Message | Should -Be 'bad 2'
    }

    It 'forwards Write-Error as a non-terminating error with the input as target; the item goes on' {
        $ErrorActionPreference = 'Continue'
        $r = 1..3 | Invoke-ParallelMap { if ($_ -eq 3) { Write-Error "soft $_" }; "out$_" } -ErrorVariable errs -ErrorAction SilentlyContinue
        ($r | Sort-Object) | Should -Be 'out1', 'out2', 'out3'
        $errs.Count | Should -Be 1
        $errs[0].TargetObject | Should -Be 3
        $errs[0].FullyQualifiedErrorId | Should -Be 'Microsoft.PowerShell.Commands.WriteErrorException'
    }

    It 'ends the whole run promptly with -ErrorAction Stop' {
        $done = [System.Collections.Concurrent.ConcurrentBag[int]]::new()
        { 1..200 | Invoke-ParallelMap -ThrottleLimit 2 -ErrorAction Stop -Variable @{ done = $done } {
                if ($_ -eq 3) { throw 'stop here' }
                Start-Sleep -Milliseconds 200
                $done.Add($_)
            } } | Should -Throw -ErrorId 'stop here'
        $done.Count | Should -BeLessThan 50
    }

    It 'applies the caller''s $ErrorActionPreference Stop inside the runspaces' {
        $ErrorActionPreference = 'Stop'
        $r = 1 | Invoke-ParallelMap { Write-Error 'first'; 'after' } -ErrorAction SilentlyContinue
        $r | Should -BeNullOrEmpty
    }

    It 'still records errors in -ErrorVariable under -ErrorAction SilentlyContinue' {
        $ErrorActionPreference = 'Continue'
        $r = 1..2 | Invoke-ParallelMap { Write-Error "e$_"; 'after' } -ErrorAction SilentlyContinue -ErrorVariable ev
        $ev.Count | Should -Be 2
        # A non-terminating error does not end the item (as in ForEach-Object): both go on.
        @($r).Count | Should -Be 2
    }
}

Describe 'An item''s output is never silently lost (issue 10)' {
    BeforeAll {
        # These tests are about the default preference; build.ps1 runs the suite under Stop.
        $ErrorActionPreference = 'Continue'
        $scan = Join-Path (Get-Item TestDrive:\).FullName 'scan'
        foreach ($d in 'a', 'b') { $null = New-Item -ItemType File -Force -Path (Join-Path $scan "$d/$($d)1") }
        $sh = if ($IsWindows) { $null } else { (Get-Command sh -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1).Source }
    }

    It 'keeps the output of an item that wrote a non-terminating error, as ForEach-Object does' {
        $sb = { (Get-ChildItem (Join-Path $using:scan $_), (Join-Path $using:scan "missing-$_")).Name }
        $expected = 'a', 'b' | ForEach-Object -ErrorAction SilentlyContinue { (Get-ChildItem (Join-Path $scan $_), (Join-Path $scan "missing-$_")).Name } 2>$null
        $r = 'a', 'b' | Invoke-ParallelMap -ErrorAction SilentlyContinue -ErrorVariable ev $sb
        ($r | Sort-Object) | Should -Be ($expected | Sort-Object)
        ($r | Sort-Object) | Should -Be 'a1', 'b1'
        $ev.Count | Should -Be 2
        # Forwarded as PowerShell made them: Get-ChildItem's own id and target (the missing path).
        $ev | ForEach-Object { $_.FullyQualifiedErrorId | Should -Be 'PathNotFound,Microsoft.PowerShell.Commands.GetChildItemCommand' }
        ($ev.TargetObject | Sort-Object) | Should -Be ((Join-Path $scan 'missing-a'), (Join-Path $scan 'missing-b'))
    }

    It 'passes on what a failed item wrote before its terminating error, as ForEach-Object -Parallel does' {
        $r = 1..3 | Invoke-ParallelMap { "before$_"; if ($_ -eq 2) { throw 'late' }; "after$_" } -ErrorAction SilentlyContinue -ErrorVariable ev
        ($r | Sort-Object) | Should -Be 'after1', 'after3', 'before1', 'before2', 'before3'
        $ev.Count | Should -Be 1
        $ev[0].TargetObject | Should -Be 2
        # In order too: the failed item's output keeps its place.
        (1..3 | Invoke-ParallelMap -Ordered { "o$_"; if ($_ -eq 2) { throw 'late' } } -ErrorAction SilentlyContinue) | Should -Be 'o1', 'o2', 'o3'
    }

    It 'fails the item on an error under Stop inside it (-ErrorAction Stop on the inner command)' {
        $r = 1..2 | Invoke-ParallelMap { "start$_"; Get-Item (Join-Path $using:scan "none-$_") -ErrorAction Stop; "not reached $_" } -ErrorAction SilentlyContinue -ErrorVariable ev
        ($r | Sort-Object) | Should -Be 'start1', 'start2'
        $ev.Count | Should -Be 2
        $ev[0].FullyQualifiedErrorId | Should -Be 'PathNotFound,Microsoft.PowerShell.Commands.GetItemCommand'
    }

    It 'passes on only the last attempt''s output of a retried item' {
        $attempts = [System.Collections.Concurrent.ConcurrentDictionary[int, int]]::new()
        $r = 1 | Invoke-ParallelMap -RetryCount 3 -RetryDelaySeconds 0.01 -Variable @{ attempts = $attempts } {
            $n = $attempts.AddOrUpdate($_, 1, { param($k, $v) $v + 1 })
            "attempt$n"
            if ($n -lt 3) { throw "flaky $n" }
        }
        $r | Should -Be 'attempt3'
    }

    It 'keeps the output and shows the stderr line of a native program that exits 0' {
        if (-not $IsWindows -and -not $sh) { Set-ItResult -Skipped -Because 'no sh'; return }
        $sb = if ($IsWindows) { { cmd /c 'echo out& echo warn 1>&2& exit /b 0'; 'after' } } else { { sh -c 'echo out; echo warn >&2; exit 0'; 'after' } }
        $r = 1 | Invoke-ParallelMap $sb -ErrorAction SilentlyContinue -ErrorVariable ev
        @($r | ForEach-Object { "$_".Trim() }) | Should -Be 'out', 'after'
        $ev.Count | Should -Be 1
        $ev[0].FullyQualifiedErrorId | Should -BeLike 'NativeCommandError*'
        "$($ev[0].Exception.Message)".Trim() | Should -Be 'warn'
    }

    It 'honours $PSNativeCommandUseErrorActionPreference for a non-zero exit code, as ForEach-Object does' {
        if ($IsWindows -or -not $sh -or $PSVersionTable.PSVersion -lt [version]'7.3') { Set-ItResult -Skipped -Because 'needs sh and PowerShell 7.3'; return }
        $PSNativeCommandUseErrorActionPreference = $true
        # Under Continue it is a non-terminating error: the item goes on.
        $r = 1 | Invoke-ParallelMap { sh -c 'echo out; exit 3'; 'after' } -ErrorAction SilentlyContinue -ErrorVariable ev
        $r | Should -Be 'out', 'after'
        $ev.Count | Should -Be 1
        $ev[0].FullyQualifiedErrorId | Should -BeLike 'ProgramExitedWithNonZeroCode*'
        # Under the caller's $ErrorActionPreference Stop it fails the item, keeping what came before.
        $ErrorActionPreference = 'Stop'
        $r = 1 | Invoke-ParallelMap { sh -c 'echo out; exit 3'; 'after' } -ErrorAction SilentlyContinue -ErrorVariable ev2
        $r | Should -Be 'out'
        $ev2.Count | Should -Be 1
        $ev2[0].FullyQualifiedErrorId | Should -BeLike 'ProgramExitedWithNonZeroCode*'
    }

    It 'ends an item successfully with exit 0 and keeps its output' {
        (1..3 | Invoke-ParallelMap { "out$_"; exit 0; 'not reached' } | Sort-Object) | Should -Be 'out1', 'out2', 'out3'
        (1..2 | Invoke-ParallelMap { "bare$_"; exit } | Sort-Object) | Should -Be 'bare1', 'bare2'
    }

    It 'fails an item that exits with a non-zero code with ItemExited naming the code, keeping its output' {
        $r = 1..2 | Invoke-ParallelMap { "out$_"; if ($_ -eq 2) { exit 7 } } -ErrorAction SilentlyContinue -ErrorVariable ev
        ($r | Sort-Object) | Should -Be 'out1', 'out2'
        $ev.Count | Should -Be 1
        $ev[0].FullyQualifiedErrorId | Should -BeLike 'ItemExited,*'
        $ev[0].TargetObject | Should -Be 2
        $ev[0].Exception.Message | Should -Match 'exit 7'
        $ev[0].Exception.ExitCode | Should -Be 7
    }

    It 'treats exit inside a -Function function as the end of the item' {
        function Exit-WithCode([int] $Code) { "f$Code"; exit $Code }
        $r = 0, 4 | Invoke-ParallelMap -Function Exit-WithCode { Exit-WithCode $_; 'not reached' } -ErrorAction SilentlyContinue -ErrorVariable ev
        ($r | Sort-Object) | Should -Be 'f0', 'f4'
        $ev.Count | Should -Be 1
        $ev[0].Exception.ExitCode | Should -Be 4
    }

    It 'keeps working in a runspace after an item exits' {
        (1..20 | Invoke-ParallelMap -ThrottleLimit 1 { if ($_ % 2) { exit }; $_ } | Measure-Object).Count | Should -Be 10
    }
}

Describe 'Errors keep their identity and position (issue 10)' {
    BeforeAll {
        # These tests are about the default preference; build.ps1 runs the suite under Stop.
        $ErrorActionPreference = 'Continue'
    }

    It 'gives Write-Error its own exception, id and category' {
        $null = 1 | Invoke-ParallelMap { Write-Error 'soft' -Category InvalidData } -ErrorVariable ev -ErrorAction SilentlyContinue
        $ev[0].Exception | Should -BeOfType [Microsoft.PowerShell.Commands.WriteErrorException]
        $ev[0].FullyQualifiedErrorId | Should -Be 'Microsoft.PowerShell.Commands.WriteErrorException'
        $ev[0].CategoryInfo.Category | Should -Be 'InvalidData'
        $ev[0].TargetObject | Should -Be 1
    }

    It 'gives a failing cmdlet its own id, exception, category and target' {
        $null = 'x' | Invoke-ParallelMap { Get-Item '/pm-no-such-item' } -ErrorVariable ev -ErrorAction SilentlyContinue
        $fe = $null
        $null = 'x' | ForEach-Object { Get-Item '/pm-no-such-item' } -ErrorVariable fe 2>$null
        $ev[0].FullyQualifiedErrorId | Should -Be 'PathNotFound,Microsoft.PowerShell.Commands.GetItemCommand'
        $ev[0].Exception | Should -BeOfType [System.Management.Automation.ItemNotFoundException]
        $ev[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $ev[0].TargetObject | Should -Be '/pm-no-such-item'
    }

    It 'gives a throw the id PowerShell gives it, and catch and trap written for ForEach-Object work' {
        $fe = try { 1 | ForEach-Object { throw 'x' } } catch { $_ }
        $pm = try { 1 | Invoke-ParallelMap { throw 'x' } -ErrorAction Stop } catch { $_ }
        $pm.FullyQualifiedErrorId | Should -Be $fe.FullyQualifiedErrorId
        $pm.Exception.GetType() | Should -Be $fe.Exception.GetType()
        $pm.TargetObject | Should -Be 1
        $typed = try { 1 | Invoke-ParallelMap { throw [System.IO.FileNotFoundException]::new('gone') } -ErrorAction Stop } catch [System.IO.FileNotFoundException] { 'typed catch' }
        $typed | Should -Be 'typed catch'
        # A trap sees the item's own exception (a typed trap does not match any cmdlet's
        # -ErrorAction Stop error in PowerShell itself, so it is not asked of this one).
        $trapped = & { trap { $_.Exception.GetType().Name; continue }; 1 | Invoke-ParallelMap { throw [System.IO.FileNotFoundException]::new('gone') } -ErrorAction Stop }
        $trapped | Should -Be 'FileNotFoundException'
    }

    It 'shows the failing statement''s line in the script block, as ForEach-Object -Parallel does' {
        $null = 1 | Invoke-ParallelMap {
            'first'
            Get-Item '/pm-no-such-pos'
        } -ErrorVariable ev -ErrorAction SilentlyContinue
        $ev[0].InvocationInfo.Line.Trim() | Should -Be "Get-Item '/pm-no-such-pos'"
        $ev[0].InvocationInfo.ScriptLineNumber | Should -Be 3
        $view = $ev[0] | Out-String
        $view | Should -Match ([regex]::Escape("Get-Item '/pm-no-such-pos'"))
        $view | Should -Not -Match 'Invoke-ParallelMap'
        $view | Should -Not -Match '__pm'

        $null = 1 | Invoke-ParallelMap {
            'first'
            throw 'from line three'
        } -ErrorVariable ev2 -ErrorAction SilentlyContinue
        $ev2[0].InvocationInfo.ScriptLineNumber | Should -Be 3
        $ev2[0].InvocationInfo.Line | Should -Match 'from line three'
    }

    It 'places a Write-Error at the user''s script block, never at the module''s own code' {
        $null = 1 | Invoke-ParallelMap { Write-Error 'where' } -ErrorVariable ev -ErrorAction SilentlyContinue
        $ev[0].InvocationInfo.PositionMessage | Should -Not -Match '__pm'
        $ev[0].InvocationInfo.Line | Should -Match "Write-Error 'where'"
    }
}

Describe 'Streams and preferences' {
    It 'forwards warnings, and -WarningAction applies' {
        $w = 1..2 | Invoke-ParallelMap { Write-Warning "w$_" } 3>&1
        ($w | ForEach-Object Message | Sort-Object) | Should -Be 'w1', 'w2'
        $w = 1 | Invoke-ParallelMap { Write-Warning 'hidden' } -WarningAction SilentlyContinue 3>&1
        $w | Should -BeNullOrEmpty
    }

    It 'records silenced warnings and information in -WarningVariable and -InformationVariable' {
        $shown = 1 | Invoke-ParallelMap { Write-Warning 'quiet'; Write-Information 'note'; 'out' } -WarningAction SilentlyContinue -WarningVariable wv -InformationVariable iv 3>&1
        $shown | Should -Be 'out'
        $wv.Message | Should -Be 'quiet'
        $iv.MessageData | Should -Be 'note'
    }

    It 'forwards verbose only when asked' {
        (1 | Invoke-ParallelMap { Write-Verbose 'v' } 4>&1) | Should -BeNullOrEmpty
        (1 | Invoke-ParallelMap { Write-Verbose 'v' } -Verbose 4>&1).Message | Should -Be 'v'
        $VerbosePreference = 'Continue'
        (1 | Invoke-ParallelMap { Write-Verbose 'pref' } 4>&1).Message | Should -Be 'pref'
    }

    It 'forwards debug with -Debug' {
        (1 | Invoke-ParallelMap { Write-Debug 'd' } -Debug 5>&1).Message | Should -Be 'd'
    }

    It 'forwards information with its tags, and -InformationAction applies' {
        $i = 1 | Invoke-ParallelMap { Write-Information 'info' -Tags t1 } -InformationAction Continue 6>&1
        $i.MessageData | Should -Be 'info'
        $i.Tags | Should -Contain 't1'
        (1 | Invoke-ParallelMap { Write-Information 'kept' } -InformationVariable iv -InformationAction SilentlyContinue) | Should -BeNullOrEmpty
        $iv.MessageData | Should -Be 'kept'
    }

    It 'forwards Write-Host output as information' {
        (1 | Invoke-ParallelMap { Write-Host 'hello' } 6>&1).MessageData.ToString() | Should -Be 'hello'
    }

    It 'writes progress with a total, percent and ETA on long runs, honouring $ProgressPreference' {
        $p = Start-Pipeline '$ProgressPreference = "Continue"; 1..24 | Invoke-ParallelMap -ThrottleLimit 2 -TotalCount 24 { Start-Sleep -Milliseconds 150 } | Out-Null'
        $null = $p.PowerShell.EndInvoke($p.Async)
        $records = @($p.PowerShell.Streams.Progress | Where-Object Activity -eq 'Invoke-ParallelMap')
        Stop-Pipeline $p
        $records.Count | Should -BeGreaterThan 0
        @($records | Where-Object { $_.PercentComplete -gt 0 }).Count | Should -BeGreaterThan 0
        @($records | Where-Object { $_.SecondsRemaining -ge 0 }).Count | Should -BeGreaterThan 0
        $records[-1].RecordType | Should -Be 'Completed'

        $q = Start-Pipeline '$ProgressPreference = "SilentlyContinue"; 1..24 | Invoke-ParallelMap -ThrottleLimit 2 { Start-Sleep -Milliseconds 150 } | Out-Null'
        $null = $q.PowerShell.EndInvoke($q.Async)
        @($q.PowerShell.Streams.Progress | Where-Object Activity -eq 'Invoke-ParallelMap').Count | Should -Be 0
        Stop-Pipeline $q
    }
}

Describe 'Timeouts and retries' {
    It 'times out a blocked item, reports ItemTimedOut, and the others go on' {
        $r = 1..6 | Invoke-ParallelMap -ThrottleLimit 2 -TimeoutSeconds 1 { if ($_ -eq 2) { Start-Sleep -Seconds 3600 }; $_ } -ErrorVariable errs -ErrorAction SilentlyContinue
        ($r | Sort-Object) | Should -Be 1, 3, 4, 5, 6
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'ItemTimedOut,*'
        $errs[0].TargetObject | Should -Be 2
        $errs[0].Exception.Message | Should -Match 'limit of 1 s'
    }

    It 'retries a failed item and reports each failed attempt as verbose' {
        $attempts = [System.Collections.Concurrent.ConcurrentDictionary[int, int]]::new()
        $out = 1..3 | Invoke-ParallelMap -RetryCount 3 -RetryDelaySeconds 0.01 -Variable @{ attempts = $attempts } {
            $n = $attempts.AddOrUpdate($_, 1, { param($k, $v) $v + 1 })
            if ($_ -eq 2 -and $n -lt 3) { throw "flaky $n" }
            "$_@$n"
        } -Verbose 4>&1
        $values = @($out | Where-Object { $_ -is [string] } | Sort-Object)
        $values | Should -Be '1@1', '2@3', '3@1'
        @($out | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -like "*'2'*failed*" }).Count | Should -Be 2
    }

    It 'gives up after -RetryCount attempts with the last error' {
        $null = 1 | Invoke-ParallelMap -RetryCount 2 -RetryDelaySeconds 0 { throw "always" } -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs.Count | Should -Be 1
        $errs[0].Exception.Message | Should -Be 'always'
    }

    It 'retries a timed-out item with -RetryTimedOut' {
        $attempts = [System.Collections.Concurrent.ConcurrentDictionary[int, int]]::new()
        $r = 1 | Invoke-ParallelMap -TimeoutSeconds 1 -RetryCount 1 -RetryDelaySeconds 0 -RetryTimedOut -Variable @{ attempts = $attempts } {
            if ($attempts.AddOrUpdate($_, 1, { param($k, $v) $v + 1 }) -eq 1) { Start-Sleep -Seconds 3600 }
            'second try'
        }
        $r | Should -Be 'second try'
    }
}

Describe 'Stop (Ctrl-C) and leaks' {
    It 'stops promptly while items block, runs the cleanup scripts and leaves no runspace behind' {
        $before = @(Get-Runspace).Count
        # Concurrent bags: ++ on a synchronized hashtable is a read-modify-write that loses updates.
        $state = @{ Started = [System.Collections.Concurrent.ConcurrentBag[int]]::new(); Cleanups = [System.Collections.Concurrent.ConcurrentBag[int]]::new() }
        $p = Start-Pipeline '1..100 | Invoke-ParallelMap -ThrottleLimit 3 -Variable @{ state = $state } -CleanupScript { $state.Cleanups.Add(1) } { $state.Started.Add(1); Start-Sleep -Seconds 3600 }' @{ state = $state }
        Wait-Until { $state.Started.Count -ge 3 }
        $sw = [System.Diagnostics.Stopwatch]::StartNew()
        $p.PowerShell.Stop()
        $sw.Stop()
        Stop-Pipeline $p
        $sw.Elapsed.TotalSeconds | Should -BeLessThan 10
        $state.Cleanups.Count | Should -Be 3
        Wait-Until { @(Get-Runspace).Count -le $before }
        @(Get-Runspace | Where-Object Name -like 'ParallelMap*').Count | Should -Be 0
    }

    It 'leaves the runspace count unchanged over many calls' {
        $before = @(Get-Runspace).Count
        for ($i = 0; $i -lt 25; $i++) {
            $null = 1..8 | Invoke-ParallelMap -ThrottleLimit 4 { $_ }
            $null = 1..3 | Invoke-ParallelMap -ThrottleLimit 2 { throw 'x' } -ErrorAction SilentlyContinue
        }
        @(Get-Runspace).Count | Should -Be $before
    }

    It 'leaves no runspace behind after -ErrorAction Stop' {
        $before = @(Get-Runspace).Count
        { 1..10 | Invoke-ParallelMap -ErrorAction Stop { throw 'x' } } | Should -Throw
        Wait-Until { @(Get-Runspace).Count -eq $before }
    }
}

Describe 'Bad input' {
    BeforeAll {
        $script:ran = [System.Collections.Concurrent.ConcurrentBag[int]]::new()
    }

    It 'refuses <Name> with ErrorId <Id> before any item runs' -ForEach @(
        @{ Name = 'an empty script block'; Id = 'EmptyScriptBlock'; Call = { 1 | Invoke-ParallelMap { } } }
        @{ Name = 'a null script block'; Id = 'ParameterArgumentValidationError'; Call = { 1 | Invoke-ParallelMap $null } }
        @{ Name = 'a throttle below 1'; Id = 'ParameterArgumentValidationError'; Call = { 1 | Invoke-ParallelMap -ThrottleLimit 0 { $ran.Add(1) } } }
        @{ Name = 'a non-positive timeout'; Id = 'ParameterArgumentValidationError'; Call = { 1 | Invoke-ParallelMap -TimeoutSeconds 0 { $ran.Add(1) } } }
        @{ Name = 'negative retries'; Id = 'ParameterArgumentValidationError'; Call = { 1 | Invoke-ParallelMap -RetryCount -1 { $ran.Add(1) } } }
        @{ Name = 'an unknown module'; Id = 'ModuleNotFound'; Call = { 1 | Invoke-ParallelMap -Module No.Such.Module { $ran.Add(1) } } }
        @{ Name = 'a module path that does not exist'; Id = 'ModuleNotFound'; Call = { 1 | Invoke-ParallelMap -Module /no/such/dir/Mod.psm1 { $ran.Add(1) } } }
        @{ Name = 'an unknown function'; Id = 'FunctionNotFound'; Call = { 1 | Invoke-ParallelMap -Function Get-NoSuchThing { $ran.Add(1) } } }
        @{ Name = 'an automatic variable name'; Id = 'VariableNameReserved'; Call = { 1 | Invoke-ParallelMap -Variable @{ PSItem = 1 } { $ran.Add(1) } } }
        @{ Name = 'another automatic variable name'; Id = 'VariableNameReserved'; Call = { 1 | Invoke-ParallelMap -Variable @{ Host = 1 } { $ran.Add(1) } } }
        @{ Name = 'a drive-qualified variable name'; Id = 'VariableNameInvalid'; Call = { 1 | Invoke-ParallelMap -Variable @{ 'env:X' = 1 } { $ran.Add(1) } } }
        @{ Name = 'a scope-qualified variable name'; Id = 'VariableNameInvalid'; Call = { 1 | Invoke-ParallelMap -Variable @{ 'global:x' = 1 } { $ran.Add(1) } } }
        @{ Name = 'a blank variable name'; Id = 'VariableNameInvalid'; Call = { 1 | Invoke-ParallelMap -Variable @{ '  ' = 1 } { $ran.Add(1) } } }
        @{ Name = 'a begin block that throws'; Id = 'WorkerFailed'; Call = { 1..3 | Invoke-ParallelMap { begin { throw 'begin broke' } process { $ran.Add(1) } } } }
        @{ Name = 'an undefined $using: variable'; Id = 'UsingVariableNotDefined'; Call = { 1 | Invoke-ParallelMap { $using:notDefinedAnywhere } } }
        @{ Name = 'a failing initialization script'; Id = 'InitializationFailed'; Call = { 1..3 | Invoke-ParallelMap -InitializationScript { throw 'init broke' } { $ran.Add(1) } } }
    ) {
        $Call | Should -Throw -ErrorId "$Id,*"
        $ran.Count | Should -Be 0
    }
}

Describe 'Invoke-ParallelMap script block forms' {
    BeforeAll {
        $modulePath = if ($env:PARALLELMAP_MODULE) { $env:PARALLELMAP_MODULE } else { Join-Path $PSScriptRoot '../out/ParallelMap/ParallelMap.psd1' }
        Import-Module $modulePath -Force
        $script:ran = [System.Collections.Concurrent.ConcurrentBag[int]]::new()
    }

    Context '$using: in nested script blocks' {
        It 'leaves $using: in a Start-ThreadJob block to that job, which sees the item''s variable' {
            $server = 'CALLER'
            $r = 'a', 'b' | Invoke-ParallelMap {
                $server = "srv-$_"
                Start-ThreadJob { "job sees: $using:server" } | Receive-Job -Wait -AutoRemoveJob
            }
            ($r | Sort-Object) | Should -Be @('job sees: srv-a', 'job sees: srv-b')
        }

        It 'does not require the caller to define a variable that only a nested job uses' {
            $r = 'a' | Invoke-ParallelMap -ErrorAction Stop {
                $pmOnlyInTheItem = "item-$_"
                Start-ThreadJob { $using:pmOnlyInTheItem } | Receive-Job -Wait -AutoRemoveJob
            }
            $r | Should -Be 'item-a'
        }

        It 'leaves $using: in a nested ForEach-Object -Parallel block to that call' {
            $x = 'CALLER'
            $r = 'a' | Invoke-ParallelMap { $x = "item-$_"; 1 | ForEach-Object -Parallel { "inner sees: $using:x" } }
            $r | Should -Be 'inner sees: item-a'
        }

        It 'leaves $using: in a nested Invoke-ParallelMap block to that call, but resolves its other arguments here' {
            $x = 'CALLER'
            $r = 'a' | Invoke-ParallelMap -Variable @{ mod = $modulePath } {
                Import-Module $mod
                $x = "item-$_"
                1 | Invoke-ParallelMap -Variable @{ outer = $using:x } { "inner: $using:x, outer: $outer" }
            }
            $r | Should -Be 'inner: item-a, outer: CALLER'
        }

        It 'resolves $using: in blocks that run in the item''s runspace (Where-Object, ForEach-Object, &, Invoke-Command) in the caller, as ForEach-Object -Parallel does' {
            $lim = 2
            $r = 1..4 | Invoke-ParallelMap -Ordered {
                $lim = 100
                $_ | Where-Object { $_ -gt $using:lim } | ForEach-Object { "$_ > $using:lim" }
            }
            $r | Should -Be @('3 > 2', '4 > 2')
            $expected = 1 | ForEach-Object -Parallel { $lim = 100; & { "amp $using:lim" }; Invoke-Command -ScriptBlock { "icm $using:lim" } }
            $r = 1 | Invoke-ParallelMap { $lim = 100; & { "amp $using:lim" }; Invoke-Command -ScriptBlock { "icm $using:lim" } }
            $r | Should -Be $expected
            $r | Should -Be @('amp 2', 'icm 2')
        }
    }

    Context 'param blocks' {
        It 'keeps a param block out of the per-item code; $_ is the item' {
            $r = 1..3 | Invoke-ParallelMap -Ordered { param($x) "x=$x _=$_" }
            $r | Should -Be @('x= _=1', 'x= _=2', 'x= _=3')
        }

        It 'runs an advanced script ([CmdletBinding()] param()) with $_ as the item' {
            $r = 1, 2 | Invoke-ParallelMap -Ordered -ErrorAction Stop { [CmdletBinding()] param($m = 10) "cb $($_ * $m)" }
            $r | Should -Be @('cb 10', 'cb 20')
        }

        It 'runs an advanced script with its own process block' {
            $r = 1, 2 | Invoke-ParallelMap -Ordered -ErrorAction Stop { [CmdletBinding()] param() process { "cbp $_" } }
            $r | Should -Be @('cbp 1', 'cbp 2')
        }

        It 'binds the item to a ValueFromPipeline parameter' {
            $r = 1, 2 | Invoke-ParallelMap -Ordered -ErrorAction Stop { param([Parameter(ValueFromPipeline)] [int] $n) process { $n * 3 } }
            $r | Should -Be @(3, 6)
        }

        It 'keeps using statements and attributes in front of the param block' {
            $sb = [scriptblock]::Create("using namespace System.Text`n[CmdletBinding()]`nparam(`$z)`n[StringBuilder]::new(`"sb`$_`").ToString()")
            $r = 1 | Invoke-ParallelMap -ErrorAction Stop $sb
            $r | Should -Be 'sb1'
        }

        It 'makes the parameters declared after a function''s name its param block, and keeps its $using:' {
            $offset = 100
            function Scale($f = 10) { $_ * $f + $using:offset }
            (1..2 | Invoke-ParallelMap -Ordered -ErrorAction Stop ${function:Scale}) | Should -Be @(110, 120)
        }
    }

    Context 'a function''s script block' {
        It 'runs ${function:name} and (Get-Command name).ScriptBlock' {
            function Double { $_ * 2 }
            (1..3 | Invoke-ParallelMap -Ordered -ErrorAction Stop ${function:Double}) | Should -Be @(2, 4, 6)
            (1..3 | Invoke-ParallelMap -Ordered -ErrorAction Stop (Get-Command Double).ScriptBlock) | Should -Be @(2, 4, 6)
        }

        It 'runs a filter' {
            filter Tag { "tag $_" }
            (1..2 | Invoke-ParallelMap -Ordered -ErrorAction Stop ${function:Tag}) | Should -Be @('tag 1', 'tag 2')
        }
    }

    Context 'empty script blocks' {
        It 'refuses <Name> with ErrorId EmptyScriptBlock before any item runs' -ForEach @(
            @{ Name = 'a comment-only block'; Call = { 1 | Invoke-ParallelMap { # nothing to do
                    } } }
            @{ Name = 'a white-space block'; Call = { 1 | Invoke-ParallelMap {

                    } } }
            @{ Name = 'a created comment-only block'; Call = { 1 | Invoke-ParallelMap ([scriptblock]::Create("<# a #>`n# b")) } }
        ) {
            $Call | Should -Throw -ErrorId 'EmptyScriptBlock,*'
            $ran.Count | Should -Be 0
        }

        It 'still accepts a comment-only initialization script' {
            1 | Invoke-ParallelMap -InitializationScript { # nothing
            } { $_ + 1 } | Should -Be 2
        }
    }

    Context 'break and continue' {
        It 'ends only the item whose <Keyword> is outside any loop, as ForEach-Object -Parallel does' -ForEach @(
            @{ Keyword = 'break' }
            @{ Keyword = 'continue' }
        ) {
            $sb = [scriptblock]::Create("if (`$_ -eq 2) { 'before'; $Keyword; 'never' }; `$_")
            $errs = $null
            $r = 1..3 | Invoke-ParallelMap -Ordered $sb -ErrorVariable errs -ErrorAction SilentlyContinue
            $r | Should -Be @(1, 'before', 3)
            $errs | Should -BeNullOrEmpty
        }

        It 'ends the item quietly for a break to a label no loop has' {
            $errs = $null
            $r = 1..3 | Invoke-ParallelMap -Ordered { if ($_ -eq 2) { break nowhere }; $_ } -ErrorVariable errs -ErrorAction SilentlyContinue
            $r | Should -Be @(1, 3)
            $errs | Should -BeNullOrEmpty
        }

        It 'leaves break and continue inside the item''s own loops alone' {
            $r = 1 | Invoke-ParallelMap -ErrorAction Stop { foreach ($i in 1..5) { if ($i -eq 2) { continue }; if ($i -eq 4) { break }; $i }; 'after' }
            $r | Should -Be @(1, 3, 'after')
        }
    }
}

Describe 'A runspace that fails to start while input still comes' {
    # The fault reaches the pipeline thread in its next submit rather than at the end: it must
    # still be the terminating error with the stable ErrorId, not the engine's own exception.
    It 'throws <Id> when the failure is seen by a later item' -TestCases @(
        @{ Id = 'WorkerFailed'; Call = { & { 1; Start-Sleep -Milliseconds 1500; 2; 3 } | Invoke-ParallelMap -ThrottleLimit 1 { begin { throw 'begin broke' } process { $_ } } } }
        @{ Id = 'InitializationFailed'; Call = { & { 1; Start-Sleep -Milliseconds 1500; 2; 3 } | Invoke-ParallelMap -ThrottleLimit 1 -InitializationScript { throw 'init broke' } { $_ } } }
    ) {
        param($Id, $Call)
        $Call | Should -Throw -ErrorId "$Id,*"
    }
}
