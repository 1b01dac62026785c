# Reading of the PlatyPS-format markdown in docs/, shared by ConvertTo-MamlHelp.ps1 and
# ConvertTo-AboutHelp.ps1 (dot-sourced by both). Only what our docs use is understood: headings,
# paragraphs, list items and fenced code blocks; inline, **bold** and [text](link) become plain text.
# Written for Windows PowerShell 5.1 as well as PowerShell 7, like the module.

# The lines of a markdown file, without its YAML front matter, and the front matter as a hashtable.
function Read-HelpMarkdown {
    param([Parameter(Mandatory)] [string] $Path)

    $lines = @([System.IO.File]::ReadAllLines($Path))
    $front = @{}
    $start = 0
    if ($lines.Count -gt 0 -and $lines[0] -match '^---\s*$') {
        for ($i = 1; $i -lt $lines.Count; $i++) {
            if ($lines[$i] -match '^---\s*$') { $start = $i + 1; break }
            if ($lines[$i] -match '^([^:]+):\s*(.*)$') { $front[$Matches[1].Trim()] = $Matches[2].Trim() }
        }
        if ($start -eq 0) { throw "${Path}: the front matter that starts on line 1 never ends (no closing '---')." }
    }

    [pscustomobject]@{
        Path        = $Path
        FrontMatter = $front
        Lines       = @(if ($start -lt $lines.Count) { $lines[$start..($lines.Count - 1)] })
    }
}

# Splits markdown lines into blocks, in order: Heading (Level, Text), Code (Language, Text with its
# line breaks), Paragraph and ListItem (Text, the lines joined by spaces, a list item keeping its
# marker). A '#' line inside a fence is code, never a heading.
function Split-MarkdownBlock {
    param([AllowEmptyCollection()] [string[]] $Lines)

    $blocks = [System.Collections.Generic.List[object]]::new()
    $text = $null      # the paragraph or list item being read
    $kind = $null
    $code = $null      # the code block being read
    $language = $null

    $flush = {
        if ($null -ne $text) {
            $blocks.Add([pscustomobject]@{ Kind = $kind; Level = 0; Language = $null; Text = $text })
        }
    }

    foreach ($line in $Lines) {
        if ($null -ne $code) {
            if ($line -match '^\s*```\s*$') {
                $blocks.Add([pscustomobject]@{ Kind = 'Code'; Level = 0; Language = $language; Text = ($code -join "`n") })
                $code = $null
            }
            else { $code.Add($line) }
            continue
        }

        if ($line -match '^\s*```\s*([\w+-]*)\s*$') {
            . $flush; $text = $null
            $language = $Matches[1]
            $code = [System.Collections.Generic.List[string]]::new()
        }
        elseif ($line -match '^(#{1,6})\s+(.*?)\s*#*\s*$') {
            . $flush; $text = $null
            $blocks.Add([pscustomobject]@{ Kind = 'Heading'; Level = $Matches[1].Length; Language = $null; Text = $Matches[2] })
        }
        elseif ($line -match '^\s*$') {
            . $flush; $text = $null
        }
        elseif ($line -match '^\s{0,3}([-*+]|\d+[.)])\s+(.*)$') {
            . $flush
            $kind = 'ListItem'
            $text = "$($Matches[1]) $($Matches[2].Trim())"
        }
        elseif ($null -ne $text) {
            $text = "$text $($line.Trim())"
        }
        else {
            $kind = 'Paragraph'
            $text = $line.Trim()
        }
    }

    if ($null -ne $code) { throw "A code block that starts with '``````$language' never ends." }
    . $flush
    $blocks
}

# The text a reader sees: emphasis markers and link targets dropped; code spans and the rest kept.
function ConvertTo-HelpText {
    param([AllowEmptyString()] [string] $Text)

    $Text = [regex]::Replace($Text, '\*\*(.+?)\*\*', '$1')
    $Text = [regex]::Replace($Text, '(?<![\w\\])__(.+?)__(?!\w)', '$1')
    [regex]::Replace($Text, '(?<!!)\[([^\]]+)\]\([^)\s]*\)', '$1')
}

# The blocks of each "## Name" section (level 2 heading), by name, in a case-insensitive dictionary.
function Get-MarkdownSection {
    param([AllowEmptyCollection()] [object[]] $Blocks)

    $sections = [ordered]@{}
    $current = $null
    foreach ($block in $Blocks) {
        if ($block.Kind -eq 'Heading' -and $block.Level -le 2) {
            if ($block.Level -eq 2) {
                $current = [System.Collections.Generic.List[object]]::new()
                $sections[$block.Text.Trim()] = $current
            }
            else { $current = $null }
            continue
        }
        if ($null -ne $current) { $current.Add($block) }
    }

    $sections
}

# Splits the blocks of a section at its "### " headings: one entry per heading, with its blocks.
function Split-MarkdownSubsection {
    param([AllowEmptyCollection()] [object[]] $Blocks)

    $current = $null
    foreach ($block in $Blocks) {
        if ($block.Kind -eq 'Heading' -and $block.Level -eq 3) {
            if ($null -ne $current) { $current }
            $current = [pscustomobject]@{ Title = $block.Text.Trim(); Blocks = [System.Collections.Generic.List[object]]::new() }
        }
        elseif ($null -ne $current) { $current.Blocks.Add($block) }
    }
    if ($null -ne $current) { $current }
}
