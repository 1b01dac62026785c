<#
.SYNOPSIS
    Builds, tests and packages the ParallelMap module.
.DESCRIPTION
    Tasks: Clean, Build (the module into out/ParallelMap), Test (xunit and Pester against the
    built module), Package (a zip of out/ParallelMap). -Test is short for -Task Build, Test.
.EXAMPLE
    ./build.ps1            # build out/ParallelMap
.EXAMPLE
    ./build.ps1 -Test      # build, then run every xunit and Pester test
.EXAMPLE
    ./build.ps1 -Task Clean, Build, Package
#>
[CmdletBinding()]
param(
    [ValidateSet('Clean', 'Build', 'Test', 'Package')]
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

function Invoke-Native {
    param([string] $What, [scriptblock] $Command)
    & $Command
    if ($LASTEXITCODE -ne 0) { throw "$What failed with exit code $LASTEXITCODE." }
}

function Invoke-Clean {
    if (Test-Path $out) { Remove-Item $out -Recurse -Force }
    Invoke-Native 'dotnet clean' { dotnet clean (Join-Path $root 'ParallelMap.sln') -c $Configuration -nologo -v quiet }
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

    $help = Join-Path $moduleOut 'en-US'
    $null = New-Item -ItemType Directory -Path $help
    $about = Join-Path $root 'docs/about_ParallelMap.md'
    if (Get-Module -ListAvailable -Name platyPS) {
        Import-Module platyPS
        $cmdletDocs = @(Get-ChildItem (Join-Path $root 'docs') -Filter '*-*.md' | Where-Object { $_.BaseName -cmatch '^[A-Z][a-z]+-[A-Za-z]+$' })
        if ($cmdletDocs.Count -gt 0) { $null = New-ExternalHelp -Path $cmdletDocs.FullName -OutputPath $help -Force }
        if (Test-Path $about) { $null = New-ExternalHelp -Path $about -OutputPath $help -Force }
    }
    else {
        Write-Warning 'platyPS is not installed: the module is built without MAML help (Get-Help shows syntax only).'
        if (Test-Path $about) {
            # about_ topics are plain text; without platyPS ship the markdown text as is.
            Copy-Item $about (Join-Path $help 'about_ParallelMap.help.txt')
        }
    }

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

    if (-not (Get-Module -ListAvailable -Name Pester | Where-Object { $_.Version -ge [version]'5.0' })) {
        Write-Host 'SKIPPED: Pester suite (no pwsh with Pester on PATH)'
    }
    else {
        # A child process, so the module's assemblies are not locked in this build session.
        $filter = if ($PesterFilter) { ($PesterFilter | ForEach-Object { "'" + $_.Replace("'", "''") + "'" }) -join ',' } else { '' }
        $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module Pester -MinimumVersion 5.0
`$c = New-PesterConfiguration
`$c.Run.Path = '$((Join-Path $root 'tests').Replace("'", "''"))'
`$c.Run.PassThru = `$true
`$c.Output.Verbosity = 'Detailed'
`$c.TestResult.Enabled = `$true
`$c.TestResult.OutputPath = '$((Join-Path $out 'pester.xml').Replace("'", "''"))'
$(if ($filter) { "`$c.Filter.FullName = @($filter)" })
`$r = Invoke-Pester -Configuration `$c
"PESTER_COUNTS `$(`$r.PassedCount) `$(`$r.FailedCount) `$(`$r.SkippedCount)"
"@
        $env:PARALLELMAP_MODULE = Join-Path $moduleOut 'ParallelMap.psd1'
        $lines = & pwsh -NoProfile -NonInteractive -Command $script | ForEach-Object { Write-Host $_; $_ }
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
    }

    Write-Host "tests: $passed passed, $failed failed, $skipped skipped"
    if ($failed -gt 0) { throw "$failed test(s) failed." }
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
        'Build' { Invoke-Build }
        'Test' { Invoke-Test }
        'Package' { Invoke-Package }
    }
}
