#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Start-ResumableBatch in a child pwsh stopped by SIGTERM, as a service manager stops a scheduled task.

BeforeAll {
    $modulePath = if ($env:PARALLELMAP_MODULE) { $env:PARALLELMAP_MODULE } else { Join-Path $PSScriptRoot '../out/ParallelMap/ParallelMap.psd1' }
    $modulePath = (Resolve-Path $modulePath).Path
    Import-Module $modulePath -Force
    . (Join-Path $PSScriptRoot '../tools/Pwsh.ps1')
    $pwsh = Get-PwshPath

    # Windows has no SIGTERM to send; everywhere else (Linux CI) the test runs.
    $noSigterm = $IsWindows -or $PSVersionTable.PSEdition -eq 'Desktop'

    function Wait-Until([scriptblock] $Condition, [int] $Seconds = 60) {
        $deadline = [datetime]::UtcNow.AddSeconds($Seconds)
        while (-not (& $Condition)) {
            if ([datetime]::UtcNow -gt $deadline) { throw "condition not met in $Seconds s: $Condition" }
            Start-Sleep -Milliseconds 50
        }
    }
}

Describe 'Start-ResumableBatch: SIGTERM' {
    BeforeEach {
        $root = Join-Path ([System.IO.Path]::GetTempPath()) ('pm-sig-' + [guid]::NewGuid().ToString('N'))
        $cp = Join-Path $root 'cp'
        $marks = Join-Path $root 'finished'
        $null = New-Item -ItemType Directory -Path $marks
    }

    AfterEach {
        Remove-Item -LiteralPath $root -Recurse -Force -ErrorAction SilentlyContinue
    }

    It 'saves what finished, runs the cleanup scripts and exits; a resume runs only the rest' {
        if ($noSigterm) {
            Set-ItResult -Skipped -Because 'not applicable: Windows has no SIGTERM'
            return
        }

        # Chunks so large and so slow to fall due that, without the SIGTERM handling, nothing is
        # saved before the signal: every finished item would be lost and run again.
        $script = @"
Import-Module '$modulePath'
1..100 | ForEach-Object { "i`$_" } |
    Start-ResumableBatch -Path '$cp' -ThrottleLimit 2 -ChunkSize 1000 -ChunkSeconds 3600 ``
        -CleanupScript { Set-Content -LiteralPath (Join-Path '$root' "cleanup-`$PID-`$([guid]::NewGuid())") -Value ok } ``
        { Start-Sleep -Milliseconds 100; Set-Content -LiteralPath (Join-Path '$marks' `$_) -Value done; "r-`$_" } | Out-Null
Set-Content -LiteralPath (Join-Path '$root' 'script-went-on') -Value 'the batch returned normally'
"@
        $encoded = [Convert]::ToBase64String([System.Text.Encoding]::Unicode.GetBytes($script))
        $child = Start-Process -FilePath $pwsh -ArgumentList '-NoProfile', '-NonInteractive', '-EncodedCommand', $encoded -PassThru
        try {
            Wait-Until { @(Get-ChildItem -LiteralPath $marks).Count -ge 10 }
            # An item's marker is its last statement: once seen (and a moment passed, even on a
            # loaded machine), the item has finished.
            $finished = @(Get-ChildItem -LiteralPath $marks).Name
            Start-Sleep -Milliseconds 1000
            $sw = [Diagnostics.Stopwatch]::StartNew()
            & (Get-Command -Name kill -CommandType Application | Select-Object -First 1).Source -TERM $child.Id
            $exited = $child.WaitForExit(30000)
            $sw.Stop()
        }
        finally {
            if (-not $child.HasExited) { $child.Kill(); $child.WaitForExit() }
        }

        $exited | Should -BeTrue
        $sw.Elapsed.TotalSeconds | Should -BeLessThan 15
        Test-Path (Join-Path $root 'script-went-on') | Should -BeFalse -Because 'SIGTERM ends the process, after the save'
        @(Get-ChildItem -LiteralPath $root -Filter 'cleanup-*').Count | Should -Be 2 -Because 'each of the two runspaces runs its cleanup script'

        $mid = Get-ResumableBatch $cp
        $mid.IsRunning | Should -BeFalse
        $mid.Done | Should -BeLessThan 100 -Because 'the signal came half-way'
        $saved = @(Receive-ResumableBatch $cp -IncludeKey)
        foreach ($key in $finished) { $saved.Key | Should -Contain $key }

        $ran = [System.Collections.Concurrent.ConcurrentBag[string]]::new()
        $s = 1..100 | ForEach-Object { "i$_" } | Start-ResumableBatch -Path $cp -ThrottleLimit 2 -Force -Variable @{ ran = $ran } { $ran.Add($_); "r-$_" }
        $s.Skipped | Should -Be $mid.Done
        $ran.Count | Should -Be (100 - $mid.Done)
        foreach ($key in $ran) { $saved.Key | Should -Not -Contain $key }

        $all = @(Receive-ResumableBatch $cp -IncludeKey)
        $all.Count | Should -Be 100
        @($all.Key | Sort-Object -Unique).Count | Should -Be 100
        foreach ($r in $all) { $r.Result | Should -Be "r-$($r.Key)" }
    }
}
