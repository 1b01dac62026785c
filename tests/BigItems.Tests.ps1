#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Items with many outputs (issue 10): their outputs stream down the pipeline as they are written,
# instead of being held until the item ends; what that means for retries, order and batches.

BeforeAll {
    $modulePath = if ($env:PARALLELMAP_MODULE) { $env:PARALLELMAP_MODULE } else { Join-Path $PSScriptRoot '../out/ParallelMap/ParallelMap.psd1' }
    Import-Module $modulePath -Force
}

Describe 'An item with many outputs' {
    It 'passes its outputs on while it still runs' {
        # The item waits for a signal that only its own first outputs, once downstream, give:
        # held until the item ended, they would never arrive, and the item would give up.
        $seen = [System.Threading.ManualResetEventSlim]::new($false)
        try {
            $results = 1 | Invoke-ParallelMap -Variable @{ seen = $seen } {
                foreach ($i in 1..2000) { $i }
                if ($seen.Wait(15000)) { 'released' } else { 'held back' }
            } | ForEach-Object { if ($_ -is [int]) { $seen.Set() }; $_ }
        }
        finally {
            $seen.Dispose()
        }

        $results.Count | Should -Be 2001
        $results[-1] | Should -Be 'released'
        ($results | Select-Object -First 2000) -join ',' | Should -Be ((1..2000) -join ',')
    }

    It 'is not retried once it has passed outputs on, so none is written twice' {
        $attempts = [System.Collections.Concurrent.ConcurrentDictionary[string, int]]::new()
        $results = 'big', 'small' | Invoke-ParallelMap -RetryCount 2 -RetryDelaySeconds 0 -ErrorAction SilentlyContinue -ErrorVariable failures -Variable @{ attempts = $attempts } {
            $null = $attempts.AddOrUpdate($_, 1, { param($k, $v) $v + 1 })
            $n = if ($_ -eq 'big') { 5000 } else { 10 }
            foreach ($i in 1..$n) { "$_-$i" }
            throw "$_ failed"
        }

        # The small item held its outputs and was retried; only its last attempt's are written.
        $attempts['small'] | Should -Be 3
        @($results | Where-Object { $_ -like 'small-*' }).Count | Should -Be 10
        # The big one streamed: its failure is final, and each output appears once.
        $attempts['big'] | Should -Be 1
        @($results | Where-Object { $_ -like 'big-*' }).Count | Should -Be 5000
        @($results | Where-Object { $_ -like 'big-*' } | Sort-Object -Unique).Count | Should -Be 5000
        @($failures | Where-Object { "$_" -eq 'big failed' }).Count | Should -Be 1
    }

    It 'keeps the order of items and of outputs with -Ordered' {
        $results = 1..4 | Invoke-ParallelMap -Ordered -ThrottleLimit 4 {
            if ($_ -eq 1) { Start-Sleep -Milliseconds 300 }
            foreach ($i in 1..1000) { "$_-$i" }
        }
        $expected = foreach ($item in 1..4) { foreach ($i in 1..1000) { "$item-$i" } }
        $results -join ',' | Should -Be ($expected -join ',')
    }

    It 'passes an -Ordered item''s outputs on while it still runs, once the items before it are out' {
        $seen = [System.Threading.ManualResetEventSlim]::new($false)
        try {
            $results = 'first', 'big' | Invoke-ParallelMap -Ordered -ThrottleLimit 2 -BatchSize 1 -Variable @{ seen = $seen } {
                if ($_ -eq 'first') { return 'first' }
                foreach ($i in 1..2000) { $i }
                if ($seen.Wait(15000)) { 'released' } else { 'held back' }
            } | ForEach-Object { if ($_ -is [int]) { $seen.Set() }; $_ }
        }
        finally {
            $seen.Dispose()
        }

        $results.Count | Should -Be 2002
        $results[0] | Should -Be 'first'
        $results[-1] | Should -Be 'released'
    }

    It 'holds an -Ordered big item back while an earlier item runs, instead of all its outputs' {
        # Item 2 could write its 100,000 outputs in well under a second; it may hold only a few
        # thousand before its turn, so by the time item 1 ends it has written no more than that.
        $progress = [hashtable]::Synchronized(@{ written = 0 })
        $results = 1, 2 | Invoke-ParallelMap -Ordered -ThrottleLimit 2 -BatchSize 1 -Variable @{ progress = $progress } {
            if ($_ -eq 1) {
                Start-Sleep -Milliseconds 1500
                return "written before item 1 ended: $($progress.written)"
            }

            foreach ($i in 1..100000) { $progress.written = $i; $i }
        }

        $results.Count | Should -Be 100001
        $written = [int]($results[0] -split ': ')[1]
        $written | Should -BeGreaterThan 0
        $written | Should -BeLessOrEqual 10000
        ($results[1..100000] -join ',') | Should -Be ((1..100000) -join ',')
    }

    It 'writes nothing of it in Invoke-ParallelRun' {
        $results = Invoke-ParallelRun { foreach ($i in 1..3000) { $i } }, { 'x' }
        $results | Should -BeNullOrEmpty
    }

    It 'records its whole result in a resumable batch' {
        $cp = Join-Path ([System.IO.Path]::GetTempPath()) ('pm-big-' + [guid]::NewGuid().ToString('N'))
        try {
            $passThru = 'k1', 'k2' | Start-ResumableBatch -Path $cp -PassThru -ThrottleLimit 2 { foreach ($i in 1..3000) { "$_-$i" } }
            @($passThru).Count | Should -Be 6000
            $saved = Receive-ResumableBatch -Path $cp
            @($saved).Count | Should -Be 6000
            @($saved | Where-Object { $_ -like 'k2-*' }).Count | Should -Be 3000
        }
        finally {
            if (Test-Path -LiteralPath $cp) { Remove-Item -LiteralPath $cp -Recurse -Force }
        }
    }
}

