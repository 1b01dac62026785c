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
