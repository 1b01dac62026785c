#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# -Session: items spread over PowerShell remoting sessions. Real SSH remoting to stand-in hosts
# on 127.0.0.1 (tests/Support/LoopbackSshd.psm1): .ci/run starts three and passes them in
# PARALLELMAP_SSHD; without it this file starts its own. sshd missing or not starting fails
# these tests, never skips them. Each host sets PARALLELMAP_HOST for what it runs, so a test can
# tell which host ran an item although every host is this machine.

BeforeAll {
    $modulePath = if ($env:PARALLELMAP_MODULE) { $env:PARALLELMAP_MODULE } else { Join-Path $PSScriptRoot '../out/ParallelMap/ParallelMap.psd1' }
    $modulePath = (Resolve-Path $modulePath).Path
    Import-Module $modulePath -Force
    Import-Module (Join-Path $PSScriptRoot 'Support/LoopbackSshd.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'Support/TestKit.psm1') -Force
    . (Join-Path $PSScriptRoot '../tools/Pwsh.ps1')
    $pwsh = Get-PwshPath

    $info = Get-LoopbackSshd
    $ownHosts = $null -eq $info
    if ($ownHosts) {
        $info = Start-LoopbackSshd -Directory (Join-Path ([System.IO.Path]::GetTempPath()) ('pm-sshd-' + [guid]::NewGuid().ToString('N'))) -Count 3
    }

    # One session per host, opened again where a test broke one.
    $script:sessions = @{}
    function Get-TestSession([int[]] $Index = @(0, 1, 2)) {
        foreach ($i in $Index) {
            $h = $info.Hosts[$i]
            $s = $script:sessions[$h.Name]
            if ($null -eq $s -or $s.State -ne 'Opened') {
                if ($s) { Remove-PSSession $s -ErrorAction Ignore }
                $s = New-LoopbackSession -Info $info -HostInfo $h
                $script:sessions[$h.Name] = $s
            }
            $s
        }
    }

    # A host a test killed is started again, so the next test finds all three.
    function Reset-Hosts {
        foreach ($h in $info.Hosts) {
            if (-not (Test-Path -LiteralPath $h.PidFile)) { Start-LoopbackHost -HostInfo $h }
        }
    }

    # The remote pwsh processes of a host other than the one serving the test's own session.
    function Get-WorkerPwsh($HostInfo, $Session) {
        $own = Invoke-Command -Session $Session { $PID }
        @(Get-LoopbackHostPwsh -HostInfo $HostInfo | Where-Object { $_ -ne $own })
    }

    function New-TempFolder {
        $d = Join-Path ([System.IO.Path]::GetTempPath()) ('pm-remote-' + [guid]::NewGuid().ToString('N'))
        $null = New-Item -ItemType Directory -Path $d
        $d
    }

    $null = Get-TestSession
}

AfterAll {
    $script:sessions.Values | Remove-PSSession -ErrorAction Ignore
    if ($ownHosts) { Stop-LoopbackSshd -Info $info -Remove }
}

Describe 'Invoke-ParallelMap -Session' {
    AfterEach { Reset-Hosts }

    It 'spreads the items over every session, each output telling its host' {
        $d = New-TempFolder
        try {
            $s = Get-TestSession
            # Each item waits (up to a minute) until items have started on every host: a run
            # that kept all items on the first workers up would wait out that minute and fail.
            $r = @(1..60 | Invoke-ParallelMap -Session $s -ThrottleLimit 2 -Variable @{ d = $d } {
                    Set-Content -LiteralPath (Join-Path $d $env:PARALLELMAP_HOST) -Value x
                    $deadline = [datetime]::UtcNow.AddSeconds(60)
                    while (@(Get-ChildItem -LiteralPath $d).Count -lt 3 -and [datetime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
                    [pscustomobject]@{ I = $_; Host = $env:PARALLELMAP_HOST }
                })
            $r.Count | Should -Be 60
            ($r.I | Sort-Object) | Should -Be (1..60)
            ($r.Host | Sort-Object -Unique) | Should -Be @('host1', 'host2', 'host3') -Because 'every session runs items'
            $r[0].PSComputerName | Should -Be '127.0.0.1'
        }
        finally { Remove-Item -LiteralPath $d -Recurse -Force -ErrorAction Ignore }
    }

    It 'keeps input order with -Ordered, and -NoComputerName leaves the outputs as they are' {
        $s = Get-TestSession
        $r = @(1..200 | Invoke-ParallelMap -Session $s -ThrottleLimit 2 -Ordered -NoComputerName { if ($_ % 7 -eq 0) { Start-Sleep -Milliseconds 20 }; $_ * 3 })
        $r | Should -Be (1..200 | ForEach-Object { $_ * 3 })
        $r[0].PSObject.Properties['PSComputerName'] | Should -BeNullOrEmpty
    }

    It 'runs the initialization script once per remote worker, and the cleanup script at its end' {
        $d = New-TempFolder
        try {
            $s = Get-TestSession
            # A worker is one remote pwsh: its init and cleanup each add one line to files named by its PID.
            $r = @(1..40 | Invoke-ParallelMap -Session $s -ThrottleLimit 2 -Variable @{ d = $d } `
                    -InitializationScript { Add-Content -LiteralPath (Join-Path $d "init-$PID") -Value $env:PARALLELMAP_HOST } `
                    -CleanupScript { Add-Content -LiteralPath (Join-Path $d "cleanup-$PID") -Value x } `
                { Start-Sleep -Milliseconds 20; $PID })
            $r.Count | Should -Be 40
            $inits = @(Get-ChildItem -LiteralPath $d -Filter 'init-*')
            $inits.Count | Should -BeLessOrEqual 6 -Because 'at most two workers per session'
            foreach ($f in $inits) { @(Get-Content -LiteralPath $f.FullName).Count | Should -Be 1 -Because 'init runs once per worker' }
            foreach ($p in ($r | Sort-Object -Unique)) { Test-Path -LiteralPath (Join-Path $d "init-$p") | Should -BeTrue -Because 'every worker that ran items ran its init first' }
            $cleanups = @(Get-ChildItem -LiteralPath $d -Filter 'cleanup-*')
            ($cleanups.Name -replace '^cleanup-') | Sort-Object | Should -Be ($inits.Name -replace '^init-' | Sort-Object)
            foreach ($f in $cleanups) { @(Get-Content -LiteralPath $f.FullName).Count | Should -Be 1 }
        }
        finally { Remove-Item -LiteralPath $d -Recurse -Force -ErrorAction Ignore }
    }

    It 'copies $using: and -Variable values and defines -Function remotely' {
        $s = Get-TestSession
        $table = @{ Name = 'local' }
        $factor = 5
        function Get-Twice($x) { 2 * $x }
        $r = @(1..6 | Invoke-ParallelMap -Session $s -Variable @{ Cfg = $table } -Function Get-Twice {
                $Cfg.Name = 'changed remotely'
                (Get-Twice $_) * $using:factor
            })
        ($r | Sort-Object) | Should -Be (10, 20, 30, 40, 50, 60)
        $table.Name | Should -Be 'local' -Because 'a remote worker gets a serialized copy'
    }

    It 'forwards errors with the input as target and the host in the message' {
        # The item sees the caller's $ErrorActionPreference, as ForEach-Object's script block does:
        # the test runner's is Stop (build.ps1), under which Write-Error ends the item. That, not a
        # race, was the output "lost" in CI; each preference is now set and checked here.
        $ErrorActionPreference = 'Continue'
        $s = Get-TestSession
        $r = @(1..4 | Invoke-ParallelMap -Session $s { if ($_ -eq 3) { Write-Error "bad $_" }; $_ } -ErrorVariable ev -ErrorAction SilentlyContinue)
        ($r | Sort-Object) | Should -Be (1, 2, 3, 4) -Because 'a non-terminating error keeps the output'
        $ev.Count | Should -Be 1
        $ev[0].TargetObject | Should -Be 3
        "$($ev[0])" | Should -BeLike 'On 127.0.0.1: bad 3'

        $ErrorActionPreference = 'Stop'
        $r = @(1..4 | Invoke-ParallelMap -Session $s { if ($_ -eq 3) { Write-Error "bad $_" }; $_ } -ErrorVariable ev -ErrorAction SilentlyContinue)
        ($r | Sort-Object) | Should -Be (1, 2, 4) -Because 'under Stop the error ends item 3 before its output, as in-process'
        $ev.Count | Should -Be 1
        $ev[0].TargetObject | Should -Be 3
    }

    It 'retries an item that failed on one host on another host' {
        # host1 fails every item. A retry taken by host1's own worker (free first: its item
        # failed at once) would fail again and for good; each must go to another host.
        $s = Get-TestSession
        $r = @(1..12 | Invoke-ParallelMap -Session $s -ThrottleLimit 1 -RetryCount 1 -RetryDelaySeconds 0 -ErrorVariable ev -ErrorAction SilentlyContinue {
                if ($env:PARALLELMAP_HOST -eq 'host1') { throw "host1 cannot do $_" }
                [pscustomobject]@{ I = $_; Host = $env:PARALLELMAP_HOST }
            })
        $ev.Count | Should -Be 0 -Because 'every item that failed on host1 succeeded on its retry elsewhere'
        ($r.I | Sort-Object) | Should -Be (1..12)
        $r.Host | Should -Not -Contain 'host1'
    }

    It 'stops a remote item that runs past -TimeoutSeconds and goes on with a new worker' {
        $s = Get-TestSession 0
        $r = @(1..4 | Invoke-ParallelMap -Session $s -ThrottleLimit 1 -TimeoutSeconds 3 { if ($_ -eq 2) { Start-Sleep -Seconds 120 }; $_ } -ErrorVariable ev -ErrorAction SilentlyContinue)
        ($r | Sort-Object) | Should -Be (1, 3, 4)
        $ev.Count | Should -Be 1
        $ev[0].FullyQualifiedErrorId | Should -BeLike 'ItemTimedOut*'
    }

    It 'names the host when a -Module is missing there' {
        $s = Get-TestSession 0
        { 1 | Invoke-ParallelMap -Session $s -Module NoSuchModule_Remote { $_ } } | Should -Throw -ExpectedMessage '*127.0.0.1*NoSuchModule_Remote*'
        try { 1 | Invoke-ParallelMap -Session $s -Module NoSuchModule_Remote { $_ } } catch { $_.FullyQualifiedErrorId | Should -BeLike 'InitializationFailed*' }
    }

    It 'refuses a closed session up front with SessionNotUsable, naming it' {
        $h = $info.Hosts[0]
        $closed = New-LoopbackSession -Info $info -HostInfo $h -Name 'closed-one'
        Remove-PSSession $closed
        $ran = [System.Collections.Concurrent.ConcurrentBag[int]]::new()
        $err = $null
        try { 1..3 | Invoke-ParallelMap -Session (Get-TestSession 1), $closed -Variable @{ ran = $ran } { $ran.Add($_) } }
        catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'SessionNotUsable*'
        "$err" | Should -BeLike "*closed-one*"
        $ran.Count | Should -Be 0 -Because 'nothing runs before the sessions are checked'
    }

    It 'refuses -Pool and -Isolation with -Session (SessionParameterConflict)' {
        $s = Get-TestSession 0
        { 1 | Invoke-ParallelMap -Session $s -Isolation Process { $_ } } | Should -Throw -ErrorId 'SessionParameterConflict,*'
        { 1 | Invoke-ParallelMap -Session $s -MaxItemsPerWorker 3 { $_ } } | Should -Throw -ErrorId 'SessionParameterConflict,*'
    }

    It 'runs every item exactly once when a remote pwsh is killed mid-run' {
        # Only the workers' remote pwsh processes die; their sshd sessions and the host stay up.
        # PowerShell's SSH client could miss the end of such a worker's ssh (its stderr pipe held
        # open by an ssh forked at the same moment), and the item then waited for ever: the
        # channel watches the ssh process itself (SshClientWatch).
        $d = New-TempFolder
        try {
            $s = Get-TestSession
            $killer = Start-ThreadJob -ArgumentList $info.Hosts[0], $s[0], $d, (Get-Module LoopbackSshd).Path {
                param($h, $own, $d, $m)
                Import-Module $m
                $deadline = [datetime]::UtcNow.AddSeconds(120)
                while (@(Get-ChildItem -LiteralPath $d -Filter 'host1-*').Count -lt 5 -and [datetime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
                $ownPid = Invoke-Command -Session $own { $PID }
                $killed = @(Get-LoopbackHostPwsh -HostInfo $h | Where-Object { $_ -ne $ownPid })
                foreach ($k in $killed) { kill -9 $k }
                $killed.Count
            }
            $r = @(1..150 | Invoke-ParallelMap -Session $s -ThrottleLimit 2 -Variable @{ d = $d } {
                    Start-Sleep -Milliseconds 60
                    Set-Content -LiteralPath (Join-Path $d "$env:PARALLELMAP_HOST-$_-$([guid]::NewGuid())") -Value x
                    $_
                } -ErrorVariable ev)
            $killed = Receive-Job $killer -Wait -AutoRemoveJob
            $killed | Should -BeGreaterThan 0 -Because 'the test killed the remote pwsh of host1 workers'
            $ev.Count | Should -Be 0
            $r.Count | Should -Be 150
            ($r | Sort-Object) | Should -Be (1..150) -Because 'every item is passed on once'
            $s[0].State | Should -Be 'Opened' -Because 'the user''s own session was not touched'
        }
        finally { Remove-Item -LiteralPath $d -Recurse -Force -ErrorAction Ignore }
    }

    It 'goes on on the other sessions when a host dies, warning once that it is lost' {
        $s = Get-TestSession
        $h = $info.Hosts[1]
        $killer = Start-ThreadJob -ArgumentList $h, (Get-Module LoopbackSshd).Path {
            param($h, $m)
            Import-Module $m
            Start-Sleep -Seconds 1
            $deadline = [datetime]::UtcNow.AddSeconds(60)
            while (@(Get-LoopbackHostPwsh -HostInfo $h).Count -lt 2 -and [datetime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
            Start-Sleep -Seconds 2
            Stop-LoopbackHost -HostInfo $h -Listener
        }
        $r = @(1..300 | Invoke-ParallelMap -Session $s -ThrottleLimit 2 { Start-Sleep -Milliseconds 50; [pscustomobject]@{ I = $_; Host = $env:PARALLELMAP_HOST } } -WarningVariable wv -WarningAction SilentlyContinue)
        Receive-Job $killer -Wait -AutoRemoveJob
        $r.Count | Should -Be 300
        ($r.I | Sort-Object) | Should -Be (1..300)
        @($wv | Where-Object { "$_" -like "*session 'host2'*lost*" }).Count | Should -Be 1
        @($r | Where-Object Host -ne 'host2').Count | Should -BeGreaterThan 0
    }

    It 'ends with AllSessionsLost when every host is gone, after passing on what finished' {
        # Both hosts die once results have come back (a kill timed by the hosts' processes alone
        # came, on a slow machine, before any item had finished). A worker whose connection
        # breaks, during its set-up too, counts as lost, never as a failed set-up (which ended
        # the run with InitializationFailed while its runspace still said Opened).
        $s = Get-TestSession 0, 1
        $got = [System.Collections.Generic.List[object]]::new()
        $killer = Start-ThreadJob -ArgumentList $info.Hosts[0], $info.Hosts[1], (Get-Module LoopbackSshd).Path, $got {
            param($a, $b, $m, $got)
            Import-Module $m
            $deadline = [datetime]::UtcNow.AddSeconds(120)
            while ($got.Count -lt 30 -and [datetime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 20 }
            Stop-LoopbackHost -HostInfo $a -Listener
            Stop-LoopbackHost -HostInfo $b -Listener
        }
        $err = $null
        try { 1..2000 | Invoke-ParallelMap -Session $s -ThrottleLimit 1 -WarningAction SilentlyContinue -WarningVariable wv { Start-Sleep -Milliseconds 20; $_ } | ForEach-Object { $got.Add($_) } }
        catch { $err = $_ }
        Receive-Job $killer -Wait -AutoRemoveJob
        $err.FullyQualifiedErrorId | Should -BeLike 'AllSessionsLost*'
        @($wv | Where-Object { "$_" -like '*is lost*' }).Count | Should -Be 2 -Because 'each host''s loss is warned of once'
        @($wv | Where-Object { "$_" -like '*no session of the run is left*' }).Count | Should -BeGreaterThan 0 -Because 'the last loss does not say that other sessions take its items'
        $got.Count | Should -BeGreaterThan 0 -Because 'what finished before the hosts died was passed on'
        $got.Count | Should -BeLessThan 2000
        @($got | Sort-Object -Unique).Count | Should -Be $got.Count -Because 'no item is passed on twice'
    }

    It 'keeps pwsh alive when a connection''s ssh dies with a write to it failed, the user''s own session too' {
        # PowerShell's SSH client closes a broken connection on a thread of its own, and when a
        # write to the dead ssh had failed, that close throws "Broken pipe" and ends the whole
        # process (a fresh-clone CI run lost its Pester process so, hosts killed under the run
        # taking an idle session of the user's with them). Here an ssh whose pipes outlive it by
        # 4 s (a stand-in for a stray child holding them) makes that order certain: its death,
        # a write failing, then the close. The run guards its workers' connections and the
        # sessions it is given (SshWriterGuard); without that the child pwsh dies at the close.
        $d = New-TempFolder
        try {
            $realSsh = (Get-Command ssh -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source
            $bin = Join-Path $d 'bin'
            $null = New-Item -ItemType Directory -Path $bin
            Set-Content -LiteralPath (Join-Path $bin 'ssh') -Value "#!/bin/sh`n(sleep 4) &`nexec '$realSsh' `"`$@`""
            chmod +x (Join-Path $bin 'ssh')
            $script = @"
`$ProgressPreference = 'SilentlyContinue'
Import-Module '$modulePath'
Import-Module '$((Get-Module LoopbackSshd).Path)'
`$env:PATH = '$bin' + [IO.Path]::PathSeparator + `$env:PATH
function Get-Ssh { @(Get-Descendant `$PID | Where-Object { try { [IO.File]::ReadAllText("/proc/`$_/cmdline") -like '$realSsh*' } catch { `$false } }) }
`$info = Get-LoopbackSshd '$($info.Directory)'
`$s = New-LoopbackSession -Info `$info -HostInfo `$info.Hosts[2]
`$own = Get-Ssh
`$killer = Start-ThreadJob -ArgumentList `$own, `${function:Get-Ssh}, `$PID, '$((Get-Module LoopbackSshd).Path)' {
    param(`$own, `$find, `$parent, `$m)
    Import-Module `$m
    `$deadline = [datetime]::UtcNow.AddSeconds(60)
    do { Start-Sleep -Milliseconds 100; `$w = @(& `$find | Where-Object { `$_ -notin `$own }) } until (`$w.Count -gt 0 -or [datetime]::UtcNow -gt `$deadline)
    Start-Sleep -Milliseconds 500
    foreach (`$k in `$w) { kill -9 `$k }
    `$w.Count
}
`$r = @(1..20 | Invoke-ParallelMap -Session `$s -ThrottleLimit 1 -WarningAction SilentlyContinue { Start-Sleep -Milliseconds 200; `$_ })
"killed `$(Receive-Job `$killer -Wait -AutoRemoveJob) items `$(`$r.Count)"
foreach (`$k in `$own) { kill -9 `$k }
Start-Sleep -Milliseconds 300
try { `$null = Invoke-Command -Session `$s { 1 } -ErrorAction Stop; 'wrote' } catch { 'write failed' }
Start-Sleep -Seconds 6
"session `$(`$s.State)"
'alive'
"@
            $encoded = [Convert]::ToBase64String([System.Text.Encoding]::Unicode.GetBytes($script))
            $out = @(& $pwsh -NoProfile -NonInteractive -EncodedCommand $encoded 2>&1 | ForEach-Object { "$_" })
            $LASTEXITCODE | Should -Be 0 -Because ($out -join "`n")
            $out | Should -Contain 'killed 1 items 20' -Because 'a worker''s ssh was killed under an item, which ran again'
            $out | Should -Contain 'write failed'
            $out | Should -Contain 'session Broken'
            $out | Should -Contain 'alive'
        }
        finally { Remove-Item -LiteralPath $d -Recurse -Force -ErrorAction Ignore }
    }

    It 'stops promptly on Ctrl-C with items hanging remotely, and leaves the sessions open and usable' {
        $d = New-TempFolder
        try {
            $s = Get-TestSession
            $p = Start-Pipeline -ModulePath $modulePath -Variables @{ s = $s; d = $d } -Script @'
1..50 | Invoke-ParallelMap -Session $s -ThrottleLimit 2 -Variable @{ d = $d } { Set-Content -LiteralPath (Join-Path $d "started-$_") -Value x; Start-Sleep -Seconds 600; $_ }
'@
            try {
                Wait-Until { @(Get-ChildItem -LiteralPath $d -Filter 'started-*').Count -ge 4 } -Seconds 120
                $sw = [System.Diagnostics.Stopwatch]::StartNew()
                $p.PowerShell.Stop()
                $sw.Stop()
            }
            finally { Stop-Pipeline $p }
            $sw.Elapsed.TotalSeconds | Should -BeLessThan 15
            foreach ($x in $s) {
                $x.State | Should -Be 'Opened'
                Invoke-Command -Session $x { 'still usable' } | Should -Be 'still usable'
            }
            # The workers' remote pwsh processes end with their connections.
            Wait-Until { @(foreach ($i in 0..2) { Get-WorkerPwsh $info.Hosts[$i] $s[$i] }).Count -eq 0 } -Seconds 30
        }
        finally { Remove-Item -LiteralPath $d -Recurse -Force -ErrorAction Ignore }
    }
}

Describe 'Invoke-ParallelRun and Start-ResumableBatch -Session' {
    AfterEach { Reset-Hosts }

    It 'Invoke-ParallelRun runs every item on the sessions' {
        $d = New-TempFolder
        try {
            $s = Get-TestSession
            1..30 | Invoke-ParallelRun -Session $s -Variable @{ d = $d } { Set-Content -LiteralPath (Join-Path $d "$_") -Value $env:PARALLELMAP_HOST }
            @(Get-ChildItem -LiteralPath $d).Count | Should -Be 30
        }
        finally { Remove-Item -LiteralPath $d -Recurse -Force -ErrorAction Ignore }
    }

    It 'keeps the host of each done key in the checkpoint, also of a key that returned nothing' {
        $d = New-TempFolder
        try {
            $cp = Join-Path $d 'cp'
            $null = 'quiet', 'loud' | Start-ResumableBatch -Path $cp -Session (Get-TestSession 0) { if ($_ -eq 'loud') { 'said' } }
            $saved = @(Receive-ResumableBatch $cp -IncludeKey | Sort-Object Key)
            $saved.Key | Should -Be 'loud', 'quiet'
            $saved.ComputerName | Should -Be '127.0.0.1', '127.0.0.1'
            @($saved[1].Result).Count | Should -Be 0
            $saved[0].Result | Should -Be 'said'

            $local = Join-Path $d 'local'
            $null = 'a' | Start-ResumableBatch -Path $local { $null = $_ }
            (Receive-ResumableBatch $local -IncludeKey).ComputerName | Should -BeNullOrEmpty -Because 'a key run on this machine names no host'
        }
        finally { Remove-Item -LiteralPath $d -Recurse -Force -ErrorAction Ignore }
    }

    It 'records every key once when the coordinator is killed and the batch resumed, keeping each result''s host' {
        $d = New-TempFolder
        $cp = Join-Path $d 'cp'
        $marks = Join-Path $d 'marks'
        $null = New-Item -ItemType Directory -Path $marks
        try {
            # The same item script for the run and its resume (a changed one is refused).
            $item = "Start-Sleep -Milliseconds 100; Set-Content -LiteralPath (Join-Path '$marks' `$_) -Value x; 'r-' + `$_"
            $itemFile = Join-Path $d 'item.ps1'
            Set-Content -LiteralPath $itemFile -Value $item
            $script = @"
`$ProgressPreference = 'SilentlyContinue'
Import-Module '$modulePath'
Import-Module '$((Get-Module LoopbackSshd).Path)'
`$info = Get-LoopbackSshd '$($info.Directory)'
`$s = @(`$info.Hosts[0..1] | ForEach-Object { New-LoopbackSession -Info `$info -HostInfo `$_ })
1..120 | ForEach-Object { "k`$_" } | Start-ResumableBatch -Path '$cp' -Session `$s -ThrottleLimit 2 -ChunkSize 5 -ChunkSeconds 1 ([scriptblock]::Create((Get-Content -Raw -LiteralPath '$itemFile'))) | Out-Null
"@
            $encoded = [Convert]::ToBase64String([System.Text.Encoding]::Unicode.GetBytes($script))
            $child = Start-Process -FilePath $pwsh -ArgumentList '-NoProfile', '-NonInteractive', '-EncodedCommand', $encoded -PassThru
            try {
                Wait-Until { @(Get-ChildItem -LiteralPath $marks).Count -ge 30 } -Seconds 180
                kill -9 $child.Id
                $child.WaitForExit(10000) | Should -BeTrue
            }
            finally { if (-not $child.HasExited) { $child.Kill() } }

            $mid = Get-ResumableBatch $cp
            $mid.Done | Should -BeLessThan 120
            $s = Get-TestSession 1, 2
            $null = 1..120 | ForEach-Object { "k$_" } | Start-ResumableBatch -Path $cp -Session $s -ThrottleLimit 2 ([scriptblock]::Create($item))
            $saved = @(Receive-ResumableBatch $cp -IncludeKey)
            $saved.Count | Should -Be 120
            ($saved.Key | Sort-Object -Unique).Count | Should -Be 120 -Because 'every key is recorded exactly once'
            foreach ($x in $saved) { $x.Result | Should -Be ('r-' + $x.Key) }
            @($saved | Where-Object { $_.Result.PSComputerName -eq '127.0.0.1' }).Count | Should -Be 120 -Because 'each result keeps the host that made it'
            @($saved | Where-Object { $_.ComputerName -eq '127.0.0.1' }).Count | Should -Be 120 -Because 'the checkpoint keeps the host of each key'
        }
        finally { Remove-Item -LiteralPath $d -Recurse -Force -ErrorAction Ignore }
    }
}

Describe 'New-ParallelPool -Session' {
    AfterEach { Reset-Hosts }

    It 'sets each connection up once and reuses it in later calls, undoing each call''s variables' {
        $d = New-TempFolder
        $pool = $null
        try {
            $s = Get-TestSession 0, 1
            $pool = New-ParallelPool -Session $s -ThrottleLimit 2 -Variable @{ d = $d; pv = 'pool' } -InitializationScript {
                Set-Content -LiteralPath (Join-Path $d "init-$PID") -Value x
            } -CleanupScript { "cleanup $env:PARALLELMAP_HOST" }
            $pool.Size | Should -Be 4 -Because '-ThrottleLimit is per session'

            $first = @(1..40 | Invoke-ParallelMap -Pool $pool -Variable @{ cv = 'one' } { [pscustomobject]@{ I = $_; Pid = $PID; Cv = $cv; Pv = $pv } })
            $first.Count | Should -Be 40
            ($first.Cv | Sort-Object -Unique) | Should -Be 'one'
            ($first.Pv | Sort-Object -Unique) | Should -Be 'pool'
            $inits = @(Get-ChildItem -LiteralPath $d -Filter 'init-*')
            $inits.Count | Should -BeLessOrEqual 4
            $pool.IdleRunspaces | Should -Be $inits.Count -Because 'every connection went back to the pool'

            $second = @(1..40 | Invoke-ParallelMap -Pool $pool { [pscustomobject]@{ I = $_; Pid = $PID; Cv = "[$cv]" } })
            ($second.I | Sort-Object) | Should -Be (1..40)
            @(Get-ChildItem -LiteralPath $d -Filter 'init-*').Count | Should -Be $inits.Count -Because 'no connection was opened or set up again'
            $initPids = $inits.Name | ForEach-Object { [int]($_ -replace 'init-', '') }
            $second.Pid | Where-Object { $_ -notin $initPids } | Should -BeNullOrEmpty -Because 'the second call ran on the pool''s connections'
            ($second.Cv | Sort-Object -Unique) | Should -Be '[]' -Because 'the first call''s -Variable was undone'
            (@($second)[0] | Invoke-ParallelMap -Pool $pool { $_ }).PSComputerName | Should -Be '127.0.0.1'

            $cleanup = @(Remove-ParallelPool $pool)
            $pool = $null
            $cleanup.Count | Should -Be $inits.Count -Because 'the cleanup script ran once per connection'
            $s[0].State | Should -Be 'Opened' -Because 'the user''s sessions stay open'
        }
        finally {
            if ($pool) { Remove-ParallelPool $pool }
            Remove-Item -LiteralPath $d -Recurse -Force -ErrorAction Ignore
        }
    }

    It 'refuses -IdleTimeoutSeconds with -Session, and a closed session, up front' {
        { New-ParallelPool -Session (Get-TestSession 0) -IdleTimeoutSeconds 5 } | Should -Throw -ErrorId 'SessionParameterConflict*'
        { New-ParallelPool -Session (Get-TestSession 0) -Isolation Process } | Should -Throw -ErrorId 'SessionParameterConflict*'
        $closed = New-LoopbackSession -Info $info -HostInfo $info.Hosts[0] -Name 'closed-pool'
        Remove-PSSession $closed
        { New-ParallelPool -Session $closed } | Should -Throw -ErrorId 'SessionNotUsable*'
    }
}
