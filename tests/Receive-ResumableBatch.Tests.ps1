#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Receive-ResumableBatch against the built module: how it takes the checkpoint path.

BeforeAll {
    $modulePath = if ($env:PARALLELMAP_MODULE) { $env:PARALLELMAP_MODULE } else { Join-Path $PSScriptRoot '../out/ParallelMap/ParallelMap.psd1' }
    Import-Module (Resolve-Path $modulePath).Path -Force

    $script:cp = Join-Path ([System.IO.Path]::GetTempPath()) ('pm-recv-' + [guid]::NewGuid().ToString('N'))
    'a', 'b', 'c' | Start-ResumableBatch -Path $cp { "r-$_" } | Out-Null
}

AfterAll {
    Remove-Item -LiteralPath $script:cp -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Receive-ResumableBatch: the path from the pipeline' {
    It 'takes a string from the pipeline' {
        $r = "$cp" | Receive-ResumableBatch
        @($r | Sort-Object) | Should -Be @('r-a', 'r-b', 'r-c')
    }

    It 'takes a folder from Get-Item (its PSPath)' {
        $r = Get-Item -LiteralPath $cp | Receive-ResumableBatch -IncludeKey
        @($r.Key | Sort-Object) | Should -Be @('a', 'b', 'c')
    }

    It 'takes an object with a Path property (Get-ResumableBatch)' {
        $r = Get-ResumableBatch $cp | Receive-ResumableBatch
        @($r).Count | Should -Be 3
    }

    It 'reads each of several piped checkpoints' {
        $r = "$cp", "$cp" | Receive-ResumableBatch -Failed
        @($r).Count | Should -Be 0
        @("$cp", "$cp" | Receive-ResumableBatch).Count | Should -Be 6
    }

    It 'says a piped path that is no checkpoint is not found' {
        { (Join-Path $cp 'none') | Receive-ResumableBatch } | Should -Throw -ErrorId 'CheckpointNotFound,*'
    }
}
