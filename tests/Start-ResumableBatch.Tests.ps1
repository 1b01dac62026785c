#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Start-ResumableBatch against the built module (./build.ps1 puts it in out/ParallelMap).

BeforeAll {
    $modulePath = if ($env:PARALLELMAP_MODULE) { $env:PARALLELMAP_MODULE } else { Join-Path $PSScriptRoot '../out/ParallelMap/ParallelMap.psd1' }
    $modulePath = (Resolve-Path $modulePath).Path
    Import-Module $modulePath -Force
    . (Join-Path $PSScriptRoot '../tools/Pwsh.ps1')
    $pwsh = Get-PwshPath

    function New-TempFolder {
        $d = Join-Path ([System.IO.Path]::GetTempPath()) ('pm-rb-' + [guid]::NewGuid().ToString('N'))
        $null = New-Item -ItemType Directory -Path $d
        $d
    }

    function Wait-Until([scriptblock] $Condition, [int] $Seconds = 60) {
        $deadline = [datetime]::UtcNow.AddSeconds($Seconds)
        while (-not (& $Condition)) {
            if ([datetime]::UtcNow -gt $deadline) { throw "condition not met in $Seconds s: $Condition" }
            Start-Sleep -Milliseconds 50
        }
    }

    # A child pwsh running a batch over i1..iN: slow enough to be interrupted half-way.
    function Start-ChildBatch([string] $Path, [int] $Count, [int] $SleepMs) {
        $script = @"
Import-Module '$modulePath'
1..$Count | ForEach-Object { "i`$_" } | Start-ResumableBatch -Path '$Path' -ThrottleLimit 2 -ChunkSize 5 -ChunkSeconds 0.2 { Start-Sleep -Milliseconds $SleepMs; "r-`$_" } | Out-Null
"@
        # -EncodedCommand: the script's quotes survive the trip through the process arguments.
        $encoded = [Convert]::ToBase64String([System.Text.Encoding]::Unicode.GetBytes($script))
        Start-Process -FilePath $pwsh -ArgumentList '-NoProfile', '-NonInteractive', '-EncodedCommand', $encoded -PassThru
    }

    $script:sleepScript = { Start-Sleep -Milliseconds 30; "r-$_" }
}

