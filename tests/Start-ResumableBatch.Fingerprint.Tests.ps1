#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# The checkpoint's fingerprint: what changes behaviour counts, comments and white space do not.

BeforeAll {
    $modulePath = if ($env:PARALLELMAP_MODULE) { $env:PARALLELMAP_MODULE } else { Join-Path $PSScriptRoot '../out/ParallelMap/ParallelMap.psd1' }
    Import-Module (Resolve-Path $modulePath).Path -Force

    # The fingerprint the module wrote before the fingerprint went by tokens (version 1): the
    # hash of the exact text. A checkpoint made then holds this in its manifest.
    function Get-Version1Fingerprint([scriptblock] $ScriptBlock) {
        [ParallelMap.Engine.Checkpoint.CheckpointStore]::ComputeFingerprint(
            [string[]]@('Start-ResumableBatch/1', $ScriptBlock.ToString(), 'ItemIsKey', '', ''))
    }

    function Set-ManifestFingerprint([string] $Path, [string] $Fingerprint) {
        $manifest = Join-Path $Path 'manifest.json'
        $text = [System.IO.File]::ReadAllText($manifest)
        $text = [regex]::Replace($text, '"fingerprint": "[^"]*"', '"fingerprint": "' + $Fingerprint + '"')
        [System.IO.File]::WriteAllText($manifest, $text)
    }
}

Describe 'Start-ResumableBatch: fingerprint by behaviour' {
    BeforeEach {
        $cp = Join-Path ([System.IO.Path]::GetTempPath()) ('pm-fp-' + [guid]::NewGuid().ToString('N'))
    }

    AfterEach {
        Remove-Item -LiteralPath $cp -Recurse -Force -ErrorAction SilentlyContinue
    }

    It 'resumes after comments, indentation, blank lines and spacing changed' {
        $null = 'k1', 'k2' | Start-ResumableBatch -Path $cp { $x = $_; if ($x -eq 'k1') { "one $x" } else { "other" } }
        $reformatted = {
            # the same script, commented and laid out again
            $x   =   $_

            if ($x -eq 'k1') {
                "one $x"   # the first key
            }
            else { "other" }
            <# a block comment #>
        }
        $s = 'k1', 'k2', 'k3' | Start-ResumableBatch -Path $cp $reformatted
        $s.Skipped | Should -Be 2
        $s.Done | Should -Be 1
        (Receive-ResumableBatch $cp -Key k3) | Should -Be 'other'
    }

    It 'refuses a change of behaviour, and says how to go on' {
        $null = 'k1' | Start-ResumableBatch -Path $cp { "a $_" }
        $err = { 'k2' | Start-ResumableBatch -Path $cp { "b $_" } } | Should -Throw -ErrorId 'CheckpointFingerprintMismatch,*' -PassThru
        $err.Exception.Message | Should -BeLike '*-Force*'
        $err.Exception.Message | Should -BeLike '*-Restart*'
        $err.Exception.Message | Should -Not -BeLike '*sha256*'
    }

    It 'refuses a change inside a string, even of white space' {
        $null = 'k1' | Start-ResumableBatch -Path $cp { "a  $_" }
        { 'k2' | Start-ResumableBatch -Path $cp { "a $_" } } | Should -Throw -ErrorId 'CheckpointFingerprintMismatch,*'
    }

    It 'refuses white space that splits a command argument in two' {
        # "x"y is one argument (xy); "x" y is two: not the same script.
        $null = 'k1' | Start-ResumableBatch -Path $cp { Write-Output "x"y }
        { 'k2' | Start-ResumableBatch -Path $cp { Write-Output "x" y } } | Should -Throw -ErrorId 'CheckpointFingerprintMismatch,*'
    }

    It 'refuses a line break that ends a statement' {
        # 'Write-Output x y' writes two strings; with a line break, y is a command of its own.
        $null = 'k1' | Start-ResumableBatch -Path $cp { Write-Output x y }
        $broken = [scriptblock]::Create("Write-Output x`ny")
        { 'k2' | Start-ResumableBatch -Path $cp $broken } | Should -Throw -ErrorId 'CheckpointFingerprintMismatch,*'
    }

    It 'refuses a changed -KeyScript but not a recommented one' {
        $items = 'a', 'b' | ForEach-Object { [pscustomobject]@{ Name = $_ } }
        $null = $items | Start-ResumableBatch -Path $cp -KeyScript { $_.Name } { $_.Name }
        $s = $items | Start-ResumableBatch -Path $cp -KeyScript { $_.Name  <# the name #> } { $_.Name }
        $s.Skipped | Should -Be 2
        { $items | Start-ResumableBatch -Path $cp -KeyScript { $_.Name + 'x' } { $_.Name } } | Should -Throw -ErrorId 'CheckpointFingerprintMismatch,*'
    }

    It 'still resumes a checkpoint made with the version-1 fingerprint of the same text' {
        $sb = { "r-$_" }
        $null = 'k1' | Start-ResumableBatch -Path $cp $sb
        Set-ManifestFingerprint $cp (Get-Version1Fingerprint $sb)
        $s = 'k1', 'k2' | Start-ResumableBatch -Path $cp $sb
        $s.Skipped | Should -Be 1
        $s.Done | Should -Be 1
        # A version-1 checkpoint keeps its fingerprint (the manifest is never rewritten).
        (Get-Content (Join-Path $cp 'manifest.json') -Raw) | Should -BeLike "*$(Get-Version1Fingerprint $sb)*"
    }

    It 'writes the new fingerprint into a new checkpoint' {
        $sb = { "r-$_" }
        $null = 'k1' | Start-ResumableBatch -Path $cp $sb
        (Get-Content (Join-Path $cp 'manifest.json') -Raw) | Should -Not -BeLike "*$(Get-Version1Fingerprint $sb)*"
    }
}
