#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Error messages a user can act on: they say whose code failed and why, and leak no internals.

BeforeAll {
    $modulePath = if ($env:PARALLELMAP_MODULE) { $env:PARALLELMAP_MODULE } else { Join-Path $PSScriptRoot '../out/ParallelMap/ParallelMap.psd1' }
    Import-Module (Resolve-Path $modulePath).Path -Force

    function New-CheckpointPath {
        Join-Path ([System.IO.Path]::GetTempPath()) ('pm-msg-' + [guid]::NewGuid().ToString('N'))
    }
}

AfterAll {
    Get-ChildItem ([System.IO.Path]::GetTempPath()) -Filter 'pm-msg-*' -Directory -ErrorAction SilentlyContinue | Remove-Item -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Error messages' {
    It 'a throw in the end {} block names the end block and the thrown message' {
        $out = 1..2 | Invoke-ParallelMap -ThrottleLimit 1 { process { $_ } end { throw 'boom in end' } } -ErrorVariable ev -ErrorAction SilentlyContinue
        @($out | Sort-Object) | Should -Be @(1, 2)
        $ev.Count | Should -Be 1
        $message = $ev[0].ToString()
        $message | Should -BeLike '*end {} block*'
        $message | Should -BeLike '*boom in end*'
        $message | Should -Not -BeLike '*Drive*'
        $message | Should -Not -BeLike '*argument(s)*'
    }

    It 'a mandatory parameter no item binds is refused up front, by name, not as a begin block failure' {
        $err = { 1..2 | Invoke-ParallelMap { param([Parameter(Mandatory)] $Name) process { $_ } } } |
            Should -Throw -ErrorId 'MandatoryParameterNotBound,*' -PassThru
        $err.Exception.Message | Should -BeLike '*$Name*'
        $err.Exception.Message | Should -BeLike '*pipeline*'
        $err.Exception.Message | Should -Not -BeLike '*begin {} block*'
    }

    It 'a mandatory parameter that takes the item from the pipeline still works' {
        $r = 1..3 | Invoke-ParallelMap { param([Parameter(Mandatory, ValueFromPipeline)] $n) process { $n * 10 } }
        @($r | Sort-Object) | Should -Be @(10, 20, 30)
        $r = 1..2 | Invoke-ParallelMap { param([Parameter(Mandatory = $false)] $Name) process { $_ } }
        @($r | Sort-Object) | Should -Be @(1, 2)
    }

    It 'a key that cannot be stored says so without a .NET parameter name' {
        $cp = New-CheckpointPath
        $null = "a$([char]0xD800)b" | Start-ResumableBatch -Path $cp { $_ } -ErrorVariable ev -ErrorAction SilentlyContinue
        $ev.Count | Should -Be 1
        $ev[0].FullyQualifiedErrorId | Should -BeLike 'KeyInvalid,*'
        $ev[0].Exception.Message | Should -BeLike '*key*'
        $ev[0].Exception.Message | Should -Not -BeLike "*(Parameter 'key')*"
        $ev[0].Exception.Message | Should -Not -BeLike '*Parameter name*'
    }

    It 'an ItemTimedOut names the item' {
        $null = 'slow-one', 'fast' | Invoke-ParallelMap -TimeoutSeconds 0.5 { if ($_ -like 'slow*') { Start-Sleep 10 }; $_ } -ErrorVariable ev -ErrorAction SilentlyContinue
        $ev.Count | Should -Be 1
        $ev[0].FullyQualifiedErrorId | Should -BeLike 'ItemTimedOut,*'
        $ev[0].Exception.Message | Should -BeLike "*'slow-one'*"
    }

    It 'an ItemTimedOut shortens a long item to one line' {
        $long = ('x' * 300) + "`nsecond line"
        $null = $long | Invoke-ParallelMap -TimeoutSeconds 0.5 { Start-Sleep 10 } -ErrorVariable ev -ErrorAction SilentlyContinue
        $message = $ev[0].Exception.Message
        $message | Should -BeLike "*'xxxx*"
        $message | Should -Not -BeLike '*second line*'
        $message.Length | Should -BeLessThan 250
        $message | Should -Not -Match "`n"
    }

    It 'Invoke-ParallelRun says which block failed: its number of all and its first line' {
        Invoke-ParallelRun { 'a' }, {
            # the second block
            throw 'c failed'
        }, { 'c' } -ErrorVariable ev -ErrorAction SilentlyContinue
        $ev.Count | Should -Be 1
        $message = $ev[0].ToString()
        $message | Should -BeLike '*block 2 of 3*'
        $message | Should -BeLike "*throw 'c failed'*"
        $message | Should -BeLike '*c failed'
        $ev[0].Exception.Message | Should -Be 'c failed'
    }

    It 'a $using: in -KeyScript is refused once, before any item runs' {
        $cp = New-CheckpointPath
        $prefix = 'p-'
        $ran = [System.Collections.Concurrent.ConcurrentBag[object]]::new()
        $err = { 'a', 'b' | Start-ResumableBatch -Path $cp -Variable @{ ran = $ran } -KeyScript { "$using:prefix$_" } { $ran.Add($_) } } |
            Should -Throw -ErrorId 'UsingInKeyScript,*' -PassThru
        $err.Exception.Message | Should -BeLike '*$using:prefix*'
        $ran.Count | Should -Be 0
        Test-Path $cp | Should -BeFalse
    }
}