AfterAll {
    Get-ChildItem ([System.IO.Path]::GetTempPath()) -Filter 'pm-rb-*' -Directory -ErrorAction SilentlyContinue | Remove-Item -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Start-ResumableBatch: run and resume' {
    BeforeEach { $dir = New-TempFolder; $cp = Join-Path $dir 'cp' }
    AfterEach { Remove-Item $dir -Recurse -Force -ErrorAction SilentlyContinue }

    It 'runs every item once and returns a summary' {
        $s = 1..30 | ForEach-Object { "k$_" } | Start-ResumableBatch -Path $cp { $_.ToUpper() }
        $s.Path | Should -Be $cp
        $s.Total | Should -Be 30
        $s.Done | Should -Be 30
        $s.Failed | Should -Be 0
        $s.Skipped | Should -Be 0
        $s.Elapsed | Should -BeOfType [timespan]
        (Receive-ResumableBatch $cp | Sort-Object) | Should -Be (1..30 | ForEach-Object { "K$_" } | Sort-Object)
    }

    It 'skips done keys on resume without running them' {
        $ran = [System.Collections.Concurrent.ConcurrentBag[string]]::new()
        $null = 1..10 | ForEach-Object { "k$_" } | Start-ResumableBatch -Path $cp -Variable @{ ran = $ran } { $ran.Add($_); $_ }
        $ran = [System.Collections.Concurrent.ConcurrentBag[string]]::new()
        $s = 1..15 | ForEach-Object { "k$_" } | Start-ResumableBatch -Path $cp -Variable @{ ran = $ran } { $ran.Add($_); $_ }
        $s.Skipped | Should -Be 10
        $s.Done | Should -Be 5
        ($ran | Sort-Object) | Should -Be ('k11', 'k12', 'k13', 'k14', 'k15')
    }

    It 'resumes after a stop in the middle of a run, with every key recorded once' {
        $rs = [runspacefactory]::CreateRunspace()
        $rs.Open()
        $rs.SessionStateProxy.SetVariable('sb', $sleepScript)
        $ps = [powershell]::Create()
        $ps.Runspace = $rs
        $null = $ps.AddScript("Import-Module '$modulePath'; 1..150 | ForEach-Object { ""i`$_"" } | Start-ResumableBatch -Path '$cp' -ThrottleLimit 2 -ChunkSize 7 `$sb")
        $null = $ps.BeginInvoke()
        Wait-Until { (Test-Path (Join-Path $cp 'journal.log')) -and (Get-ResumableBatch $cp).Done -ge 20 }
        $ps.Stop()
        $ps.Dispose()
        $rs.Dispose()
        $mid = Get-ResumableBatch $cp
        $mid.Done | Should -BeLessThan 150
        $mid.IsRunning | Should -BeFalse

        $s = 1..150 | ForEach-Object { "i$_" } | Start-ResumableBatch -Path $cp -ThrottleLimit 2 $sleepScript
        $s.Skipped | Should -Be $mid.Done
        $s.Done | Should -Be (150 - $mid.Done)
        $all = @(Receive-ResumableBatch $cp)
        $all.Count | Should -Be 150
        ($all | Sort-Object) | Should -Be (1..150 | ForEach-Object { "r-i$_" } | Sort-Object)
    }

    It 'resumes after the running pwsh is killed with SIGKILL, nothing lost and nothing twice' {
        $child = Start-ChildBatch -Path $cp -Count 120 -SleepMs 40
        try {
            Wait-Until { (Test-Path (Join-Path $cp 'journal.log')) -and (Get-ResumableBatch $cp -ErrorAction SilentlyContinue).Done -ge 15 }
        }
        finally {
            # Process.Kill sends SIGKILL on Linux and macOS: no cleanup runs in the child.
            $child.Kill()
            $child.WaitForExit()
        }

        $mid = Get-ResumableBatch $cp
        $mid.Done | Should -BeLessThan 120
        $mid.LockIsStale | Should -BeTrue
        $s = 1..120 | ForEach-Object { "i$_" } | Start-ResumableBatch -Path $cp -ThrottleLimit 2 -ChunkSize 5 -ChunkSeconds 0.2 { Start-Sleep -Milliseconds 40; "r-$_" }
        $s.Skipped + $s.Done | Should -Be 120
        $status = Get-ResumableBatch $cp
        $status.Done | Should -Be 120
        $status.Pending | Should -Be 0
        $all = @(Receive-ResumableBatch $cp -IncludeKey)
        $all.Count | Should -Be 120
        @($all.Key | Sort-Object -Unique).Count | Should -Be 120
        foreach ($r in $all) { $r.Result | Should -Be "r-$($r.Key)" }
    }

    It 're-runs failed keys only with -RetryFailed' {
        $sb = { if ($_ -eq 'k3' -and -not $env:PM_TEST_FIXED) { throw 'three failed' }; $_ }
        $env:PM_TEST_FIXED = $null
        try {
            $s = 1..5 | ForEach-Object { "k$_" } | Start-ResumableBatch -Path $cp $sb -ErrorVariable ev -ErrorAction SilentlyContinue
            $s.Failed | Should -Be 1
            $ev[0].TargetObject | Should -Be 'k3'
            $ev[0].FullyQualifiedErrorId | Should -Be 'three failed'
            $failure = Receive-ResumableBatch $cp -Failed
            $failure.Key | Should -Be 'k3'
            $failure.Error | Should -Be 'three failed'
            $failure.Attempts | Should -Be 1

            $env:PM_TEST_FIXED = '1'
            $again = 1..5 | ForEach-Object { "k$_" } | Start-ResumableBatch -Path $cp $sb
            $again.Done | Should -Be 0
            $again.Skipped | Should -Be 5
            $retry = 1..5 | ForEach-Object { "k$_" } | Start-ResumableBatch -Path $cp -RetryFailed $sb
            $retry.Done | Should -Be 1
            (Get-ResumableBatch $cp).Failed | Should -Be 0
            (Receive-ResumableBatch $cp -Key k3) | Should -Be 'k3'
        }
        finally { $env:PM_TEST_FIXED = $null }
    }

    It 'keys objects by -KeyProperty and -KeyScript' {
        $items = 1..6 | ForEach-Object { [pscustomobject]@{ Id = "id$_"; N = $_ } }
        $s = $items | Start-ResumableBatch -Path $cp -KeyProperty Id { $_.N * 2 }
        $s.Done | Should -Be 6
        (Receive-ResumableBatch $cp -Key id4) | Should -Be 8
        $cp2 = Join-Path $dir 'cp2'
        $s2 = $items | Start-ResumableBatch -Path $cp2 -KeyScript { "n-$($_.N)" } { $_.N }
        $s2.Done | Should -Be 6
        (Receive-ResumableBatch $cp2 -Key n-5) | Should -Be 5
    }

    It 'streams results with -PassThru and returns no summary' {
        $r = 1..5 | ForEach-Object { "k$_" } | Start-ResumableBatch -Path $cp -PassThru { "out-$_" }
        ($r | Sort-Object) | Should -Be ('out-k1', 'out-k2', 'out-k3', 'out-k4', 'out-k5')
    }

    It 'saves results as CliXml with their properties' {
        $null = 'a' | Start-ResumableBatch -Path $cp { [pscustomobject]@{ Name = $_; Size = 42; When = [datetime]'2020-01-02' } }
        $r = Receive-ResumableBatch $cp
        $r.Name | Should -Be 'a'
        $r.Size | Should -Be 42
        $r.When | Should -Be ([datetime]'2020-01-02')
    }

    It 'round-trips strings, numbers and members exactly as CliXml does' {
        $values = @{ k1 = '<a&b>'; k2 = "two`nlines"; k3 = 'under_score _x0041_'; k4 = 'plain'; k5 = 42; k6 = [long]1e12 }
        $null = $values.Keys | Start-ResumableBatch -Path $cp -Variable @{ values = $values } { $values[$_] }
        foreach ($k in $values.Keys) {
            $r = Receive-ResumableBatch $cp -Key $k
            $r | Should -Be $values[$k]
            $r.GetType() | Should -Be $values[$k].GetType()
        }
        $cp2 = Join-Path $dir 'cp2'
        $null = 'a' | Start-ResumableBatch -Path $cp2 { 'tagged' | Add-Member -NotePropertyName Tag -NotePropertyValue 7 -PassThru }
        (Receive-ResumableBatch $cp2).Tag | Should -Be 7
    }

    It 'keeps the members PowerShell puts on a value (a Get-Content line''s PSPath), and only those' {
        $file = Join-Path $dir 'lines.txt'
        Set-Content -LiteralPath $file -Value 'first line'
        $null = 'a', 'b' | Start-ResumableBatch -Path $cp -Variable @{ file = $file } { if ($_ -eq 'a') { Get-Content -LiteralPath $file -TotalCount 1 } else { 'plain' } }
        $line = Receive-ResumableBatch $cp -Key a
        $line | Should -Be 'first line'
        $line.PSPath | Should -Not -BeNullOrEmpty
        $line.ReadCount | Should -Be 1
        $plain = Receive-ResumableBatch $cp -Key b
        $plain | Should -Be 'plain'
        $plain.psobject.Properties.Match('*', 'NoteProperty').Count | Should -Be 0
    }

    It 'saves finished results within the chunk time bound while a slow item still runs' {
        $rs = [runspacefactory]::CreateRunspace()
        $rs.Open()
        $ps = [powershell]::Create()
        $ps.Runspace = $rs
        $null = $ps.AddScript("Import-Module '$modulePath'; 't1', 't2', 't3' | Start-ResumableBatch -Path '$cp' -ChunkSize 1000 -ChunkSeconds 0.3 { if (`$_ -eq 't3') { Start-Sleep -Seconds 60 }; `$_ }")
        $null = $ps.BeginInvoke()
        try {
            # Two results are far from a full chunk, yet the time bound saves them while t3 runs.
            Wait-Until { (Test-Path (Join-Path $cp 'journal.log')) -and (Get-ResumableBatch $cp).Done -ge 2 } -Seconds 20
        }
        finally {
            $ps.Stop(); $ps.Dispose(); $rs.Dispose()
        }
    }

    It 'discards the checkpoint with -Restart -Force' {
        $null = 1..3 | ForEach-Object { "k$_" } | Start-ResumableBatch -Path $cp { 'old' }
        $s = 'k1' | Start-ResumableBatch -Path $cp -Restart -Force { 'new' }
        $s.Done | Should -Be 1
        Receive-ResumableBatch $cp | Should -Be 'new'
        (Get-ResumableBatch $cp).Seen | Should -Be 1
    }

    It 'fails -Restart with RestartNotConfirmed where it cannot ask (-NonInteractive, stdin at its end), discarding nothing' {
        # A scheduled task without -Force: PowerShell's own errors there (InvalidOperation, and a
        # bare NullReferenceException from the console host when stdin is /dev/null, as under
        # cron) did not say what to do.
        $null = 1..2 | ForEach-Object { "k$_" } | Start-ResumableBatch -Path $cp { 'old' }
        $script = Join-Path $TestDrive 'restart.ps1'
        Set-Content -LiteralPath $script -Value @"
Import-Module '$modulePath'
try { 'k1' | Start-ResumableBatch -Path '$cp' -Restart { 'new' } | Out-Null; 'restarted' }
catch { `$_.FullyQualifiedErrorId; `$_.Exception.Message }
"@
        $nonInteractive = @(& $pwsh -NoProfile -NonInteractive -File $script 2>&1 | ForEach-Object { "$_" })
        $nonInteractive[0] | Should -Be 'RestartNotConfirmed,ParallelMap.Commands.StartResumableBatchCommand'
        $nonInteractive[1] | Should -BeLike '*-Force*'
        $noStdin = @(bash -c "'$pwsh' -NoProfile -File '$script' < /dev/null" 2>&1 | ForEach-Object { "$_" })
        # The console host prints its prompt, with no line end, before it fails.
        ($noStdin -join "`n") | Should -Match '(^|\s)RestartNotConfirmed,ParallelMap\.Commands\.StartResumableBatchCommand\n'
        (Get-ResumableBatch $cp).Done | Should -Be 2 -Because 'nothing recorded was discarded'
        @(Receive-ResumableBatch $cp) | Should -Be @('old', 'old')
    }

    It 'refuses -Restart on a folder that is not a checkpoint, and deletes nothing' {
        New-Item -ItemType Directory -Path (Join-Path $cp 'src') -Force | Out-Null
        Set-Content -LiteralPath (Join-Path $cp 'README.txt') -Value 'precious'
        { 'a' | Start-ResumableBatch -Path $cp -Restart -Force { $_ } } | Should -Throw -ErrorId 'CheckpointFolderNotEmpty,*'
        Get-Content -LiteralPath (Join-Path $cp 'README.txt') | Should -Be 'precious'
        Test-Path (Join-Path $cp 'src') | Should -BeTrue
    }

    It 'refuses -Restart when the checkpoint folder holds files it did not make' {
        $null = 'a' | Start-ResumableBatch -Path $cp { 'old' }
        Set-Content -LiteralPath (Join-Path $cp 'notes.txt') -Value 'mine'
        { 'a' | Start-ResumableBatch -Path $cp -Restart -Force { 'new' } } | Should -Throw -ErrorId 'CheckpointFolderNotEmpty,*'
        Get-Content -LiteralPath (Join-Path $cp 'notes.txt') | Should -Be 'mine'
        Receive-ResumableBatch $cp | Should -Be 'old'
    }

    It 'restarts without asking with -Confirm:$false' {
        $null = 'a' | Start-ResumableBatch -Path $cp { 'old' }
        $s = 'a' | Start-ResumableBatch -Path $cp -Restart -Confirm:$false { 'new' }
        $s.Done | Should -Be 1
        Receive-ResumableBatch $cp | Should -Be 'new'
    }

    It 'runs nothing and makes no checkpoint with -WhatIf' {
        $ran = [System.Collections.Concurrent.ConcurrentBag[int]]::new()
        'a' | Start-ResumableBatch -Path $cp -WhatIf -Variable @{ ran = $ran } { $ran.Add(1) }
        $ran.Count | Should -Be 0
        Test-Path $cp | Should -BeFalse
    }

    It 'fails the run when the last save fails, and reports nothing as done' {
        { 'a', 'b' | Start-ResumableBatch -Path $cp -SaveScript { param($ChunkPath, $Results, $Keys) throw 'x' } { $_ } } | Should -Throw -ErrorId 'CheckpointSaveFailed,*'
        (Get-ResumableBatch $cp).Done | Should -Be 0
    }

    It 'does not count items refused for their key as pending' {
        $s = 'a', '', 'b', 'a' | Start-ResumableBatch -Path $cp { $_ } -ErrorAction SilentlyContinue
        $s.Done | Should -Be 2
        $s.Pending | Should -Be 0
    }

    It 'counts items refused for their key as Rejected, so the summary adds up' {
        $s = 'a', '', 'b', 'a', $null | Start-ResumableBatch -Path $cp { $_ } -ErrorAction SilentlyContinue
        $s.Total | Should -Be 5
        $s.Rejected | Should -Be 3
        ($s.Done + $s.Failed + $s.Skipped + $s.Rejected + $s.Pending) | Should -Be $s.Total
    }

    It 'keeps the checkpoint with -Restart -WhatIf' {
        $null = 'k1' | Start-ResumableBatch -Path $cp { 'kept' }
        'k1' | Start-ResumableBatch -Path $cp -Restart -WhatIf { 'new' }
        Receive-ResumableBatch $cp | Should -Be 'kept'
    }
}

