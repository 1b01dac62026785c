<#
.SYNOPSIS
    Writes MAML help (what Get-Help reads for a compiled cmdlet) from PlatyPS-format markdown.
.DESCRIPTION
    Our own converter, so that every build ships the help and no build needs platyPS (which no
    package registry here serves). It reads the sections platyPS writes (SYNOPSIS, SYNTAX with one
    "###" set per parameter set, DESCRIPTION, EXAMPLES, PARAMETERS with their yaml blocks, INPUTS,
    OUTPUTS, NOTES, RELATED LINKS) and writes the MAML shape platyPS's New-ExternalHelp writes.
    The files are grouped by the "external help file" of their front matter: one MAML file each,
    in OutputPath. Anything it does not understand is an error that names the file, never a
    silently thinner help.
.EXAMPLE
    ./tools/ConvertTo-MamlHelp.ps1 -Path docs/Invoke-ParallelMap.md -OutputPath out/ParallelMap/en-US
#>
[CmdletBinding()]
param(
    # The cmdlet docs (markdown files with an "external help file" in their front matter).
    [Parameter(Mandatory)] [string[]] $Path,

    # The folder the MAML files are written into (made if missing).
    [Parameter(Mandatory)] [string] $OutputPath
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
. (Join-Path $PSScriptRoot 'HelpMarkdown.ps1')

$ns = @{
    msh     = 'http://msh'
    maml    = 'http://schemas.microsoft.com/maml/2004/10'
    command = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
    dev     = 'http://schemas.microsoft.com/maml/dev/2004/10'
    MSHelp  = 'http://msdn.microsoft.com/mshelp'
}

# The paragraphs a reader sees of a list of blocks: one per paragraph or list item (inline markup
# dropped), one per code block (its line breaks kept).
function Get-Paragraph([object[]] $Blocks) {
    foreach ($block in $Blocks) {
        switch ($block.Kind) {
            'Paragraph' { ConvertTo-HelpText $block.Text }
            'ListItem' { ConvertTo-HelpText $block.Text }
            'Code' { $block.Text }
            'Heading' { ConvertTo-HelpText $block.Text }
        }
    }
}

# The yaml block of a parameter: "Key: value" lines into a hashtable.
function ConvertFrom-ParameterYaml([string] $Text, [string] $Where) {
    $values = @{}
    foreach ($line in $Text -split "`n") {
        if ($line -match '^\s*$') { continue }
        if ($line -notmatch '^([A-Za-z ]+):\s*(.*)$') { throw "${Where}: cannot read the yaml line '$line'." }
        $values[$Matches[1].Trim()] = $Matches[2].Trim()
    }
    foreach ($key in 'Type', 'Parameter Sets', 'Required', 'Position') {
        if (-not $values.ContainsKey($key) -or -not $values[$key]) { throw "${Where}: the yaml block has no '$key'." }
    }
    $values
}

# One command read from its markdown: the model the MAML is written from.
function Read-CommandDoc([string] $File) {
    $doc = Read-HelpMarkdown $File
    $blocks = @(Split-MarkdownBlock $doc.Lines)
    $title = @($blocks | Where-Object { $_.Kind -eq 'Heading' -and $_.Level -eq 1 } | Select-Object -First 1)
    if (-not $title) { throw "${File}: no '# <command name>' heading." }
    $name = $title[0].Text.Trim()
    $sections = Get-MarkdownSection $blocks

    foreach ($required in 'SYNOPSIS', 'SYNTAX', 'DESCRIPTION', 'EXAMPLES', 'PARAMETERS') {
        if (-not $sections.Contains($required)) { throw "${File}: no '## $required' section." }
    }
    $section = { param($n) if ($sections.Contains($n)) { @($sections[$n]) } else { @() } }

    # SYNTAX: one "### Set" with a code block per parameter set, or a single code block.
    $syntax = @(Split-MarkdownSubsection (& $section 'SYNTAX') | ForEach-Object {
            $code = @($_.Blocks | Where-Object Kind -eq 'Code')
            if ($code.Count -ne 1) { throw "${File}: the syntax of set '$($_.Title)' needs one code block." }
            [pscustomobject]@{ Set = ($_.Title -replace '\s*\(Default\)\s*$', ''); Code = $code[0].Text }
        })
    if ($syntax.Count -eq 0) {
        $code = @(& $section 'SYNTAX' | Where-Object Kind -eq 'Code')
        if ($code.Count -ne 1) { throw "${File}: SYNTAX needs one code block, or one '### <set>' per parameter set." }
        $syntax = @([pscustomobject]@{ Set = $null; Code = $code[0].Text })
    }

    $parameters = @(Split-MarkdownSubsection (& $section 'PARAMETERS') | Where-Object { $_.Title -ne 'CommonParameters' } | ForEach-Object {
            if ($_.Title -notmatch '^-(\w+)$') { throw "${File}: '### $($_.Title)' under PARAMETERS is no '### -Name' heading." }
            $parameterName = $Matches[1]
            $where = "$File, parameter -$parameterName"
            $yaml = @($_.Blocks | Where-Object { $_.Kind -eq 'Code' -and $_.Language -eq 'yaml' })
            if ($yaml.Count -eq 0) { throw "${where}: no yaml block." }
            $first = $_.Blocks.IndexOf($yaml[0])
            $description = @(if ($first -gt 0) { Get-Paragraph $_.Blocks[0..($first - 1)] })
            if ($description.Count -eq 0) { throw "${where}: no description." }
            # One yaml block per group of parameter sets, as platyPS writes when they differ.
            $metadata = @($yaml | ForEach-Object { ConvertFrom-ParameterYaml $_.Text $where })
            [pscustomobject]@{ Name = $parameterName; Description = $description; Metadata = $metadata }
        })

    $typed = {
        param($n)
        @(Split-MarkdownSubsection (& $section $n) | ForEach-Object {
                [pscustomobject]@{ Type = (ConvertTo-HelpText $_.Title); Description = @(Get-Paragraph $_.Blocks) }
            })
    }

    $examples = @(Split-MarkdownSubsection (& $section 'EXAMPLES') | ForEach-Object {
            $code = @($_.Blocks | Where-Object Kind -eq 'Code' | ForEach-Object Text)
            if ($code.Count -eq 0) { throw "${File}: example '$($_.Title)' has no code block." }
            [pscustomobject]@{
                Title   = $_.Title
                Code    = $code -join "`n`n"
                Remarks = @(Get-Paragraph @($_.Blocks | Where-Object Kind -ne 'Code'))
            }
        })

    $links = @(foreach ($block in (& $section 'RELATED LINKS')) {
            foreach ($m in [regex]::Matches($block.Text, '\[([^\]]+)\]\(([^)\s]*)\)')) {
                [pscustomobject]@{ Text = $m.Groups[1].Value; Uri = $m.Groups[2].Value }
            }
        })

    [pscustomobject]@{
        Name        = $name
        Synopsis    = @(Get-Paragraph (& $section 'SYNOPSIS'))
        Description = @(Get-Paragraph (& $section 'DESCRIPTION'))
        Syntax      = $syntax
        Parameters  = $parameters
        Inputs      = & $typed 'INPUTS'
        Outputs     = & $typed 'OUTPUTS'
        Notes       = @(Get-Paragraph (& $section 'NOTES'))
        Examples    = $examples
        Links       = $links
    }
}

function Write-Paragraph([System.Xml.XmlWriter] $Writer, [string[]] $Paragraphs) {
    foreach ($p in $Paragraphs) { $Writer.WriteElementString('maml', 'para', $ns.maml, $p) }
}

function Write-Description([System.Xml.XmlWriter] $Writer, [string[]] $Paragraphs) {
    $Writer.WriteStartElement('maml', 'description', $ns.maml)
    Write-Paragraph $Writer $Paragraphs
    $Writer.WriteEndElement()
}

# The yaml block of a parameter that applies to a parameter set (or the first, for the list of
# parameters); $null when the parameter is not in that set.
function Get-ParameterMetadata($Parameter, [string] $Set) {
    foreach ($m in $Parameter.Metadata) {
        $sets = @($m['Parameter Sets'] -split ',' | ForEach-Object Trim)
        if (-not $Set -or $sets -contains '(All)' -or $sets -contains $Set) { return $m }
    }
}

# A command:parameter, in a syntax item (no value for a switch, as platyPS) or in the parameter list.
function Write-Parameter([System.Xml.XmlWriter] $Writer, $Parameter, [hashtable] $Metadata, [switch] $InSyntax) {
    $type = $Metadata['Type']
    $isSwitch = $type -in 'SwitchParameter', 'System.Management.Automation.SwitchParameter'
    $aliases = @($Metadata['Aliases'] -split ',' | ForEach-Object Trim | Where-Object { $_ })
    $default = $Metadata['Default value']
    if (-not $default) { $default = if ($isSwitch) { 'False' } else { 'None' } }

    $Writer.WriteStartElement('command', 'parameter', $ns.command)
    $Writer.WriteAttributeString('required', $Metadata['Required'].ToLowerInvariant())
    $Writer.WriteAttributeString('variableLength', 'true')
    $globbing = if ($Metadata['Accept wildcard characters']) { $Metadata['Accept wildcard characters'].ToLowerInvariant() } else { 'false' }
    $pipeline = if ($Metadata['Accept pipeline input']) { $Metadata['Accept pipeline input'] } else { 'False' }
    $Writer.WriteAttributeString('globbing', $globbing)
    $Writer.WriteAttributeString('pipelineInput', $pipeline)
    $Writer.WriteAttributeString('position', $Metadata['Position'].ToLowerInvariant())
    $Writer.WriteAttributeString('aliases', $(if ($aliases) { $aliases -join ', ' } else { 'none' }))
    $Writer.WriteElementString('maml', 'name', $ns.maml, $Parameter.Name)
    Write-Description $Writer $Parameter.Description
    if (-not ($InSyntax -and $isSwitch)) {
        $Writer.WriteStartElement('command', 'parameterValue', $ns.command)
        $Writer.WriteAttributeString('required', $(if ($isSwitch) { 'false' } else { 'true' }))
        $Writer.WriteAttributeString('variableLength', 'false')
        $Writer.WriteString($type)
        $Writer.WriteEndElement()
    }
    $Writer.WriteStartElement('dev', 'type', $ns.dev)
    $Writer.WriteElementString('maml', 'name', $ns.maml, $type)
    $Writer.WriteElementString('maml', 'uri', $ns.maml, '')
    $Writer.WriteEndElement()
    $Writer.WriteElementString('dev', 'defaultValue', $ns.dev, $default)
    $Writer.WriteEndElement()
}

# The parameters of one syntax item, in the order its SYNTAX code block shows them (the order
# Get-Help shows), then any other parameter of that set.
function Get-SyntaxParameter($Command, $Syntax) {
    $shown = @([regex]::Matches($Syntax.Code, '(?<![\w-])-(\w+)') | ForEach-Object { $_.Groups[1].Value })
    $inSet = @($Command.Parameters | Where-Object { Get-ParameterMetadata $_ $Syntax.Set })
    foreach ($name in $shown) { $inSet | Where-Object Name -eq $name }
    $inSet | Where-Object Name -notin $shown
}

# platyPS pads example titles with dashes to 64 characters, which is how Get-Help sets them apart.
function Format-ExampleTitle([string] $Title) {
    if ($Title.Length -ge 62) { return $Title }
    $pad = [int][math]::Floor((64 - $Title.Length - 2) / 2)
    ('-' * $pad) + " $Title " + ('-' * $pad)
}

function Write-Command([System.Xml.XmlWriter] $Writer, $Command) {
    $verb, $noun = $Command.Name -split '-', 2
    $Writer.WriteStartElement('command', 'command', $ns.command)
    foreach ($prefix in 'maml', 'command', 'dev', 'MSHelp') {
        $Writer.WriteAttributeString('xmlns', $prefix, 'http://www.w3.org/2000/xmlns/', $ns[$prefix])
    }

    $Writer.WriteStartElement('command', 'details', $ns.command)
    $Writer.WriteElementString('command', 'name', $ns.command, $Command.Name)
    $Writer.WriteElementString('command', 'verb', $ns.command, $verb)
    $Writer.WriteElementString('command', 'noun', $ns.command, $noun)
    Write-Description $Writer $Command.Synopsis
    $Writer.WriteEndElement()

    Write-Description $Writer $Command.Description

    $Writer.WriteStartElement('command', 'syntax', $ns.command)
    foreach ($syntax in $Command.Syntax) {
        $Writer.WriteStartElement('command', 'syntaxItem', $ns.command)
        $Writer.WriteElementString('maml', 'name', $ns.maml, $Command.Name)
        foreach ($p in Get-SyntaxParameter $Command $syntax) {
            Write-Parameter $Writer $p (Get-ParameterMetadata $p $syntax.Set) -InSyntax
        }
        $Writer.WriteEndElement()
    }
    $Writer.WriteEndElement()

    $Writer.WriteStartElement('command', 'parameters', $ns.command)
    foreach ($p in $Command.Parameters) { Write-Parameter $Writer $p (Get-ParameterMetadata $p $null) }
    $Writer.WriteEndElement()

    foreach ($kind in @(@('inputTypes', 'inputType', $Command.Inputs), @('returnValues', 'returnValue', $Command.Outputs))) {
        $Writer.WriteStartElement('command', $kind[0], $ns.command)
        foreach ($item in $kind[2]) {
            $Writer.WriteStartElement('command', $kind[1], $ns.command)
            $Writer.WriteStartElement('dev', 'type', $ns.dev)
            $Writer.WriteElementString('maml', 'name', $ns.maml, $item.Type)
            $Writer.WriteEndElement()
            Write-Description $Writer $item.Description
            $Writer.WriteEndElement()
        }
        $Writer.WriteEndElement()
    }

    $Writer.WriteStartElement('maml', 'alertSet', $ns.maml)
    $Writer.WriteStartElement('maml', 'alert', $ns.maml)
    Write-Paragraph $Writer $Command.Notes
    $Writer.WriteEndElement()
    $Writer.WriteEndElement()

    $Writer.WriteStartElement('command', 'examples', $ns.command)
    foreach ($example in $Command.Examples) {
        $Writer.WriteStartElement('command', 'example', $ns.command)
        $Writer.WriteElementString('maml', 'title', $ns.maml, (Format-ExampleTitle $example.Title))
        $Writer.WriteElementString('dev', 'code', $ns.dev, $example.Code)
        $Writer.WriteStartElement('dev', 'remarks', $ns.dev)
        Write-Paragraph $Writer $example.Remarks
        $Writer.WriteEndElement()
        $Writer.WriteEndElement()
    }
    $Writer.WriteEndElement()

    $Writer.WriteStartElement('command', 'relatedLinks', $ns.command)
    foreach ($link in $Command.Links) {
        # Get-Help rejects a uri that is not absolute, so links between the markdown files keep
        # their text only (as platyPS does).
        $uri = $null
        $absolute = [uri]::TryCreate($link.Uri, [System.UriKind]::Absolute, [ref] $uri)
        $Writer.WriteStartElement('maml', 'navigationLink', $ns.maml)
        $Writer.WriteElementString('maml', 'linkText', $ns.maml, $link.Text)
        $Writer.WriteElementString('maml', 'uri', $ns.maml, $(if ($absolute) { $link.Uri } else { '' }))
        $Writer.WriteEndElement()
    }
    $Writer.WriteEndElement()

    $Writer.WriteEndElement()
}

$groups = [ordered]@{}
foreach ($file in $Path) {
    $full = (Resolve-Path -LiteralPath $file).ProviderPath
    $helpFile = (Read-HelpMarkdown $full).FrontMatter['external help file']
    if (-not $helpFile) { throw "${full}: its front matter names no 'external help file'." }
    if (-not $groups.Contains($helpFile)) { $groups[$helpFile] = [System.Collections.Generic.List[object]]::new() }
    $groups[$helpFile].Add((Read-CommandDoc $full))
}

$null = New-Item -ItemType Directory -Path $OutputPath -Force
$settings = [System.Xml.XmlWriterSettings]::new()
$settings.Indent = $true
$settings.Encoding = [System.Text.UTF8Encoding]::new($false)
foreach ($helpFile in $groups.Keys) {
    $target = Join-Path (Resolve-Path -LiteralPath $OutputPath).ProviderPath $helpFile
    $writer = [System.Xml.XmlWriter]::Create($target, $settings)
    try {
        $writer.WriteStartDocument()
        $writer.WriteStartElement('helpItems', $ns.msh)
        $writer.WriteAttributeString('schema', 'maml')
        foreach ($command in $groups[$helpFile] | Sort-Object Name) { Write-Command $writer $command }
        $writer.WriteEndElement()
        $writer.WriteEndDocument()
    }
    finally { $writer.Dispose() }
    Get-Item -LiteralPath $target
}
