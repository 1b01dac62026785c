#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# What crosses into the runspaces (issue 10): script blocks given by $using:, -Variable or the
# pipeline, $using: in script blocks that nested calls run, the module's own cmdlets, -WhatIf and
# -Confirm, and -Debug in a -NonInteractive session. Against the built module.

BeforeAll {
    $modulePath = if ($env:PARALLELMAP_MODULE) { $env:PARALLELMAP_MODULE } else { Join-Path $PSScriptRoot '../out/ParallelMap/ParallelMap.psd1' }
    $modulePath = (Resolve-Path $modulePath).Path
    Import-Module $modulePath -Force
    . (Join-Path $PSScriptRoot '../tools/Pwsh.ps1')
    $pwsh = Get-PwshPath

    # Runs a script in a child pwsh (the module imported by path, PSModulePath without it) and
    # returns its exit code and output lines: a crash there fails the test, not the whole run.
    function Invoke-Child([string] $Script, [switch] $NonInteractive, [int] $TimeoutSeconds = 240) {
        $file = Join-Path ([System.IO.Path]::GetTempPath()) ('pm-cross-' + [guid]::NewGuid().ToString('N') + '.ps1')
        Set-Content -LiteralPath $file -Value ("`$env:PSModulePath = Join-Path `$PSHOME 'Modules'`nImport-Module '$modulePath'`n" + $Script)
        try {
            $psi = [System.Diagnostics.ProcessStartInfo]::new($pwsh)
            foreach ($a in @('-NoProfile') + @(if ($NonInteractive) { '-NonInteractive' }) + @('-File', $file)) { $psi.ArgumentList.Add($a) }
            $psi.RedirectStandardOutput = $true
            $psi.RedirectStandardError = $true
            $psi.UseShellExecute = $false
            $p = [System.Diagnostics.Process]::Start($psi)
            $errTask = $p.StandardError.ReadToEndAsync()
            $out = $p.StandardOutput.ReadToEndAsync()
            if (-not $p.WaitForExit($TimeoutSeconds * 1000)) { $p.Kill(); throw "child pwsh did not finish in $TimeoutSeconds s" }
            $p.WaitForExit()
            [pscustomobject]@{
                ExitCode = $p.ExitCode
                Lines    = @($out.Result -split "\r?\n" | Where-Object { $_ -ne '' })
                Error    = $errTask.Result
            }
        }
        finally {
            Remove-Item -LiteralPath $file -ErrorAction Ignore
        }
    }

    function New-TempFolder {
        $d = Join-Path ([System.IO.Path]::GetTempPath()) ('pm-cross-' + [guid]::NewGuid().ToString('N'))
        $null = New-Item -ItemType Directory -Path $d
        $d
    }
}

Describe '$using: in a script block that a nested call runs' {
    It 'belongs to the call that runs it: the nested call sees the item''s value (as ForEach-Object -Parallel)' {
        $x = 'top'
        $expected = 1 | ForEach-Object -Parallel { $x = 'mid'; $sb = { $using:x }; 1 | ForEach-Object -Parallel $sb }
        $r = 1 | Invoke-ParallelMap -Variable @{ mod = $modulePath } { Import-Module $mod; $x = 'mid'; $sb = { $using:x }; 1 | Invoke-ParallelMap $sb }
        $r | Should -Be $expected
        $r | Should -Be 'mid'
    }

    It 'still resolves in the outer call when the item runs the script block itself' {
        $x = 'top'
        1 | Invoke-ParallelMap { $x = 'mid'; $sb = { $using:x }; & $sb } | Should -Be 'top'
    }

    It 'is an error, never a silent $null, when the nested call''s caller does not define it' {
        $x = 'top'
        $r = 1 | Invoke-ParallelMap -Variable @{ mod = $modulePath } { Import-Module $mod; $sb = { "got [$using:x]" }; 1 | Invoke-ParallelMap $sb } -ErrorVariable errs -ErrorAction SilentlyContinue
        $r | Should -BeNullOrEmpty
        $errs.Count | Should -Be 1
        $errs[0].Exception.Message | Should -BeLike '*$using:x*not defined*'
    }
}

Describe 'The module''s own cmdlets in the runspaces' {
    It 'nests Invoke-ParallelMap, Invoke-ParallelRun and Start-ResumableBatch with the module imported by path only' {
        $cp = Join-Path ([System.IO.Path]::GetTempPath()) ('pm-cross-cp-' + [guid]::NewGuid().ToString('N'))
        try {
            $r = Invoke-Child @"
if (Get-Module -ListAvailable ParallelMap) { 'on PSModulePath' }
`$r = 1..2 | Invoke-ParallelMap -Ordered { `$o = `$_; 1..2 | Invoke-ParallelMap -Ordered { `$_ * 10 + `$using:o } }
"map=`$(`$r -join ',')"
`$r = 1 | Invoke-ParallelMap { Invoke-ParallelRun { 1 } -PassThru } 
"run=`$(`$r.Succeeded)"
`$r = 1 | Invoke-ParallelMap { 'a', 'b' | Start-ResumableBatch -Path '$cp' { `$_.ToUpper() } -PassThru | Out-Null; Receive-ResumableBatch -Path '$cp' }
"batch=`$((`$r | Sort-Object) -join ',')"
"@
            $r.ExitCode | Should -Be 0 -Because $r.Error
            $r.Lines | Should -Not -Contain 'on PSModulePath'
            $r.Lines | Should -Contain 'map=11,21,12,22'
            $r.Lines | Should -Contain 'run=1'
            $r.Lines | Should -Contain 'batch=A,B'
        }
        finally {
            Remove-Item -LiteralPath $cp -Recurse -Force -ErrorAction Ignore
        }
    }
}