Describe 'Start-ResumableBatch: an item''s output is its result (issue 10)' {
    BeforeAll {
        # These tests are about the default preference; build.ps1 runs the suite under Stop.
        $ErrorActionPreference = 'Continue'
    }

    BeforeEach { $dir = New-TempFolder; $cp = Join-Path $dir 'cp' }
    AfterEach { Remove-Item $dir -Recurse -Force -ErrorAction SilentlyContinue }

    It 'records the output of an item that ends with exit 0 as its result' {
        $s = 'k1', 'k2', 'k3' | Start-ResumableBatch -Path $cp { "r-$_"; exit 0; 'not reached' }
        $s.Done | Should -Be 3
        $s.Failed | Should -Be 0
        $all = @(Receive-ResumableBatch $cp -IncludeKey | Sort-Object Key)
        $all.Key | Should -Be 'k1', 'k2', 'k3'
        foreach ($r in $all) { $r.Result | Should -Be "r-$($r.Key)" }
    }

    It 'records an item that exits with a non-zero code as failed, never as done' {
        $s = 'k1', 'k2' | Start-ResumableBatch -Path $cp { "r-$_"; if ($_ -eq 'k2') { exit 5 } } -ErrorVariable ev -ErrorAction SilentlyContinue
        $s.Done | Should -Be 1
        $s.Failed | Should -Be 1
        $ev[0].FullyQualifiedErrorId | Should -BeLike 'ItemExited,*'
        $ev[0].TargetObject | Should -Be 'k2'
        (Receive-ResumableBatch $cp -Failed).Key | Should -Be 'k2'
        (Receive-ResumableBatch $cp -Failed).Error | Should -Match 'exit 5'
        Receive-ResumableBatch $cp | Should -Be 'r-k1'
    }

    It 'records the output of an item that wrote a non-terminating error, and shows the error' {
        $s = 'k1', 'k2' | Start-ResumableBatch -Path $cp { Write-Error "soft $_"; "r-$_" } -ErrorVariable ev -ErrorAction SilentlyContinue
        $s.Done | Should -Be 2
        $s.Failed | Should -Be 0
        $ev.Count | Should -Be 2
        ($ev.TargetObject | Sort-Object) | Should -Be 'k1', 'k2'
        $ev[0].FullyQualifiedErrorId | Should -Be 'Microsoft.PowerShell.Commands.WriteErrorException'
        (Receive-ResumableBatch $cp | Sort-Object) | Should -Be 'r-k1', 'r-k2'
    }

    It 'neither records nor passes on (-PassThru) a failed key''s partial output; -RetryFailed records the full one once' {
        $env:PM_TEST_FIXED = $null
        try {
            $sb = { "partial-$_"; if ($_ -eq 'k2' -and -not $env:PM_TEST_FIXED) { throw 'late' }; "full-$_" }
            $out = 'k1', 'k2' | Start-ResumableBatch -Path $cp -PassThru $sb -ErrorVariable ev -ErrorAction SilentlyContinue
            ($out | Sort-Object) | Should -Be 'full-k1', 'partial-k1'
            $ev.Count | Should -Be 1
            (Receive-ResumableBatch $cp -Failed).Key | Should -Be 'k2'
            @(Receive-ResumableBatch $cp -IncludeKey).Key | Should -Be 'k1'

            $env:PM_TEST_FIXED = '1'
            $again = 'k1', 'k2' | Start-ResumableBatch -Path $cp -RetryFailed -PassThru $sb
            $again | Should -Be 'partial-k2', 'full-k2'
            $k2 = @(Receive-ResumableBatch $cp -IncludeKey | Where-Object Key -eq 'k2')
            $k2.Count | Should -Be 1
            $k2[0].Result | Should -Be 'partial-k2', 'full-k2'
        }
        finally { $env:PM_TEST_FIXED = $null }
    }
}