Describe 'A big key in a resumable batch' {
    BeforeEach {
        $cp = Join-Path ([System.IO.Path]::GetTempPath()) ('pm-bigkey-' + [guid]::NewGuid().ToString('N'))
        # Mixed outputs: strings (one with characters CliXml escapes), numbers, objects, hashtables.
        $make = 'param($k, $n) foreach ($i in 1..$n) { switch ($i % 4) { 0 { "$k-s$i" } 1 { $i } 2 { [pscustomobject]@{ K = $k; I = $i; T = "x_y<z>&" } } 3 { @{ a = $i; b = @(1, 2) } } } }'
        function Get-Spill($Path) { @(Get-ChildItem -LiteralPath (Join-Path $Path 'chunks') -Filter 'spill-*' -ErrorAction Ignore) }
    }
    AfterEach {
        foreach ($p in $cp, "$cp-whole") { if (Test-Path -LiteralPath $p) { Remove-Item -LiteralPath $p -Recurse -Force } }
    }

    It 'goes to a spill file while the item runs, and reads back as a result held whole does' {
        # After its outputs, the item counts the spill files in the checkpoint: a result held in
        # memory until the item ends (as with -PassThru, which needs the objects) makes none.
        $item = {
            $n = if ($_ -eq 'big') { 60000 } else { 10 }
            & ([scriptblock]::Create($make)) $_ $n
            "spills: $(@(Get-ChildItem -LiteralPath (Join-Path $cp 'chunks') -Filter 'spill-*').Count)"
        }
        $null = 'small', 'big' | Start-ResumableBatch -Path $cp -ThrottleLimit 2 -Variable @{ make = $make; cp = $cp } $item
        $null = 'small', 'big' | Start-ResumableBatch -Path "$cp-whole" -PassThru -ThrottleLimit 2 -Variable @{ make = $make; cp = "$cp-whole" } $item

        $spilled = @(Receive-ResumableBatch $cp -Key big)
        $whole = @(Receive-ResumableBatch "$cp-whole" -Key big)
        $spilled.Count | Should -Be 60001
        $spilled[-1] | Should -Be 'spills: 1' -Because 'the big result was on disk while the item ran'
        $whole[-1] | Should -Be 'spills: 0'
        $a = $spilled[0..59999] | ForEach-Object { $_ | ConvertTo-Json -Compress -Depth 3 }
        $b = $whole[0..59999] | ForEach-Object { $_ | ConvertTo-Json -Compress -Depth 3 }
        ($a -join "`n") -ceq ($b -join "`n") | Should -BeTrue -Because 'Receive-ResumableBatch reads a spilled result exactly as a whole one'
        $spilled[1].T | Should -BeExactly 'x_y<z>&'
        @(Receive-ResumableBatch $cp -Key small)[-1] | Should -Be 'spills: 0' -Because 'a small result stays in memory'
        (Get-Spill $cp).Count | Should -Be 0 -Because 'a spill is deleted once its chunk is saved'
        (Get-ResumableBatch $cp).Done | Should -Be 2
    }

    It 'leaves no spill file when the big key fails, records it failed, and records it whole on -RetryFailed' {
        $item = { & ([scriptblock]::Create($make)) $_ 30000; if (-not $ok) { throw 'late failure' } }
        $null = 'big' | Start-ResumableBatch -Path $cp -Variable @{ make = $make; ok = $false } $item -ErrorAction SilentlyContinue -ErrorVariable failures
        $failures.Count | Should -Be 1
        (Get-ResumableBatch $cp).Failed | Should -Be 1
        (Get-Spill $cp).Count | Should -Be 0
        @(Receive-ResumableBatch $cp).Count | Should -Be 0 -Because 'a failed key records none of its output'

        $null = 'big' | Start-ResumableBatch -Path $cp -RetryFailed -Variable @{ make = $make; ok = $true } $item
        @(Receive-ResumableBatch $cp).Count | Should -Be 30000
        (Get-Spill $cp).Count | Should -Be 0
    }
}
