<#
.SYNOPSIS
    Writes an about_ help topic (the text file Get-Help about_<name> shows) from its markdown.
.DESCRIPTION
    Lays the text out as platyPS's New-ExternalHelp does for an about topic: the first heading
    becomes TOPIC with the topic name (the second heading) under it, "#" headings are upper case,
    "##" headings stay as written, the text is indented four spaces and wrapped at 80 columns, and
    code blocks keep their lines. Inline **bold** and [text](link) become plain text.
.EXAMPLE
    ./tools/ConvertTo-AboutHelp.ps1 -Path docs/about_ParallelMap.md -OutputPath out/ParallelMap/en-US
#>
[CmdletBinding()]
param(
    # The about topic's markdown ("# Module", then "## about_Topic", then the sections).
    [Parameter(Mandatory)] [string] $Path,

    # The folder the topic is written into, as <topic name>.help.txt (made if missing).
    [Parameter(Mandatory)] [string] $OutputPath,

    [int] $Width = 80
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
. (Join-Path $PSScriptRoot 'HelpMarkdown.ps1')

$indent = '    '

# Word-wraps one paragraph to $Width columns; continuation lines of a list item line up with its text.
function Format-Wrapped([string] $Text, [string] $FirstIndent, [string] $RestIndent) {
    $line = $FirstIndent
    $empty = $true
    foreach ($word in $Text -split '\s+' | Where-Object { $_ }) {
        if (-not $empty -and $line.Length + 1 + $word.Length -gt $Width) {
            $line
            $line = $RestIndent + $word
        }
        else {
            $line = if ($empty) { $line + $word } else { "$line $word" }
        }
        $empty = $false
    }
    if (-not $empty) { $line }
}

$full = (Resolve-Path -LiteralPath $Path).ProviderPath
$blocks = @(Split-MarkdownBlock (Read-HelpMarkdown $full).Lines)
if ($blocks.Count -lt 2 -or $blocks[0].Kind -ne 'Heading' -or $blocks[0].Level -ne 1 -or
    $blocks[1].Kind -ne 'Heading' -or $blocks[1].Level -ne 2 -or $blocks[1].Text -notmatch '^about_\w+$') {
    throw "${full}: an about topic starts with '# <module>' and then '## about_<topic>'."
}
$topic = $blocks[1].Text.Trim()

$out = [System.Collections.Generic.List[string]]::new()
$out.Add('TOPIC')
$out.Add("$indent$topic")
$out.Add('')
foreach ($block in $blocks[2..($blocks.Count - 1)]) {
    switch ($block.Kind) {
        'Heading' {
            $text = ConvertTo-HelpText $block.Text
            if ($out[$out.Count - 1] -ne '') { $out.Add('') }
            switch ($block.Level) {
                1 { $out.Add($text.ToUpperInvariant()) }
                2 { $out.Add($text) }
                default { $out.Add($indent + $text.ToUpperInvariant()) }
            }
        }
        'Paragraph' {
            foreach ($l in Format-Wrapped (ConvertTo-HelpText $block.Text) $indent $indent) { $out.Add($l) }
            $out.Add('')
        }
        'ListItem' {
            $marker = ($block.Text -split ' ', 2)[0]
            foreach ($l in Format-Wrapped (ConvertTo-HelpText $block.Text) $indent ($indent + (' ' * ($marker.Length + 1)))) { $out.Add($l) }
            $out.Add('')
        }
        'Code' {
            foreach ($l in $block.Text -split "`n") { $out.Add(($indent + $l).TrimEnd()) }
            $out.Add('')
        }
    }
}
while ($out.Count -gt 0 -and $out[$out.Count - 1] -eq '') { $out.RemoveAt($out.Count - 1) }

$null = New-Item -ItemType Directory -Path $OutputPath -Force
$target = Join-Path (Resolve-Path -LiteralPath $OutputPath).ProviderPath "$topic.help.txt"
# With a byte order mark: Windows PowerShell 5.1 reads a help file without one in the ANSI code page.
[System.IO.File]::WriteAllText($target, ($out -join [Environment]::NewLine) + [Environment]::NewLine, [System.Text.UTF8Encoding]::new($true))
Get-Item -LiteralPath $target