Describe 'Start-ResumableBatch: -SaveScript' {
    BeforeEach { $dir = New-TempFolder; $cp = Join-Path $dir 'cp' }
    AfterEach { Remove-Item $dir -Recurse -Force -ErrorAction SilentlyContinue }

    It 'runs on the caller''s thread with every result in chunks' {
        $calls = [System.Collections.Generic.List[object]]::new()
        $callerThread = [Environment]::CurrentManagedThreadId
        $s = 1..10 | ForEach-Object { "k$_" } | Start-ResumableBatch -Path $cp -ChunkSize 4 -SaveScript {
            param($ChunkPath, $Results, $Keys)
            $calls.Add([pscustomobject]@{ Path = $ChunkPath; Keys = @($Keys); Results = @($Results); Thread = [Environment]::CurrentManagedThreadId })
        } { "v-$_" }
        $s.Done | Should -Be 10
        ($calls.Keys | Sort-Object) | Should -Be (1..10 | ForEach-Object { "k$_" } | Sort-Object)
        foreach ($c in $calls) {
            $c.Thread | Should -Be $callerThread
            $c.Keys.Count | Should -BeLessOrEqual 4
            for ($i = 0; $i -lt $c.Keys.Count; $i++) { $c.Results[$i] | Should -Be "v-$($c.Keys[$i])" }
            $c.Path | Should -BeLike "$cp*"
        }
    }

    It 'receives every result exactly once across a stop and a resume' {
        $saved = [System.Collections.Concurrent.ConcurrentBag[string]]::new()
        $save = { param($ChunkPath, $Results, $Keys) foreach ($k in $Keys) { $saved.Add($k) } }
        $rs = [runspacefactory]::CreateRunspace()
        $rs.Open()
        $rs.SessionStateProxy.SetVariable('saved', $saved)
        $rs.SessionStateProxy.SetVariable('save', $save)
        $rs.SessionStateProxy.SetVariable('sb', $sleepScript)
        $ps = [powershell]::Create()
        $ps.Runspace = $rs
        $null = $ps.AddScript("Import-Module '$modulePath'; 1..100 | ForEach-Object { ""s`$_"" } | Start-ResumableBatch -Path '$cp' -ThrottleLimit 2 -ChunkSize 3 -SaveScript `$save `$sb")
        $null = $ps.BeginInvoke()
        Wait-Until { $saved.Count -ge 12 }
        $ps.Stop()
        $ps.Dispose()
        $rs.Dispose()
        $mid = $saved.Count
        $mid | Should -BeLessThan 100

        $null = 1..100 | ForEach-Object { "s$_" } | Start-ResumableBatch -Path $cp -ThrottleLimit 2 -ChunkSize 3 -SaveScript $save $sleepScript
        $saved.Count | Should -Be 100
        @($saved | Sort-Object -Unique).Count | Should -Be 100
        (Get-ResumableBatch $cp).Done | Should -Be 100
    }

    It 'records nothing done when the save script throws, and stops with CheckpointSaveFailed' {
        { 1..5 | ForEach-Object { "k$_" } | Start-ResumableBatch -Path $cp -ChunkSize 2 -SaveScript { throw 'disk full' } { $_ } } |
            Should -Throw -ErrorId 'CheckpointSaveFailed,*'
        (Get-ResumableBatch $cp).Done | Should -Be 0
    }

    It 'records nothing done when the save script only writes an error (a failed Set-Content)' {
        $missing = Join-Path $dir 'no-such-folder'
        { 1..3 | ForEach-Object { "k$_" } | Start-ResumableBatch -Path $cp -Variable @{ missing = $missing } -SaveScript {
                param($ChunkPath, $Results, $Keys)
                $Results | Set-Content -LiteralPath (Join-Path $missing 'out.txt')
            } { $_ } } | Should -Throw -ErrorId 'CheckpointSaveFailed,*'
        (Get-ResumableBatch $cp).Done | Should -Be 0
        $s = 1..3 | ForEach-Object { "k$_" } | Start-ResumableBatch -Path $cp { $_ }
        $s.Done | Should -Be 3
    }
}

