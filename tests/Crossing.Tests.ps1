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

Describe 'Script blocks that cross into the runspaces' {
    # The caller's pipeline is busy upstream and downstream while the workers run the script
    # block (three rounds, as a crash comes at random): before the fix that corrupted the caller's scope stack ("Stack empty", exit 134).
    It 'rebinds a script block given by <Name> to each runspace: exact results, 2,000 items at throttle 8, the caller unharmed' -ForEach @(
        @{ Name = '$using:'; Call = '1..2000 | ForEach-Object { $_ } | Invoke-ParallelMap -ThrottleLimit 8 { & $using:f $_ } | ForEach-Object { $_ }' }
        @{ Name = '-Variable'; Call = '1..2000 | ForEach-Object { $_ } | Invoke-ParallelMap -ThrottleLimit 8 -Variable @{ g = $f } { & $g $_ } | ForEach-Object { $_ }' }
        @{ Name = 'the pipeline'; Call = '1..2000 | ForEach-Object { $f } | Invoke-ParallelMap -ThrottleLimit 8 { & $_ 7 } | ForEach-Object { $_ }' }
    ) {
        $r = Invoke-Child @"
`$f = { param(`$x) `$t = 0; foreach (`$i in 1..20) { `$t += `$i }; `$x + `$t }
foreach (`$round in 1..3) {
    `$r = @($Call)
    "count=`$(`$r.Count) sum=`$((`$r | Measure-Object -Sum).Sum)"
}
function Test-Caller { param(`$n) 1..`$n | ForEach-Object { `$_ * 2 } }
"caller=`$((Test-Caller 3) -join ',')"
"@
        $r.ExitCode | Should -Be 0 -Because $r.Error
        $sum = if ($Name -eq 'the pipeline') { 2000 * (7 + 210) } else { (2000 * 2001 / 2) + 2000 * 210 }
        @($r.Lines -eq "count=2000 sum=$sum").Count | Should -Be 3 -Because ($r.Lines + $r.Error -join "`n")
        $r.Lines | Should -Contain 'caller=2,4,6'
    }

    It 'runs a rebound script block in the worker''s runspace, where it sees the worker''s variables and not the caller''s' {
        $callerOnly = 'caller'
        $f = { "$([runspace]::DefaultRunspace.Id)|$prefix|$callerOnly" }
        $callerId = [runspace]::DefaultRunspace.Id
        $r = 1..4 | Invoke-ParallelMap -ThrottleLimit 2 -Variable @{ prefix = 'p' } { & $using:f }
        $r.Count | Should -Be 4
        foreach ($line in $r) {
            $id, $p, $c = $line -split '\|'
            [int]$id | Should -Not -Be $callerId
            $p | Should -Be 'p'
            $c | Should -BeNullOrEmpty
        }
    }

    It 'resolves a $using: inside a script block given by -Variable in the caller''s scope' {
        $n = 5
        $f = { $_ * $using:n }
        (1..3 | Invoke-ParallelMap -Variable @{ f = $f } { $_ | ForEach-Object $f } | Sort-Object) | Should -Be 5, 10, 15
    }

    It 'refuses a script block inside a <Name> up front with NestedScriptBlockNotSupported' -ForEach @(
        @{ Name = 'hashtable given by -Variable'; Call = { 1 | Invoke-ParallelMap -Variable @{ h = @{ k = { 1 } } } { & $h.k } } }
        @{ Name = 'array given by $using:'; Call = { $a = @(1, { 1 }); 1 | Invoke-ParallelMap { $using:a } } }
        @{ Name = 'custom object given by $using:'; Call = { $o = [pscustomobject]@{ Run = { 1 } }; 1 | Invoke-ParallelMap { $using:o } } }
        @{ Name = 'custom object with a script property'; Call = { $o = [pscustomobject]@{ A = 1 } | Add-Member -PassThru ScriptProperty B { 2 }; 1 | Invoke-ParallelMap -Variable @{ o = $o } { $o.B } } }
    ) {
        $Call | Should -Throw -ErrorId 'NestedScriptBlockNotSupported*'
    }

    It 'refuses a piped item that holds a script block (an error with the item as target) and runs the others' {
        $bad = @{ k = { 1 } }
        $r = 1, $bad, 2 | Invoke-ParallelMap { if ($_ -is [int]) { $_ * 10 } } -ErrorVariable errs -ErrorAction SilentlyContinue
        ($r | Sort-Object) | Should -Be 10, 20
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'NestedScriptBlockNotSupported*'
        $errs[0].TargetObject | Should -Be $bad
    }

    It 'refuses a piped custom object with a script block property, and runs plain custom objects' {
        $bad = [pscustomobject]@{ Name = 'bad'; Run = { 'ran' } }
        $r = [pscustomobject]@{ Name = 'a' }, $bad, [pscustomobject]@{ Name = 'b' } | Invoke-ParallelMap { $_.Name } -ErrorVariable errs -ErrorAction SilentlyContinue
        ($r | Sort-Object) | Should -Be 'a', 'b'
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'NestedScriptBlockNotSupported*'
        $errs[0].Exception.Message | Should -BeLike '*.Run*'
    }

    It 'still shares other -Variable and $using: values by reference' {
        $bag = [System.Collections.Concurrent.ConcurrentBag[int]]::new()
        $table = @{ list = [System.Collections.Generic.List[int]]::new() }
        1..20 | Invoke-ParallelMap -Variable @{ bag = $bag } { $bag.Add($_); $null = $using:table }
        $bag.Count | Should -Be 20
        $h = [System.Runtime.CompilerServices.RuntimeHelpers]::GetHashCode($table)
        1 | Invoke-ParallelMap { [System.Runtime.CompilerServices.RuntimeHelpers]::GetHashCode($using:table) } | Should -Be $h
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

    It 'resolves the $using: of a script block passed through $using: to a nested call in that call''s caller' {
        $x = 'top'
        $r = 1 | Invoke-ParallelMap -Variable @{ mod = $modulePath } { Import-Module $mod; $x = 'mid'; $sb = { "sees $using:x" }; 1 | Invoke-ParallelMap { & $using:sb } }
        $r | Should -Be 'sees mid'
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

Describe '-WhatIf and -Confirm reach the runspaces' {
    BeforeEach {
        $dir = New-TempFolder
        1..6 | ForEach-Object { Set-Content -LiteralPath (Join-Path $dir "f$_.txt") -Value x }
        function Remove-Mine {
            [CmdletBinding(SupportsShouldProcess)]
            param($Path)
            Get-ChildItem -LiteralPath $Path | Invoke-ParallelMap -ThrottleLimit 3 { Remove-Item -LiteralPath $_.FullName }
        }
    }

    AfterEach {
        Remove-Item -LiteralPath $dir -Recurse -Force -ErrorAction Ignore
    }

    It 'deletes nothing when a SupportsShouldProcess caller is run with -WhatIf' {
        Remove-Mine $dir -WhatIf
        @(Get-ChildItem -LiteralPath $dir).Count | Should -Be 6
    }

    It 'deletes nothing with $WhatIfPreference set by the caller' {
        $WhatIfPreference = $true
        Get-ChildItem -LiteralPath $dir | Invoke-ParallelMap { Remove-Item -LiteralPath $_.FullName }
        $WhatIfPreference = $false
        @(Get-ChildItem -LiteralPath $dir).Count | Should -Be 6
    }

    It 'refuses a confirmation a worker would ask for (never a silent yes): each item fails, nothing is deleted' {
        Remove-Mine $dir -Confirm -ErrorVariable errs -ErrorAction SilentlyContinue
        @(Get-ChildItem -LiteralPath $dir).Count | Should -Be 6
        $errs.Count | Should -Be 6
        foreach ($e in $errs) {
            $e.FullyQualifiedErrorId | Should -Be 'ItemCannotPrompt,ParallelMap.Commands.InvokeParallelMapCommand'
            $e.Exception.InnerException | Should -BeOfType [System.Management.Automation.Host.HostException]
            $e.Exception.Message | Should -BeLike '*confirm*'
            $e.ErrorDetails.RecommendedAction | Should -BeLike '*-Confirm:$false*'
        }
        ($errs.TargetObject.Name | Sort-Object) -join ',' | Should -Be ((1..6 | ForEach-Object { "f$_.txt" }) -join ',')
    }

    It 'refuses <Name> in an item with ItemCannotPrompt, naming what to do, <Isolation>' -ForEach @(
        @{ Name = 'Read-Host'; Isolation = 'Runspace'; Body = { Read-Host "name for $_" } }
        @{ Name = 'a ShouldProcess confirmation'; Isolation = 'Runspace'; Body = { & { [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'High')] param() if ($PSCmdlet.ShouldProcess('x')) { 'done' } } } }
        @{ Name = 'PromptForChoice'; Isolation = 'Runspace'; Body = { $Host.UI.PromptForChoice('t', 'pick', [System.Management.Automation.Host.ChoiceDescription[]]@('&Yes', '&No'), 0) } }
        @{ Name = 'Read-Host'; Isolation = 'Process'; Body = { Read-Host "name for $_" } }
    ) {
        $r = 1, 2 | Invoke-ParallelMap -Isolation $Isolation -ThrottleLimit 2 $Body -ErrorVariable errs -ErrorAction SilentlyContinue
        $r | Should -BeNullOrEmpty
        $errs.Count | Should -Be 2
        foreach ($e in $errs) {
            $e.FullyQualifiedErrorId | Should -Be 'ItemCannotPrompt,ParallelMap.Commands.InvokeParallelMapCommand'
            $e.Exception.Message | Should -BeLike '*no one can give inside a parallel runspace*'
        }
        ($errs.TargetObject | Sort-Object) -join ',' | Should -Be '1,2'
    }

    It 'deletes when the script says -Confirm:$false, and without -WhatIf or -Confirm' {
        function Remove-Forced {
            [CmdletBinding(SupportsShouldProcess)]
            param($Path)
            Get-ChildItem -LiteralPath $Path -Filter 'f1*' | Invoke-ParallelMap { Remove-Item -LiteralPath $_.FullName -Confirm:$false }
        }
        Remove-Forced $dir -Confirm
        @(Get-ChildItem -LiteralPath $dir).Count | Should -Be 5
        Remove-Mine $dir
        @(Get-ChildItem -LiteralPath $dir).Count | Should -Be 0
    }
}

Describe 'Debug records in a -NonInteractive session' {
    # -Debug makes a compiled cmdlet's warnings Inquire (PowerShell's rule), so each forwarded
    # warning prompted; in -NonInteractive the first prompt ended the run and lost its output.
    It 'shows worker debug and warning records and keeps every output with <Name>' -ForEach @(
        @{ Name = '$DebugPreference = Inquire'; Setup = '$DebugPreference = ''Inquire'''; Extra = '' }
        @{ Name = '-Debug'; Setup = ''; Extra = '-Debug' }
    ) {
        $r = Invoke-Child -NonInteractive @"
$Setup
`$r = 1..5 | Invoke-ParallelMap -ThrottleLimit 2 $Extra { Write-Debug "dbg `$_"; Write-Warning "warn `$_"; `$_ * 3 }
"count=`$(`$r.Count) sum=`$((`$r | Measure-Object -Sum).Sum)"
"@
        $r.ExitCode | Should -Be 0 -Because $r.Error
        $r.Lines | Should -Contain "count=5 sum=45" -Because ($r.Lines + $r.Error -join "`n")
        ($r.Lines + ($r.Error -split "\r?\n")) -match 'dbg \d' | Should -HaveCount 5
        ($r.Lines + ($r.Error -split "\r?\n")) -match 'warn \d' | Should -HaveCount 5
        $r.Error | Should -Not -BeLike '*NonInteractive*'
    }
}
