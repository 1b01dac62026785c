<#
.SYNOPSIS
    Builds, tests and packages the ParallelMap module.
.DESCRIPTION
    Tasks: Clean, Restore (the pinned Pester into out/tools), Build (the module and its help into
    out/ParallelMap), Test (xunit and Pester against the built module; restores Pester first),
    Package (a zip of out/ParallelMap), Install (copies the built module into the current user's
    module folder, the first entry of $env:PSModulePath). -Test is short for -Task Build, Test.

    Run it with the project's pinned PowerShell (`dotnet tool restore; dotnet pwsh ./build.ps1`)
    or any PowerShell 7 on PATH. Nothing here is installed by hand: PowerShell comes from the
    local tool manifest .config/dotnet-tools.json, Pester from tools/TestTools.csproj.
.EXAMPLE
    ./build.ps1            # build out/ParallelMap
.EXAMPLE
    ./build.ps1 -Test      # build, then run every xunit and Pester test
.EXAMPLE
    ./build.ps1 -Task Clean, Build, Package
.EXAMPLE
    ./build.ps1 -Task Build, Install   # then Import-Module ParallelMap works in any new session
#>
[CmdletBinding()]
param(
    [ValidateSet('Clean', 'Restore', 'Build', 'Test', 'Package', 'Install')]
    [string[]] $Task = @('Build'),

    [switch] $Test,

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    # Run only the Pester suite in the Test task (CI runs xunit separately).
    [switch] $SkipXunit,

    # Pester tests whose full name matches are run (a Pester -FullNameFilter pattern).
    [string[]] $PesterFilter
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = $PSScriptRoot
$out = Join-Path $root 'out'
$moduleOut = Join-Path $out 'ParallelMap'
if ($Test) { $Task = @('Build', 'Test') }

$toolsOut = Join-Path $out 'tools'
$pesterVersion = '5.9.1'   # keep in step with tools/TestTools.csproj
. (Join-Path $root 'tools/Pwsh.ps1')

function Invoke-Native {
    param([string] $What, [scriptblock] $Command)
    & $Command
    if ($LASTEXITCODE -ne 0) { throw "$What failed with exit code $LASTEXITCODE." }
}

function Invoke-Clean {
    if (Test-Path $out) { Remove-Item $out -Recurse -Force }
    Invoke-Native 'dotnet clean' { dotnet clean (Join-Path $root 'ParallelMap.sln') -c $Configuration -nologo -v quiet }
}

# Restores Pester through NuGet (the machine's configured source) and lays its module files out
# as out/tools/Modules/Pester/<version>, a folder Import-Module and $env:PSModulePath understand.
function Invoke-Restore {
    $modules = Join-Path $toolsOut 'Modules'
    $target = Join-Path $modules "Pester/$pesterVersion"
    if (Test-Path (Join-Path $target 'Pester.psd1')) { return $modules }
    $packages = Join-Path $toolsOut 'packages'
    Invoke-Native 'dotnet restore tools/TestTools.csproj (Pester)' {
        dotnet restore (Join-Path $root 'tools/TestTools.csproj') --packages $packages -nologo -v quiet
    }
    $source = Join-Path $packages "pester/$pesterVersion/tools"
    if (-not (Test-Path (Join-Path $source 'Pester.psd1'))) {
        throw "Pester $pesterVersion was restored, but its module is not at '$source'."
    }
    if (Test-Path $target) { Remove-Item $target -Recurse -Force }
    $null = New-Item -ItemType Directory -Path $target -Force
    Copy-Item -Path (Join-Path $source '*') -Destination $target -Recurse
    Write-Host "Restored Pester $pesterVersion into $target"
    $modules
}

function Invoke-Build {
    Invoke-Native 'dotnet build' { dotnet build (Join-Path $root 'src/Cmdlets/ParallelMap.csproj') -c $Configuration -nologo -v quiet }
    $bin = Join-Path $root "src/Cmdlets/bin/$Configuration/netstandard2.0"
    if (Test-Path $moduleOut) { Remove-Item $moduleOut -Recurse -Force }
    $null = New-Item -ItemType Directory -Path $moduleOut
    # An explicit list: nothing else (never System.Management.Automation.dll) ships.
    Copy-Item (Join-Path $root 'ParallelMap.psd1') $moduleOut
    foreach ($file in 'ParallelMap.dll', 'ParallelMap.Engine.dll') {
        Copy-Item (Join-Path $bin $file) $moduleOut
    }

    # Help in every build, from docs/ by our own converters (tools/), so no build needs platyPS:
    # MAML for the cmdlets (the docs whose front matter names an external help file) and the
    # about topic as text.
    $help = Join-Path $moduleOut 'en-US'
    $docs = Join-Path $root 'docs'
    $cmdletDocs = @(Get-ChildItem $docs -Filter '*.md' | Where-Object { (Get-Content -LiteralPath $_.FullName -TotalCount 10) -match '^external help file:\s*\S' })
    if ($cmdletDocs.Count -eq 0) { throw "No cmdlet help in $docs (markdown with an 'external help file' front matter)." }
    $null = & (Join-Path $root 'tools/ConvertTo-MamlHelp.ps1') -Path $cmdletDocs.FullName -OutputPath $help
    $null = & (Join-Path $root 'tools/ConvertTo-AboutHelp.ps1') -Path (Join-Path $docs 'about_ParallelMap.md') -OutputPath $help

    Write-Host "Built $moduleOut"
}

function Invoke-Test {
    $failed = 0
    $passed = 0
    $skipped = 0
    if (-not $SkipXunit) {
        $trx = Join-Path $out 'xunit'
        & dotnet test (Join-Path $root 'ParallelMap.sln') -c $Configuration -nologo --logger "trx;LogFileName=xunit.trx" --results-directory $trx
        $xunitExit = $LASTEXITCODE
        $file = Get-ChildItem $trx -Filter 'xunit.trx' -Recurse | Select-Object -First 1
        if ($file) {
            $counters = ([xml](Get-Content $file.FullName -Raw)).TestRun.ResultSummary.Counters
            $passed += [int]$counters.passed
            $failed += [int]$counters.failed
            $skipped += [int]$counters.notExecuted
        }
        if ($xunitExit -ne 0 -and $failed -eq 0) { $failed++ }
    }

    # The pinned Pester, always: a suite that cannot run is a failure, never a skip.
    $pesterModules = Invoke-Restore
    $pesterManifest = Join-Path $pesterModules "Pester/$pesterVersion/Pester.psd1"
    # A child process, so the module's assemblies are not locked in this build session.
    $filter = if ($PesterFilter) { ($PesterFilter | ForEach-Object { "'" + $_.Replace("'", "''") + "'" }) -join ',' } else { '' }
    $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$($pesterManifest.Replace("'", "''"))'
`$c = New-PesterConfiguration
`$c.Run.Path = '$((Join-Path $root 'tests').Replace("'", "''"))'
`$c.Run.PassThru = `$true
`$c.Output.Verbosity = 'Detailed'
`$c.TestResult.Enabled = `$true
`$c.TestResult.OutputPath = '$((Join-Path $out 'pester.xml').Replace("'", "''"))'
$(if ($filter) { "`$c.Filter.FullName = @($filter)" })
`$r = Invoke-Pester -Configuration `$c
"PESTER_COUNTS `$(`$r.PassedCount) `$(`$r.FailedCount) `$(`$r.SkippedCount)"
# A remote runspace (a worker process's) still open after every test is a leak, and pwsh would
# wait for ever to close it at exit (the CI run that never ended): count it as a failure, and
# leave without that wait.
`$leaked = @(Get-Runspace | Where-Object { `$_.RunspaceStateInfo.State -eq 'Opened' -and `$_.GetType().Name -ne 'LocalRunspace' })
"PESTER_LEAKS `$(`$leaked.Count)"
if (`$leaked.Count -gt 0) { [Environment]::Exit(3) }
"@
    $env:PARALLELMAP_MODULE = Join-Path $moduleOut 'ParallelMap.psd1'
    # Child processes the tests start find the same Pester by name (#Requires -Modules Pester).
    $env:PSModulePath = $pesterModules + [System.IO.Path]::PathSeparator + $env:PSModulePath
    # The same PowerShell that runs this build, found from $PSHOME, never from PATH.
    $pwsh = Get-PwshPath
    $lines = & $pwsh -NoProfile -NonInteractive -Command $script | ForEach-Object { Write-Host $_; $_ }
    $counts = $lines | Where-Object { $_ -match '^PESTER_COUNTS (\d+) (\d+) (\d+)$' } | Select-Object -Last 1
    if ($counts -and $counts -match '^PESTER_COUNTS (\d+) (\d+) (\d+)$') {
        $passed += [int]$Matches[1]
        $failed += [int]$Matches[2]
        $skipped += [int]$Matches[3]
    }
    else {
        Write-Host 'The Pester run ended without a result.'
        $failed++
    }

    $leaks = $lines | Where-Object { $_ -match '^PESTER_LEAKS (\d+)$' } | Select-Object -Last 1
    if ($leaks -and $leaks -match '^PESTER_LEAKS (\d+)$' -and [int]$Matches[1] -gt 0) {
        Write-Host "The Pester run left $($Matches[1]) worker-process runspace(s) open: a leak."
        $failed++
    }

    Write-Host "tests: $passed passed, $failed failed, $skipped skipped"
    if ($failed -gt 0) { throw "$failed test(s) failed." }
}

function Invoke-Install {
    if (-not (Test-Path (Join-Path $moduleOut 'ParallelMap.psd1'))) { throw "Build the module first: ./build.ps1 -Task Build, Install" }
    $userModules = @($env:PSModulePath -split [System.IO.Path]::PathSeparator | Where-Object { $_ })[0]
    $manifest = Import-PowerShellDataFile (Join-Path $moduleOut 'ParallelMap.psd1')
    $target = Join-Path $userModules "ParallelMap/$($manifest.ModuleVersion)"
    if (Test-Path $target) { Remove-Item $target -Recurse -Force }
    $null = New-Item -ItemType Directory -Path $target -Force
    Copy-Item -Path (Join-Path $moduleOut '*') -Destination $target -Recurse
    Write-Host "Installed into $target (Import-Module ParallelMap)"
}

function Invoke-Package {
    $manifest = Import-PowerShellDataFile (Join-Path $moduleOut 'ParallelMap.psd1')
    $zip = Join-Path $out "ParallelMap-$($manifest.ModuleVersion).zip"
    Compress-Archive -Path $moduleOut -DestinationPath $zip -Force
    Write-Host "Packaged $zip"
}

foreach ($t in $Task) {
    switch ($t) {
        'Clean' { Invoke-Clean }
        'Restore' { $null = Invoke-Restore }
        'Build' { Invoke-Build }
        'Test' { Invoke-Test }
        'Package' { Invoke-Package }
        'Install' { Invoke-Install }
    }
}