Describe 'Start-ResumableBatch: locks, damage and bad input' {
    BeforeEach { $dir = New-TempFolder; $cp = Join-Path $dir 'cp' }
    AfterEach { Remove-Item $dir -Recurse -Force -ErrorAction SilentlyContinue }

    It 'refuses a checkpoint another pwsh holds, naming the holder, and takes it over once that process is gone' {
        $child = Start-ChildBatch -Path $cp -Count 400 -SleepMs 200
        try {
            Wait-Until { (Test-Path (Join-Path $cp 'journal.log')) -and (Get-ResumableBatch $cp -ErrorAction SilentlyContinue).IsRunning }
            # A different script too: the live lock is what must be reported.
            $err = { 'i1' | Start-ResumableBatch -Path $cp { $_ } } | Should -Throw -ErrorId 'CheckpointLocked,*' -PassThru
            $err.Exception.Message | Should -Match "\b$($child.Id)\b"
            (Get-ResumableBatch $cp).LockHolder | Should -Match "\b$($child.Id)\b"
        }
        finally {
            $child.Kill()
            $child.WaitForExit()
        }

        (Get-ResumableBatch $cp).LockIsStale | Should -BeTrue
        $s = 1..400 | ForEach-Object { "i$_" } | Start-ResumableBatch -Path $cp -ThrottleLimit 4 -ChunkSize 5 -ChunkSeconds 0.2 { Start-Sleep -Milliseconds 200; "r-$_" }
        $s.Skipped + $s.Done | Should -Be 400
    }

    It 'refuses a damaged checkpoint with CheckpointCorrupt and leaves it byte for byte' {
        $null = 1..50 | ForEach-Object { "k$_" } | Start-ResumableBatch -Path $cp -ChunkSize 10 { $_ }
        $journal = Join-Path $cp 'journal.log'
        $bytes = [System.IO.File]::ReadAllBytes($journal)
        $middle = [int]($bytes.Length / 2)
        # Change a key character in a middle record (not the last one, which may be torn).
        while ($bytes[$middle] -ne [byte][char]'k') { $middle++ }
        $bytes[$middle + 1] = [byte][char]'Z'
        [System.IO.File]::WriteAllBytes($journal, $bytes)
        $before = (Get-FileHash $journal).Hash
        { 'k1' | Start-ResumableBatch -Path $cp { $_ } } | Should -Throw -ErrorId 'CheckpointCorrupt,*'
        { Get-ResumableBatch $cp -ErrorAction Stop } | Should -Throw -ErrorId 'CheckpointCorrupt,*'
        (Get-FileHash $journal).Hash | Should -Be $before
    }

    It 'refuses a changed script block unless -Force' {
        $null = 'k1' | Start-ResumableBatch -Path $cp { 1 }
        { 'k2' | Start-ResumableBatch -Path $cp { 2 } } | Should -Throw -ErrorId 'CheckpointFingerprintMismatch,*'
        $s = 'k2' | Start-ResumableBatch -Path $cp -Force { 2 }
        $s.Done | Should -Be 1
    }

    It 'refuses a path whose parent does not exist' {
        { 'k' | Start-ResumableBatch -Path (Join-Path $dir 'no/such/cp') { 1 } } | Should -Throw -ErrorId 'CheckpointPathNotFound,*'
    }

    It 'refuses an unwritable folder with CheckpointNotWritable' -Skip:($IsWindows -or (id -u) -eq '0') {
        $ro = Join-Path $dir 'ro'
        $null = New-Item -ItemType Directory $ro
        chmod 555 $ro
        try { { 'k' | Start-ResumableBatch -Path (Join-Path $ro 'cp') { 1 } } | Should -Throw -ErrorId 'CheckpointNotWritable,*' }
        finally { chmod 755 $ro }
    }

    It 'needs a key for items that are not strings' {
        { 1, 2 | Start-ResumableBatch -Path $cp { $_ } } | Should -Throw -ErrorId 'KeyRequired,*'
    }

    It 'writes KeyNullOrEmpty for an item without a key and goes on' {
        $items = [pscustomobject]@{ Id = 'a' }, [pscustomobject]@{ Id = '' }, [pscustomobject]@{ Id = 'c' }
        $s = $items | Start-ResumableBatch -Path $cp -KeyProperty Id { $_.Id } -ErrorVariable ev -ErrorAction SilentlyContinue
        $s.Done | Should -Be 2
        $ev.Count | Should -Be 1
        $ev[0].FullyQualifiedErrorId | Should -BeLike 'KeyNullOrEmpty,*'
    }

    It 'writes KeyNullOrEmpty for a $null item among strings and goes on' {
        $s = 'x', $null, 'y' | Start-ResumableBatch -Path $cp { $_ } -ErrorVariable ev -ErrorAction SilentlyContinue
        $s.Done | Should -Be 2
        $ev.Count | Should -Be 1
        $ev[0].FullyQualifiedErrorId | Should -BeLike 'KeyNullOrEmpty,*'
    }

    It 'keys hashtables by -KeyProperty' {
        $s = @{ id = 'a'; n = 1 }, @{ id = 'b'; n = 2 } | Start-ResumableBatch -Path $cp -KeyProperty id { $_.n * 10 }
        $s.Done | Should -Be 2
        Receive-ResumableBatch $cp -Key b | Should -Be 20
    }

    It 'makes the same key in every culture' {
        $before = [cultureinfo]::CurrentCulture
        try {
            [cultureinfo]::CurrentCulture = 'de-DE'
            $null = [pscustomobject]@{ d = 1.5 } | Start-ResumableBatch -Path $cp -KeyProperty d { 'r' }
            [cultureinfo]::CurrentCulture = 'en-US'
            $s = [pscustomobject]@{ d = 1.5 } | Start-ResumableBatch -Path $cp -KeyProperty d { 'r' }
        }
        finally { [cultureinfo]::CurrentCulture = $before }
        $s.Skipped | Should -Be 1
        (Receive-ResumableBatch $cp -IncludeKey).Key | Should -Be '1.5'
    }

    It 'writes KeyScriptFailed for an item whose -KeyScript throws, and goes on' {
        $s = 'a', 'b', 'c' | Start-ResumableBatch -Path $cp -KeyScript { if ($_ -eq 'b') { throw 'no key for b' }; $_ } { $_ } -ErrorVariable ev -ErrorAction SilentlyContinue
        $s.Done | Should -Be 2
        $s.Rejected | Should -Be 1
        $ev[0].FullyQualifiedErrorId | Should -BeLike 'KeyScriptFailed,*'
        $ev[0].TargetObject | Should -Be 'b'
        $ev[0].Exception.Message | Should -Match 'no key for b'
    }

    It 'writes DuplicateKey for a key given twice in one run, keeping the first result' {
        $s = 'a', 'b', 'a' | Start-ResumableBatch -Path $cp { "$_-$([guid]::NewGuid())" } -ErrorVariable ev -ErrorAction SilentlyContinue
        $s.Done | Should -Be 2
        $ev.Count | Should -Be 1
        $ev[0].FullyQualifiedErrorId | Should -BeLike 'DuplicateKey,*'
        $ev[0].Exception.Message | Should -Match "'a'"
        @(Receive-ResumableBatch $cp -Key a).Count | Should -Be 1
    }

    It 'resumes 100,000 done keys without running any, in seconds' {
        $keys = 1..100000 | ForEach-Object { "key$_" }
        $ran = [System.Collections.Concurrent.ConcurrentBag[int]]::new()
        $first = $keys | Start-ResumableBatch -Path $cp -ChunkSize 10000 -Variable @{ ran = $ran } { $ran.Add(1) }
        $first.Done | Should -Be 100000
        $ran = [System.Collections.Concurrent.ConcurrentBag[int]]::new()
        $sw = [System.Diagnostics.Stopwatch]::StartNew()
        $again = $keys | Start-ResumableBatch -Path $cp -Variable @{ ran = $ran } { $ran.Add(1) }
        $sw.Stop()
        Write-Host "    resume of 100,000 done keys took $([math]::Round($sw.Elapsed.TotalSeconds, 2)) s"
        $again.Skipped | Should -Be 100000
        $ran.Count | Should -Be 0
        # A sanity bound against pathological (quadratic) behaviour, not a speed goal.
        $sw.Elapsed.TotalSeconds | Should -BeLessThan 60
    }
}

