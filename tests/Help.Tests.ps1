#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
<#
    Keeps the help honest (DESIGN.md, convention 11): every exported cmdlet has PlatyPS markdown in
    docs/ with a real synopsis, every parameter described and at least two examples, and every
    example in docs/*.md runs as written, each in a fresh pwsh with the module imported.
    The module is $env:PARALLELMAP_MODULE if set, else the build output.
#>

BeforeDiscovery {
    $script:ModulePath = if ($env:PARALLELMAP_MODULE) { $env:PARALLELMAP_MODULE } else { "$PSScriptRoot/../out/ParallelMap/ParallelMap.psd1" }
    $script:DocsDir = Join-Path $PSScriptRoot '../docs'
    $module = Import-Module $script:ModulePath -Force -PassThru -ErrorAction Stop
    $common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters

    $script:Cmdlets = foreach ($name in $module.ExportedCmdlets.Keys | Sort-Object) {
        @{
            Name       = $name
            Parameters = @((Get-Command $name).Parameters.Keys | Where-Object { $_ -notin $common } | Sort-Object | ForEach-Object { @{ Parameter = $_ } })
        }
    }

    # Every ```powershell block under an "### Example" heading; the blocks of one example run as one script.
    $script:Examples = foreach ($file in Get-ChildItem -Path $script:DocsDir -Filter *.md | Sort-Object Name) {
        $title = $null
        $code = $null
        $inBlock = $false
        $inOtherBlock = $false
        $found = [System.Collections.Generic.List[hashtable]]::new()
        foreach ($line in (Get-Content -LiteralPath $file.FullName) + '# end') {
            if ($inBlock) {
                if ($line -match '^```\s*$') { $inBlock = $false } else { $code.Add($line) }
                continue
            }

            # Inside other fenced blocks (yaml, output), a line starting with # is no heading.
            if ($inOtherBlock) {
                if ($line -match '^```\s*$') { $inOtherBlock = $false }
                continue
            }

            if ($line -match '^```') {
                if ($title -and $line -match '^```powershell\s*$') { $inBlock = $true } else { $inOtherBlock = $true }
            }
            elseif ($line -match '^#') {
                if ($title -and $code.Count -gt 0) { $found.Add(@{ Doc = $file.BaseName; Title = $title; Code = $code -join "`n" }) }
                $title = if ($line -match '^###\s+(Example\b.*)$') { $Matches[1].Trim() } else { $null }
                $code = [System.Collections.Generic.List[string]]::new()
            }
        }

        $found
    }
}

BeforeAll {
    $script:ModulePath = (Resolve-Path $(if ($env:PARALLELMAP_MODULE) { $env:PARALLELMAP_MODULE } else { "$PSScriptRoot/../out/ParallelMap/ParallelMap.psd1" })).Path
    $script:DocsDir = Join-Path $PSScriptRoot '../docs'
    Import-Module $script:ModulePath -Force -ErrorAction Stop
    . (Join-Path $PSScriptRoot '../tools/Pwsh.ps1')

    # The text of a "## NAME" section of a markdown document, up to the next "## " heading.
    function Get-Section([string] $Text, [string] $Name) {
        if ($Text -match "(?ms)^## $([regex]::Escape($Name))[ \t]*\r?\n(.*?)(?=^## |\z)") { $Matches[1].Trim() } else { $null }
    }

    # The "### -Name" entries of the PARAMETERS section, each with its description (the text before its yaml block).
    function Get-ParameterDoc([string] $Text) {
        $section = Get-Section $Text 'PARAMETERS'
        $docs = @{}
        foreach ($m in [regex]::Matches("$section`n", '(?ms)^### -(\S+)[ \t]*\r?\n(.*?)(?=^### |\z)')) {
            $docs[$m.Groups[1].Value] = ($m.Groups[2].Value -split '```')[0].Trim()
        }

        $docs
    }

    # Text as a reader sees it, for comparing the docs with the shipped help: emphasis markers and
    # link targets dropped, fence lines dropped, whitespace (line breaks, wrapping) collapsed.
    function ConvertTo-Comparable([string] $Text) {
        $Text = $Text -replace '(?m)^\s*```.*$', ''
        $Text = $Text -replace '\*\*(.+?)\*\*', '$1'
        $Text = $Text -replace '(?<!!)\[([^\]]+)\]\([^)\s]*\)', '$1'
        ($Text -replace '\s+', ' ').Trim()
    }

    # The "### " entries of the EXAMPLES section, each with its title and the code of its fenced
    # blocks (joined by a blank line, as platyPS joins them), read line by line so that a '#' line
    # inside a code block is code.
    function Get-ExampleDoc([string] $Text) {
        $inExamples = $false
        $fence = $null
        $current = $null
        foreach ($line in ($Text -split '\r?\n')) {
            if ($null -ne $fence) {
                if ($line -match '^\s*```\s*$') { $current.Code.Add($fence -join "`n"); $fence = $null } else { $fence.Add($line) }
                continue
            }
            if ($line -match '^\s*```') {
                if ($null -ne $current) { $fence = [System.Collections.Generic.List[string]]::new() }
                continue
            }
            if ($line -match '^## (.*)$') {
                $inExamples = $Matches[1].Trim() -eq 'EXAMPLES'
                if ($null -ne $current) { $current; $current = $null }
            }
            elseif ($inExamples -and $line -match '^### (.*)$') {
                if ($null -ne $current) { $current }
                $current = [pscustomobject]@{ Title = $Matches[1].Trim(); Code = [System.Collections.Generic.List[string]]::new() }
            }
        }
        if ($null -ne $current) { $current }
    }

    function Invoke-Example([string] $Code, [int] $TimeoutSeconds = 60) {
        $file = Join-Path ([System.IO.Path]::GetTempPath()) ("pm-helptest-" + [guid]::NewGuid() + '.ps1')
        Set-Content -LiteralPath $file -Encoding utf8 -Value @"
Import-Module '$($script:ModulePath.Replace("'", "''"))' -ErrorAction Stop
$Code
"@
        try {
            $psi = [System.Diagnostics.ProcessStartInfo]::new((Get-PwshPath))
            foreach ($a in '-NoProfile', '-NonInteractive', '-File', $file) { $psi.ArgumentList.Add($a) }
            $psi.RedirectStandardOutput = $true
            $psi.RedirectStandardError = $true
            $psi.UseShellExecute = $false
            $psi.Environment['NO_COLOR'] = '1'
            $p = [System.Diagnostics.Process]::Start($psi)
            $stdout = $p.StandardOutput.ReadToEndAsync()
            $stderr = $p.StandardError.ReadToEndAsync()
            if (-not $p.WaitForExit($TimeoutSeconds * 1000)) {
                $p.Kill($true)
                throw "The example did not finish within $TimeoutSeconds s."
            }

            $p.WaitForExit()
            [pscustomobject]@{ ExitCode = $p.ExitCode; Output = $stdout.Result; ErrorOutput = $stderr.Result.Trim() }
        }
        finally {
            Remove-Item -LiteralPath $file -ErrorAction SilentlyContinue
        }
    }
}

Describe 'Help of <Name>' -ForEach $Cmdlets {
    BeforeAll {
        $path = Join-Path $DocsDir "$Name.md"
        $exists = Test-Path -LiteralPath $path
        $text = if ($exists) { Get-Content -LiteralPath $path -Raw } else { '' }
        $parameterDocs = Get-ParameterDoc $text

        # A missing file fails once, in its own test, instead of in every check of its content.
        function Skip-WithoutDoc { if (-not $exists) { Set-ItResult -Skipped -Because "docs/$Name.md is missing" } }
    }

    It 'has docs/<Name>.md' {
        $path | Should -Exist
    }

    It 'has no platyPS placeholder' {
        Skip-WithoutDoc
        $text | Should -Not -BeNullOrEmpty
        $text | Should -Not -Match '\{\{ ?(Fill|Add|Manually)'
    }

    It 'has a real synopsis' {
        Skip-WithoutDoc
        $synopsis = Get-Section $text 'SYNOPSIS'
        $synopsis | Should -Not -BeNullOrEmpty
        $synopsis | Should -Not -Match '\{\{'
        $synopsis.Length | Should -BeGreaterThan 20
    }

    It 'has a description' {
        Skip-WithoutDoc
        (Get-Section $text 'DESCRIPTION').Length | Should -BeGreaterThan 100
    }

    It 'documents -<Parameter>' -ForEach $Parameters {
        Skip-WithoutDoc
        $parameterDocs.Keys | Should -Contain $Parameter
        $parameterDocs[$Parameter] | Should -Not -BeNullOrEmpty -Because "-$Parameter needs a description"
        $parameterDocs[$Parameter] | Should -Not -Match '\{\{'
    }

    It 'documents no parameter the cmdlet lacks' {
        Skip-WithoutDoc
        $actual = (Get-Command $Name).Parameters.Keys
        $parameterDocs.Keys | Where-Object { $_ -notin $actual } | Should -BeNullOrEmpty
    }

    It 'has at least 2 examples' {
        Skip-WithoutDoc
        $examples = [regex]::Matches($text, '(?m)^### Example\b.*\r?\n+```powershell')
        $examples.Count | Should -BeGreaterOrEqual 2
    }
}

# The help the built module ships (MAML made by build.ps1 from docs/*.md) must say what the docs
# say: a missing, stale or thinner MAML fails here. Get-Help without MAML still answers, with a
# synopsis made of the syntax, parameters without descriptions and no examples.
Describe 'Shipped help of <Name>' -ForEach $Cmdlets {
    BeforeAll {
        $path = Join-Path $DocsDir "$Name.md"
        $text = if (Test-Path -LiteralPath $path) { Get-Content -LiteralPath $path -Raw } else { '' }
        $parameterDocs = Get-ParameterDoc $text
        $help = Get-Help $Name -Full
    }

    It 'has the synopsis of the doc' {
        $text | Should -Not -BeNullOrEmpty -Because "docs/$Name.md is needed"
        ConvertTo-Comparable $help.Synopsis | Should -BeExactly (ConvertTo-Comparable (Get-Section $text 'SYNOPSIS'))
    }

    It 'has the description of the doc' {
        $shown = @($help.description | ForEach-Object Text) -join ' '
        ConvertTo-Comparable $shown | Should -BeExactly (ConvertTo-Comparable (Get-Section $text 'DESCRIPTION'))
    }

    It 'lists the parameters of the doc' {
        $shown = @($help.parameters.parameter | ForEach-Object name | Sort-Object)
        $shown | Should -Be @($parameterDocs.Keys | Sort-Object)
    }

    It 'describes -<Parameter> as the doc does' -ForEach $Parameters {
        $shown = @($help.parameters.parameter | Where-Object name -EQ $Parameter)
        $shown.Count | Should -Be 1 -Because "Get-Help $Name -Full should list -$Parameter"
        $description = ConvertTo-Comparable (@($shown[0].description | ForEach-Object Text) -join ' ')
        $description | Should -Not -BeNullOrEmpty -Because "Get-Help should describe -$Parameter"
        $description | Should -BeExactly (ConvertTo-Comparable $parameterDocs[$Parameter])
    }

    It 'shows every example of the doc with its code (Get-Help -Examples)' {
        $docExamples = @(Get-ExampleDoc $text)
        $shown = @((Get-Help $Name -Examples).examples.example)
        $shown.Count | Should -Be $docExamples.Count
        for ($i = 0; $i -lt $docExamples.Count; $i++) {
            $shown[$i].title | Should -Match ([regex]::Escape($docExamples[$i].Title))
            ($shown[$i].code -replace '\r\n', "`n").Trim() | Should -BeExactly ($docExamples[$i].Code -join "`n`n").Trim() -Because "example $($i + 1) of $Name should show the code of the doc"
        }
    }
}

Describe 'The about topic' {
    It 'has docs/about_ParallelMap.md without placeholders' {
        $path = Join-Path $DocsDir 'about_ParallelMap.md'
        $path | Should -Exist
        $text = Get-Content -LiteralPath $path -Raw
        $text | Should -Match '(?m)^## about_ParallelMap\s*$'
        $text | Should -Not -Match '\{\{'
    }
}

Describe 'The shipped about topic' {
    BeforeAll {
        $markdown = Get-Content -LiteralPath (Join-Path $DocsDir 'about_ParallelMap.md') -Raw
        $shown = (Get-Help about_ParallelMap -ErrorAction Stop | Out-String)
    }

    It 'is text laid out as a help topic, not markdown' {
        $shown | Should -Match '^\s*TOPIC\s+about_ParallelMap\b'
        $shown | Should -Match '(?m)^SHORT DESCRIPTION\s*$'
        $shown | Should -Not -Match '(?m)^#'
    }

    It 'says everything docs/about_ParallelMap.md says' {
        $comparable = ConvertTo-Comparable $shown
        # Each block of the markdown (paragraph, list item, code, heading), after its first two
        # headings (the module and the topic name), must be in the topic; headings are upper-cased.
        $blocks = @([regex]::Split(($markdown -replace '(?m)^#+[ \t]+(.*)$', "`n`$1`n"), '\r?\n\s*\r?\n') |
                ForEach-Object { ConvertTo-Comparable $_ } | Where-Object { $_ } | Select-Object -Skip 2)
        $blocks.Count | Should -BeGreaterThan 20
        $missing = @($blocks | Where-Object { $comparable.IndexOf($_, [System.StringComparison]::OrdinalIgnoreCase) -lt 0 })
        $missing | Should -BeNullOrEmpty -Because 'Get-Help about_ParallelMap should show the whole of docs/about_ParallelMap.md'
    }
}

Describe 'Examples of the docs' {
    It '<Doc>: <Title>' -ForEach $Examples {
        $result = Invoke-Example $Code
        $because = "the example should run cleanly; its output was:`n$($result.Output)`n$($result.ErrorOutput)"
        $result.ErrorOutput | Should -BeNullOrEmpty -Because $because
        $result.ExitCode | Should -Be 0 -Because $because
    }
}