Describe 'Get-ResumableBatch and Receive-ResumableBatch' {
    BeforeEach { $dir = New-TempFolder; $cp = Join-Path $dir 'cp' }
    AfterEach { Remove-Item $dir -Recurse -Force -ErrorAction SilentlyContinue }

    It 'reports counts, failed keys with errors, last update and no lock after a run' {
        $null = 1..6 | ForEach-Object { "k$_" } | Start-ResumableBatch -Path $cp { if ($_ -eq 'k2') { throw 'two' }; $_ } -ErrorAction SilentlyContinue
        $s = Get-ResumableBatch $cp
        $s.Path | Should -Be $cp
        $s.Seen | Should -Be 6
        $s.Done | Should -Be 5
        $s.Failed | Should -Be 1
        $s.Pending | Should -Be 0
        $s.LastRunCompleted | Should -BeTrue
        $s.LastUpdate | Should -BeGreaterThan ([datetime]::Now.AddMinutes(-5))
        $s.LockHolder | Should -BeNullOrEmpty
        $s.IsRunning | Should -BeFalse
        $s.FailedItems.Key | Should -Be 'k2'
        $s.FailedItems.Error | Should -Be 'two'
    }

    It 'reports CheckpointNotFound for a folder without a checkpoint' {
        { Get-ResumableBatch (Join-Path $dir 'none') -ErrorAction Stop } | Should -Throw -ErrorId 'CheckpointNotFound,*'
        { Receive-ResumableBatch (Join-Path $dir 'none') } | Should -Throw -ErrorId 'CheckpointNotFound,*'
    }

    It 'streams results for given keys and with their keys' {
        $null = 1..20 | ForEach-Object { "k$_" } | Start-ResumableBatch -Path $cp -ChunkSize 3 { "v$_"; "w$_" }
        (Receive-ResumableBatch $cp -Key k7, k9 | Sort-Object) | Should -Be 'vk7', 'vk9', 'wk7', 'wk9'
        $withKeys = @(Receive-ResumableBatch $cp -IncludeKey)
        $withKeys.Count | Should -Be 20
        ($withKeys | Where-Object Key -eq 'k4').Result | Should -Be 'vk4', 'wk4'
    }
}

Describe 'damaged checkpoints' {
    BeforeAll {
        # What a run would change: every file but the lock file (which stays in place between runs by design).
        function Get-FolderState([string] $Folder) {
            Get-ChildItem $Folder -Recurse -Force | Where-Object Name -ne 'lock' | Sort-Object FullName |
                ForEach-Object { if ($_.PSIsContainer) { "$($_.FullName) dir" } else { "$($_.FullName) $((Get-FileHash $_.FullName).Hash)" } } |
                Out-String
        }

        # The damage must stop a resume and a status read with CheckpointCorrupt naming $Named, and leave the folder as it was.
        function Assert-Refused([string] $Named) {
            $before = Get-FolderState $cp
            $err = { 1..30 | ForEach-Object { "k$_" } | Start-ResumableBatch -Path $cp -ChunkSize 7 { $_ } } | Should -Throw -ErrorId 'CheckpointCorrupt,*' -PassThru
            $err.Exception.Message | Should -BeLike "*$Named*"
            $err = { Get-ResumableBatch $cp -ErrorAction Stop } | Should -Throw -ErrorId 'CheckpointCorrupt,*' -PassThru
            $err.Exception.Message | Should -BeLike "*$Named*"
            Get-FolderState $cp | Should -Be $before
        }
    }

    BeforeEach {
        $dir = New-TempFolder
        $cp = Join-Path $dir 'cp'
        $null = 1..30 | ForEach-Object { "k$_" } | Start-ResumableBatch -Path $cp -ChunkSize 7 { $_ }
        $journal = Join-Path $cp 'journal.log'
        $chunks = Join-Path $cp 'chunks'
        $chunk = Join-Path $chunks '00000001.chunk'
    }
    AfterEach { Remove-Item $dir -Recurse -Force -ErrorAction SilentlyContinue }

    It 'refuses a checkpoint whose journaled chunk is deleted' {
        Remove-Item $chunk
        Assert-Refused '00000001.chunk'
        { Receive-ResumableBatch $cp } | Should -Throw -ErrorId 'CheckpointCorrupt,*'
    }

    It 'refuses a checkpoint whose journaled chunk is truncated' {
        $fs = [System.IO.File]::Open($chunk, 'Open')
        try { $fs.SetLength($fs.Length - 5) } finally { $fs.Dispose() }
        Assert-Refused '00000001.chunk'
    }

    It 'refuses a checkpoint whose chunk has a changed header byte' {
        $bytes = [System.IO.File]::ReadAllBytes($chunk)
        $bytes[8] = $bytes[8] -bxor 0x40 # the entry count
        [System.IO.File]::WriteAllBytes($chunk, $bytes)
        Assert-Refused '00000001.chunk'
    }

    It 'opens over a changed payload byte (payloads are not read on open) but Receive-ResumableBatch finds it' {
        $bytes = [System.IO.File]::ReadAllBytes($chunk)
        $bytes[$bytes.Length - 10] = $bytes[$bytes.Length - 10] -bxor 0x01
        [System.IO.File]::WriteAllBytes($chunk, $bytes)
        (Get-ResumableBatch $cp).Done | Should -Be 30
        $err = { Receive-ResumableBatch $cp } | Should -Throw -ErrorId 'CheckpointCorrupt,*' -PassThru
        $err.Exception.Message | Should -BeLike '*00000001.chunk*checksum*'
    }

    It 'refuses a checkpoint whose journal is emptied, and does not run the batch again' {
        [System.IO.File]::WriteAllBytes($journal, [byte[]]@())
        Assert-Refused 'journal.log'
        { Receive-ResumableBatch $cp } | Should -Throw -ErrorId 'CheckpointCorrupt,*'
        (Get-Item $journal).Length | Should -Be 0
    }

    It 'refuses a checkpoint whose journal is deleted in every cmdlet' {
        Remove-Item $journal
        Assert-Refused 'journal.log'
        { Receive-ResumableBatch $cp } | Should -Throw -ErrorId 'CheckpointCorrupt,*'
        { Receive-ResumableBatch $cp -Failed } | Should -Throw -ErrorId 'CheckpointCorrupt,*'
        Test-Path $journal | Should -BeFalse
    }

    It 'refuses a checkpoint whose chunks folder is deleted, in Receive-ResumableBatch too' {
        Remove-Item $chunks -Recurse
        Assert-Refused '00000001.chunk'
        $err = { Receive-ResumableBatch $cp } | Should -Throw -ErrorId 'CheckpointCorrupt,*' -PassThru
        $err.Exception | Should -BeOfType ([ParallelMap.Engine.Checkpoint.CheckpointException])
        Test-Path $chunks | Should -BeFalse
    }

    It 'resumes over what a crash leaves: an unjournaled chunk and a temporary' {
        Set-Content (Join-Path $chunks '00009000.chunk') 'renamed, never journaled'
        Set-Content (Join-Path $chunks '00009001.chunk.tmp') 'never renamed'
        (Get-ResumableBatch $cp).Done | Should -Be 30
        $s = 1..31 | ForEach-Object { "k$_" } | Start-ResumableBatch -Path $cp -ChunkSize 7 { $_ }
        $s.Skipped | Should -Be 30
        $s.Done | Should -Be 1
        @(Receive-ResumableBatch $cp).Count | Should -Be 31
    }

    It 'resumes a checkpoint made by a run that recorded nothing' {
        $empty = Join-Path $dir 'empty'
        $null = @() | Start-ResumableBatch -Path $empty { $_ }
        (Get-ResumableBatch $empty).Done | Should -Be 0
        @(Receive-ResumableBatch $empty).Count | Should -Be 0
        $s = 'a', 'b' | Start-ResumableBatch -Path $empty { $_ }
        $s.Done | Should -Be 2
    }
}
