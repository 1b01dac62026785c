<#
.SYNOPSIS
    Benchmarks the built ParallelMap module against ForEach-Object -Parallel, sequential
    ForEach-Object and any peer module installed, and checks the results against targets.
.DESCRIPTION
    Every comparison runs in this one process, interleaved (the contenders of a figure take
    turns, in a rotated order each round) and repeated; each contender's median is used.
    Prints one `name: value` line per figure (lines starting with # are commentary), writes a
    markdown table to bench/results/latest.md and a bar chart to docs/bench-chart.svg (the
    tracked record of the last full run); a -Quick run writes out/bench/quick-latest.md and
    out/bench/quick-chart.svg instead (out/ is not tracked), so it never rewrites that record.

    Figures and targets:
      trivial_vs_foreach_parallel  items/s of { $_ } at throttle 2, ours over ForEach-Object -Parallel's  >= 50
      trivial_vs_sequential        the same, ours over sequential ForEach-Object's                     >= 0.5
      sleep_efficiency             1,000 x Start-Sleep 20 ms at throttle 50, ideal over measured wall     >= 0.9
      cpu_speedup_per_core         SHA256 work, speedup over sequential divided by the core count        >= 0.9
      stream_1m_peak_mb            peak working-set growth while 1,000,000 items stream through          <= 100
      stream_100k_peak_mb          the same at 100,000 items: about equal if memory stays flat          <= 100
      first_result_ms              time to the first output, 1..1000 with a 1 ms body                     <= 100
      big_item_first_result_ms     2 items writing 1,000,000 objects each at throttle 2: first output    <= 100
      big_item_peak_mb             the same: peak working-set growth while they stream through          <= 200
      batch_big_key_peak_mb        2 keys returning 1,000,000 objects each, Start-ResumableBatch at
                                   throttle 2: peak working-set growth while they are recorded      <= 200
      resumable_vs_map             Start-ResumableBatch items/s over Invoke-ParallelMap's (target >= 0.5)
      process_vs_start_job         200 x { $_ } at throttle 2: -Isolation Process items/s over one Start-Job
                                   per item (2 at a time; fewer jobs, items/s compared)              >= 20
      process_trivial_us_per_item  us per item of { $_ } with -Isolation Process, warm workers: 20,000 items
                                   on a warm pool of worker processes (a cold call's shown beside)  <= 100
      process_cpu_speedup_per_core the cpu workload with -Isolation Process on a warm pool of worker
                                   processes (the cold call, worker starts included, beside)        >= 0.9
      sleep_efficiency_pooled      the sleep figure on a warm pool of 50 (New-ParallelPool, -Pool)       >= 0.97
      pooled_call_overhead_ms      median wall time of one call of 1 item { $_ } on a warm pool         <= 1
      call_overhead_vs_foreach_parallel  ForEach-Object -Parallel's median for that call over ours      >= 20
      init_runs_pooled             init script runs over 10 calls of 100 items on a warm pool of 4      <= 4

    Peer modules (SplitPipeline, PoshRSJob, ThreadJob) are measured when Get-Module
    -ListAvailable finds them; absent ones are skipped.
.PARAMETER ModulePath
    The built module's manifest. Default: ../out/ParallelMap/ParallelMap.psd1 next to this script.
.PARAMETER Quick
    A shorter run (under 3 minutes on 2 cores): ForEach-Object -Parallel's trivial figure on
    1,000 items instead of 10,000 (items/s are compared), lighter CPU items, fewer job items.
.PARAMETER Repeat
    Rounds per figure (at least 3; the CPU and first-result figures use at least 5); the
    median of each contender is reported.
.PARAMETER ResultPath
    Where the markdown table goes. Default: results/latest.md next to this script, or with
    -Quick ../out/bench/quick-latest.md.
.PARAMETER ChartPath
    Where the SVG chart goes. Default: ../docs/bench-chart.svg next to this script, or with
    -Quick ../out/bench/quick-chart.svg.
.EXAMPLE
    pwsh bench/Compare-Parallel.ps1 -Quick
.EXAMPLE
    pwsh bench/Compare-Parallel.ps1 -Repeat 5
#>
#Requires -Version 7.0
[CmdletBinding()]
param(
    [string] $ModulePath = (Join-Path $PSScriptRoot '../out/ParallelMap/ParallelMap.psd1'),

    [switch] $Quick,

    [ValidateRange(3, 100)]
    [int] $Repeat = 3,

    [string] $ResultPath,

    [string] $ChartPath
)

# Only a full run updates the tracked record (bench/results/latest.md, docs/bench-chart.svg).
$quickOut = Join-Path $PSScriptRoot '../out/bench'
if (-not $ResultPath) { $ResultPath = if ($Quick) { Join-Path $quickOut 'quick-latest.md' } else { Join-Path $PSScriptRoot 'results/latest.md' } }
if (-not $ChartPath) { $ChartPath = if ($Quick) { Join-Path $quickOut 'quick-chart.svg' } else { Join-Path $PSScriptRoot '../docs/bench-chart.svg' } }

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

# Progress bars would cost time on the pipeline thread of some contenders and not others.
$ProgressPreference = 'SilentlyContinue'

if (-not (Test-Path -LiteralPath $ModulePath)) {
    $repoRoot = Split-Path -Parent $PSScriptRoot
    [Console]::Error.WriteLine("The built module is not at '$ModulePath'. Build it first: cd '$repoRoot'; pwsh ./build.ps1   (or pass -ModulePath).")
    exit 1
}

$inv = [Globalization.CultureInfo]::InvariantCulture
$cores = [Environment]::ProcessorCount
$module = Import-Module -Name (Resolve-Path -LiteralPath $ModulePath).ProviderPath -Force -PassThru
$mode = if ($Quick) { 'quick' } else { 'full' }
$started = [DateTime]::UtcNow
$loadStart = if (Test-Path -LiteralPath '/proc/loadavg') { ((Get-Content -LiteralPath '/proc/loadavg' -Raw) -split ' ')[0] } else { 'n/a' }
Write-Host ("# ParallelMap {0} from {1}; pwsh {2}; {3} cores; {4} run, {5} rounds, medians" -f $module.Version, $module.ModuleBase, $PSVersionTable.PSVersion, $cores, $mode, $Repeat)

# ---------------------------------------------------------------------------------------------
# Helpers

if (-not ('ParallelMapBench.CpuWork' -as [type])) {
    Add-Type -TypeDefinition @'
using System;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;

namespace ParallelMapBench
{
    /// <summary>The CPU figure's work in plain .NET threads: what the machine gives right now, with no PowerShell in the way.</summary>
    public static class CpuWork
    {
        public static int HashItems(byte[] buffer, int items, int reps, int threads)
        {
            var options = new ParallelOptions { MaxDegreeOfParallelism = threads };
            Parallel.For(0, items, options, i => { for (int r = 0; r < reps; r++) SHA256.HashData(buffer); });
            return items;
        }
    }

    /// <summary>Samples the process working set on a timer thread and keeps the highest value seen.</summary>
    public sealed class PeakSampler : IDisposable
    {
        private readonly Timer _timer;
        private readonly long _baseline;
        private long _peak;
        private long _samples;

        public PeakSampler(int periodMs)
        {
            _baseline = Environment.WorkingSet;
            _peak = _baseline;
            _timer = new Timer(_ => Sample(), null, 0, periodMs);
        }

        public long Samples { get { return Interlocked.Read(ref _samples); } }

        /// <summary>Peak minus the working set at construction, in MB (takes a last sample first).</summary>
        public double PeakGrowthMB { get { Sample(); return (Interlocked.Read(ref _peak) - _baseline) / 1048576.0; } }

        public double BaselineMB { get { return _baseline / 1048576.0; } }

        private void Sample()
        {
            long ws = Environment.WorkingSet;
            Interlocked.Increment(ref _samples);
            long seen;
            while (ws > (seen = Interlocked.Read(ref _peak)) && Interlocked.CompareExchange(ref _peak, ws, seen) != seen) { }
        }

        public void Dispose() { _timer.Dispose(); }
    }
}
'@
}

function Get-Median([double[]] $Values) {
    if ($null -eq $Values -or $Values.Length -eq 0) { return [double]::NaN }
    $s = [double[]]($Values | Sort-Object)
    $n = $s.Length
    if ($n % 2) { return $s[[int][Math]::Floor($n / 2)] }
    return ($s[$n / 2 - 1] + $s[$n / 2]) / 2
}

function Format-Num([double] $Value, [int] $Digits = 2) {
    if ([double]::IsNaN($Value)) { return 'n/a' }
    $abs = [Math]::Abs($Value)
    $fmt = if ($abs -ge 1000) { 'N0' } elseif ($abs -ge 100) { 'F0' } elseif ($abs -ge 10) { 'F1' } else { 'F' + $Digits }
    return $Value.ToString($fmt, $inv)
}

function Clear-Heap([switch] $Decommit) {
    [GC]::Collect()
    [GC]::WaitForPendingFinalizers()
    if ($Decommit) {
        # Aggressive: compacts and returns free memory to the OS, so that the working set starts
        # low and what a run needs shows up as growth (not hidden by memory committed earlier).
        [GC]::Collect(2, [GCCollectionMode]::Aggressive, $true, $true)
    }
    else {
        [GC]::Collect()
    }
}

# A contender: @{ Name; Body (returns the number of results); Expect (or $null); Before; After;
# Peer (errors are noted, not fatal); Stream (measure peak working-set growth) }.
# Returns Name -> @{ Ms = median ms; All = every time; PeakMB = median growth; Error }.
function Invoke-Interleaved([object[]] $Contenders, [int] $Rounds, [switch] $Warmup) {
    $res = [ordered]@{}
    foreach ($k in $Contenders) { $res[$k.Name] = @{ Times = [Collections.Generic.List[double]]::new(); Peaks = [Collections.Generic.List[double]]::new(); Error = $null } }
    if ($Warmup) {
        # One unmeasured run each, so code no earlier figure ran is compiled before timing starts.
        foreach ($k in $Contenders) {
            if ($k.ContainsKey('Before') -and $k.Before) { & $k.Before }
            try { $null = & $k.Body } finally { if ($k.ContainsKey('After') -and $k.After) { & $k.After } }
        }
    }
    for ($round = 0; $round -lt $Rounds; $round++) {
        for ($j = 0; $j -lt $Contenders.Count; $j++) {
            # Rotating the order each round spreads warm-up and machine noise over every contender.
            $k = $Contenders[($j + $round) % $Contenders.Count]
            $slot = $res[$k.Name]
            if ($slot.Error) { continue }
            try {
                if ($k.ContainsKey('Before') -and $k.Before) { & $k.Before }
                $stream = $k.ContainsKey('Stream') -and $k.Stream
                Clear-Heap -Decommit:$stream
                $sampler = if ($stream) { [ParallelMapBench.PeakSampler]::new(5) } else { $null }
                $sw = [Diagnostics.Stopwatch]::StartNew()
                try {
                    $count = & $k.Body
                }
                finally {
                    $ms = $sw.Elapsed.TotalMilliseconds
                    if ($sampler) { $peak = $sampler.PeakGrowthMB; $sampler.Dispose() }
                    if ($k.ContainsKey('After') -and $k.After) { & $k.After }
                }
                if ($k.ContainsKey('Expect') -and $null -ne $k.Expect -and $count -ne $k.Expect) {
                    throw "$($k.Name): expected $($k.Expect) results, got $count"
                }
                $slot.Times.Add($ms)
                if ($stream) { $slot.Peaks.Add($peak) }
            }
            catch {
                if (-not ($k.ContainsKey('Peer') -and $k.Peer)) { throw }
                $slot.Error = $_.Exception.Message
                Write-Host "# $($k.Name) failed, left out: $($slot.Error)"
            }
        }
    }
    $out = [ordered]@{}
    foreach ($name in $res.Keys) {
        $slot = $res[$name]
        $out[$name] = [pscustomobject]@{
            Ms     = Get-Median $slot.Times.ToArray()
            All    = $slot.Times.ToArray()
            PeakMB = Get-Median $slot.Peaks.ToArray()
            Peaks  = $slot.Peaks.ToArray()
            Error  = $slot.Error
        }
    }
    return $out
}

$figures = [Collections.Generic.List[object]]::new()
$details = [Collections.Generic.List[string]]::new()

function Add-Figure {
    param([string] $Name, [double] $Value, [string] $Unit, [string] $Op, [double] $Target, [string] $Peers, [string] $Notes)
    $pass = $null
    if (-not [double]::IsNaN($Value) -and $Op) {
        $pass = if ($Op -eq '>=') { $Value -ge $Target } else { $Value -le $Target }
    }
    $figures.Add([pscustomobject]@{ Name = $Name; Value = $Value; Unit = $Unit; Op = $Op; Target = $Target; Pass = $pass; Peers = $Peers; Notes = $Notes })
    Write-Output ('{0}: {1}' -f $Name, (Format-Num $Value))
}

function Add-Detail([string] $Figure, $Results, [hashtable] $Items) {
    foreach ($name in $Results.Keys) {
        $r = $Results[$name]
        if ($r.Error) { $details.Add("${Figure} / ${name}: failed: $($r.Error)"); continue }
        $times = ($r.All | ForEach-Object { Format-Num $_ 1 }) -join ', '
        $line = "${Figure} / ${name}: median $(Format-Num $r.Ms 1) ms (runs: $times)"
        if ($Items -and $Items.ContainsKey($name)) { $line += "; $($Items[$name]) items" }
        if ($r.Peaks.Count -gt 0) { $line += "; peak growth MB: " + (($r.Peaks | ForEach-Object { Format-Num $_ 1 }) -join ', ') }
        $details.Add($line)
    }
}

# The 1-minute load average (Linux): other work on the machine skews CPU figures.
function Get-LoadText { if (Test-Path -LiteralPath '/proc/loadavg') { ((Get-Content -LiteralPath '/proc/loadavg' -Raw) -split ' ')[0] } else { 'n/a' } }

function Get-Rate([double] $Items, [double] $Ms) { if ($Ms -gt 0) { $Items * 1000 / $Ms } else { [double]::NaN } }

# ---------------------------------------------------------------------------------------------
# Peers: measured when installed, skipped silently otherwise.

$peer = @{}
foreach ($name in 'SplitPipeline', 'PoshRSJob', 'Microsoft.PowerShell.ThreadJob', 'ThreadJob') {
    $found = Get-Module -ListAvailable -Name $name | Sort-Object Version -Descending | Select-Object -First 1
    if (-not $found) { continue }
    $key = if ($name -like '*ThreadJob') { 'ThreadJob' } else { $name }
    if ($peer.ContainsKey($key)) { continue }
    try {
        Import-Module $found.Path -ErrorAction Stop
        $peer[$key] = $found
    }
    catch {
        Write-Host "# peer $name found but not importable, left out: $($_.Exception.Message)"
    }
}
if ($peer.Count) { Write-Host ("# peers: " + (($peer.Keys | Sort-Object | ForEach-Object { "$_ $($peer[$_].Version)" }) -join ', ')) }

# ---------------------------------------------------------------------------------------------
# first_result_ms, cold: the very first call in this process (JIT, first runspaces), before any warm-up.

$firstState = @{ At = [double]::NaN }
function Measure-FirstOutput([scriptblock] $Producer) {
    $firstState.At = [double]::NaN
    $sw = [Diagnostics.Stopwatch]::StartNew()
    $null = & $Producer | ForEach-Object { if ([double]::IsNaN($firstState.At)) { $firstState.At = $sw.Elapsed.TotalMilliseconds }; $_ } | Select-Object -First 1
    return [pscustomobject]@{ First = $firstState.At; Total = $sw.Elapsed.TotalMilliseconds }
}
$coldFirst = Measure-FirstOutput { 1..1000 | Invoke-ParallelMap { Start-Sleep -Milliseconds 1; $_ } }

# Warm-up: JIT and module auto-loading of each path, so that round 1 is not an outlier by design.
$null = 1..200 | Invoke-ParallelMap { $_ } -ThrottleLimit 2 | Measure-Object
$null = 1..200 | ForEach-Object { $_ } | Measure-Object
$null = 1..20 | ForEach-Object -Parallel { $_ } -ThrottleLimit 2 | Measure-Object
$null = 1..4 | Invoke-ParallelMap { Start-Sleep -Milliseconds 1 } -ThrottleLimit 2 | Measure-Object

# ---------------------------------------------------------------------------------------------
# trivial: { $_ } at throttle 2.

$nTrivial = 10000
$nFep = if ($Quick) { 1000 } else { 10000 }
$nJob = if ($Quick) { 100 } else { 300 }
Write-Host "# trivial: { `$_ } at throttle 2 (ours and sequential on $nTrivial items, ForEach-Object -Parallel on $nFep)"
$items = @{ ours = $nTrivial; sequential = $nTrivial; 'foreach-parallel' = $nFep }
$contenders = @(
    @{ Name = 'ours'; Expect = $nTrivial; Body = { (1..$nTrivial | Invoke-ParallelMap { $_ } -ThrottleLimit 2 | Measure-Object).Count } }
    @{ Name = 'sequential'; Expect = $nTrivial; Body = { (1..$nTrivial | ForEach-Object { $_ } | Measure-Object).Count } }
    @{ Name = 'foreach-parallel'; Expect = $nFep; Body = { (1..$nFep | ForEach-Object -Parallel { $_ } -ThrottleLimit 2 | Measure-Object).Count } }
)
if ($peer.ContainsKey('SplitPipeline')) {
    $items['SplitPipeline'] = $nTrivial
    $contenders += @{ Name = 'SplitPipeline'; Peer = $true; Expect = $nTrivial; Body = { (1..$nTrivial | Split-Pipeline -Count 2 { process { $_ } } | Measure-Object).Count } }
}
if ($peer.ContainsKey('PoshRSJob')) {
    $items['PoshRSJob'] = $nJob
    $contenders += @{ Name = 'PoshRSJob'; Peer = $true; Expect = $nJob; Body = {
            $jobs = 1..$nJob | Start-RSJob -ScriptBlock { $_ } -Throttle 2
            try { ($jobs | Wait-RSJob | Receive-RSJob | Measure-Object).Count } finally { $jobs | Remove-RSJob -Force }
        }
    }
}
if ($peer.ContainsKey('ThreadJob')) {
    $items['ThreadJob'] = $nJob
    $contenders += @{ Name = 'ThreadJob'; Peer = $true; Expect = $nJob; Body = {
            $jobs = 1..$nJob | ForEach-Object { Start-ThreadJob -ScriptBlock { param($x) $x } -ArgumentList $_ -ThrottleLimit 2 }
            ($jobs | Receive-Job -Wait -AutoRemoveJob | Measure-Object).Count
        }
    }
}
$r = Invoke-Interleaved $contenders $Repeat
Add-Detail 'trivial' $r $items
$rate = @{}
foreach ($name in $r.Keys) { $rate[$name] = if ($r[$name].Error) { [double]::NaN } else { Get-Rate $items[$name] $r[$name].Ms } }
$peerText = ($r.Keys | Where-Object { -not $r[$_].Error } | ForEach-Object { "${_}: $(Format-Num $rate[$_]) items/s" + $(if ($items[$_] -ne $nTrivial) { " ($($items[$_]) items)" }) }) -join '; '
$fepNote = if ($nFep -ne $nTrivial) { "-Quick: ForEach-Object -Parallel measured on $nFep items (it costs ~2.4 ms/item), ours on $nTrivial; items/s compared" } else { "all on $nTrivial items" }
Add-Figure 'trivial_vs_foreach_parallel' ($rate['ours'] / $rate['foreach-parallel']) 'x' '>=' 50 $peerText $fepNote
Add-Figure 'trivial_vs_sequential' ($rate['ours'] / $rate['sequential']) 'x' '>=' 0.5 $peerText "ours: $nTrivial items in $(Format-Num ($r['ours'].Ms) 1) ms, opening its 2 runspaces included"

# ---------------------------------------------------------------------------------------------
# sleep_efficiency: 1,000 x Start-Sleep -Milliseconds 20 at throttle 50.

$nSleep = 1000; $sleepMs = 20; $sleepThrottle = 50   # the bodies say 20 literally, as a user would
$ideal = $nSleep * $sleepMs / $sleepThrottle
Write-Host "# sleep: $nSleep x Start-Sleep -Milliseconds $sleepMs at throttle $sleepThrottle (ideal $ideal ms)"
$contenders = @(
    @{ Name = 'ours'; Expect = $nSleep; Body = { (1..$nSleep | Invoke-ParallelMap { Start-Sleep -Milliseconds 20; $_ } -ThrottleLimit $sleepThrottle | Measure-Object).Count } }
    @{ Name = 'foreach-parallel'; Expect = $nSleep; Body = { (1..$nSleep | ForEach-Object -Parallel { Start-Sleep -Milliseconds 20; $_ } -ThrottleLimit $sleepThrottle | Measure-Object).Count } }
    # Diagnostics for the notes: the same work without Start-Sleep's module (no auto-loading of
    # Microsoft.PowerShell.Utility in each runspace), and the bare start-up of 50 runspaces.
    @{ Name = 'ours, [Thread]::Sleep body'; Expect = $nSleep; Body = { (1..$nSleep | Invoke-ParallelMap { [Threading.Thread]::Sleep(20); $_ } -ThrottleLimit $sleepThrottle | Measure-Object).Count } }
    # 50 items of 100 ms: every item needs its own runspace, so the time over 100 ms is start-up.
    @{ Name = 'ours, 50 x [Thread]::Sleep(100)'; Expect = $sleepThrottle; Body = { (1..$sleepThrottle | Invoke-ParallelMap { [Threading.Thread]::Sleep(100); $_ } -ThrottleLimit $sleepThrottle | Measure-Object).Count } }
)
if ($peer.ContainsKey('SplitPipeline')) {
    $contenders += @{ Name = 'SplitPipeline'; Peer = $true; Expect = $nSleep; Body = { (1..$nSleep | Split-Pipeline -Count $sleepThrottle { process { Start-Sleep -Milliseconds 20; $_ } } | Measure-Object).Count } }
}
$r = Invoke-Interleaved $contenders $Repeat
Add-Detail 'sleep' $r $null
# What one Start-Sleep -Milliseconds 20 really takes here (timer slack), measured once.
$sw = [Diagnostics.Stopwatch]::StartNew(); 1..25 | ForEach-Object { Start-Sleep -Milliseconds $sleepMs }; $actualSleep = $sw.Elapsed.TotalMilliseconds / 25
$eff = @{}
foreach ($name in 'ours', 'foreach-parallel', 'ours, [Thread]::Sleep body', 'SplitPipeline') {
    if ($r.Contains($name) -and -not $r[$name].Error) { $eff[$name] = $ideal / $r[$name].Ms }
}
$peerText = (@('foreach-parallel', 'SplitPipeline') | Where-Object { $eff.ContainsKey($_) } | ForEach-Object { "${_}: $(Format-Num $eff[$_]) ($(Format-Num $r[$_].Ms) ms)" }) -join '; '
$notes = "ours $(Format-Num $r['ours'].Ms) ms vs ideal $ideal ms; one Start-Sleep $sleepMs ms takes $(Format-Num $actualSleep) ms here; " +
"[Thread]::Sleep body (no Utility module auto-load per runspace): $(Format-Num $eff['ours, [Thread]::Sleep body']); " +
"50 x [Thread]::Sleep(100) at throttle 50 takes $(Format-Num $r['ours, 50 x [Thread]::Sleep(100)'].Ms) ms (the excess over 100 ms is runspace start-up)"
Add-Figure 'sleep_efficiency' $eff['ours'] 'x' '>=' 0.9 $peerText $notes

# ---------------------------------------------------------------------------------------------
# cpu_speedup_per_core: each item hashes the same 256 KB buffer $cpuReps times.

$nCpu = 400
$cpuReps = if ($Quick) { 25 } else { 50 }
$cpuBuf = [byte[]]::new(256KB)
[Random]::new(1).NextBytes($cpuBuf)
$sw = [Diagnostics.Stopwatch]::StartNew(); for ($i = 0; $i -lt 20; $i++) { $null = [Security.Cryptography.SHA256]::HashData($cpuBuf) }; $hashMs = $sw.Elapsed.TotalMilliseconds / 20
Write-Host "# cpu: $nCpu items x $cpuReps SHA256 of 256 KB (~$(Format-Num ($hashMs * $cpuReps) 1) ms/item), throttle $cores"
$contenders = @(
    @{ Name = 'sequential'; Expect = $nCpu; Body = {
            (1..$nCpu | ForEach-Object { for ($i = 0; $i -lt $cpuReps; $i++) { $null = [Security.Cryptography.SHA256]::HashData($cpuBuf) }; $_ } | Measure-Object).Count
        }
    }
    # The buffer is shared by reference (-Variable): HashData only reads it.
    @{ Name = 'ours'; Expect = $nCpu; Body = {
            (1..$nCpu | Invoke-ParallelMap -ThrottleLimit $cores -Variable @{ cpuBuf = $cpuBuf; cpuReps = $cpuReps } {
                for ($i = 0; $i -lt $cpuReps; $i++) { $null = [Security.Cryptography.SHA256]::HashData($cpuBuf) }; $_
            } | Measure-Object).Count
        }
    }
    @{ Name = 'foreach-parallel'; Expect = $nCpu; Body = {
            (1..$nCpu | ForEach-Object -Parallel {
                $b = $using:cpuBuf; $n = $using:cpuReps
                for ($i = 0; $i -lt $n; $i++) { $null = [Security.Cryptography.SHA256]::HashData($b) }; $_
            } -ThrottleLimit $cores | Measure-Object).Count
        }
    }
)
# The ceiling: the same work on plain .NET threads, interleaved with the rest (the machine is shared).
$contenders += @{ Name = '.NET 1 thread'; Expect = $nCpu; Body = { [ParallelMapBench.CpuWork]::HashItems($cpuBuf, $nCpu, $cpuReps, 1) } }
$contenders += @{ Name = ".NET $cores threads"; Expect = $nCpu; Body = { [ParallelMapBench.CpuWork]::HashItems($cpuBuf, $nCpu, $cpuReps, $cores) } }
if ($peer.ContainsKey('SplitPipeline')) {
    $contenders += @{ Name = 'SplitPipeline'; Peer = $true; Expect = $nCpu; Body = {
            (1..$nCpu | Split-Pipeline -Count $cores -Variable cpuBuf, cpuReps {
                process { for ($i = 0; $i -lt $cpuReps; $i++) { $null = [Security.Cryptography.SHA256]::HashData($cpuBuf) }; $_ }
            } | Measure-Object).Count
        }
    }
}
$cpuRounds = [Math]::Max($Repeat, 5)
$load0 = Get-LoadText
$r = Invoke-Interleaved $contenders $cpuRounds
Add-Detail 'cpu' $r $null
$spc = @{}
foreach ($name in $r.Keys) { if ($name -notlike '*sequential' -and $name -notlike '.NET*' -and -not $r[$name].Error) { $spc[$name] = $r['sequential'].Ms / $r[$name].Ms / $cores } }
$ceiling = $r['.NET 1 thread'].Ms / $r[".NET $cores threads"].Ms / $cores
$peerText = (@($spc.Keys | Where-Object { $_ -ne 'ours' } | Sort-Object | ForEach-Object { "${_}: $(Format-Num $spc[$_])" }) + "plain .NET threads, same work (the machine's ceiling now): $(Format-Num $ceiling)") -join '; '
Add-Figure 'cpu_speedup_per_core' $spc['ours'] 'x' '>=' 0.9 $peerText "sequential $(Format-Num $r['sequential'].Ms) ms, ours $(Format-Num $r['ours'].Ms) ms on $cores cores; $cpuReps hashes/item (~$(Format-Num ($hashMs * $cpuReps) 1) ms); median of $cpuRounds rounds; load average $load0 before, $(Get-LoadText) after"

# ---------------------------------------------------------------------------------------------
# stream: peak working-set growth while 1..N streams through into Measure-Object.

Write-Host "# stream: 1..N | ... | Measure-Object, working set sampled every 5 ms from a timer thread, after an aggressive GC"
$contenders = @(
    @{ Name = 'ours 1M'; Stream = $true; Expect = 1000000; Body = { (1..1000000 | Invoke-ParallelMap { $_ } | Measure-Object).Count } }
    @{ Name = 'ours 100k'; Stream = $true; Expect = 100000; Body = { (1..100000 | Invoke-ParallelMap { $_ } | Measure-Object).Count } }
    @{ Name = 'sequential 1M'; Stream = $true; Expect = 1000000; Body = { (1..1000000 | ForEach-Object { $_ } | Measure-Object).Count } }
    @{ Name = 'generator only 1M'; Stream = $true; Expect = 1000000; Body = { (1..1000000 | Measure-Object).Count } }
)
$r = Invoke-Interleaved $contenders $Repeat
Add-Detail 'stream' $r $null
$peerText = "sequential ForEach-Object 1M: $(Format-Num $r['sequential 1M'].PeakMB 1) MB; 1..1M | Measure-Object alone: $(Format-Num $r['generator only 1M'].PeakMB 1) MB"
$gcNote = "growth after an aggressive GC; most of it is the GC's allocation budget regrowing (the bare generator shows it too)"
Add-Figure 'stream_1m_peak_mb' $r['ours 1M'].PeakMB 'MB' '<=' 100 $peerText "$gcNote; ours 1M took $(Format-Num ($r['ours 1M'].Ms / 1000)) s"
Add-Figure 'stream_100k_peak_mb' $r['ours 100k'].PeakMB 'MB' '<=' 100 $peerText "1M over 100k: $(Format-Num ($r['ours 1M'].PeakMB - $r['ours 100k'].PeakMB) 1) MB more for 10x the items"

# ---------------------------------------------------------------------------------------------
# big items: 2 items that each write 1,000,000 objects, at throttle 2. An item's outputs stream
# down the pipeline as it writes them, so neither the first output nor the memory waits for the
# item to end.

$nBig = 1000000
Write-Host "# big items: 1..2 | ... -ThrottleLimit 2 { foreach (`$i in 1..$nBig) { `$i } } | Measure-Object, first output and peak growth"
$bigBody = { foreach ($i in 1..1000000) { $i } }
$contenders = @(
    @{ Name = 'ours'; Stream = $true; Expect = 2 * $nBig; Body = { (1..2 | Invoke-ParallelMap $bigBody -ThrottleLimit 2 | Measure-Object).Count } }
    @{ Name = 'foreach-parallel'; Stream = $true; Expect = 2 * $nBig; Body = { (1..2 | ForEach-Object -Parallel { foreach ($i in 1..1000000) { $i } } -ThrottleLimit 2 | Measure-Object).Count } }
)
$r = Invoke-Interleaved $contenders $Repeat
Add-Detail 'big' $r $null
$bigFirst = [Collections.Generic.List[double]]::new()
$bigFirstFep = [Collections.Generic.List[double]]::new()
for ($round = 0; $round -lt $Repeat; $round++) {
    Clear-Heap
    $bigFirst.Add((Measure-FirstOutput { 1..2 | Invoke-ParallelMap $bigBody -ThrottleLimit 2 }).First)
    Clear-Heap
    $bigFirstFep.Add((Measure-FirstOutput { 1..2 | ForEach-Object -Parallel { foreach ($i in 1..1000000) { $i } } -ThrottleLimit 2 }).First)
}
$details.Add("big / first output at (ours) " + (($bigFirst | ForEach-Object { Format-Num $_ 1 }) -join ', ') + " ms; (foreach-parallel) " + (($bigFirstFep | ForEach-Object { Format-Num $_ 1 }) -join ', ') + ' ms')
Add-Figure 'big_item_first_result_ms' (Get-Median $bigFirst.ToArray()) 'ms' '<=' 100 "foreach-parallel: $(Format-Num (Get-Median $bigFirstFep.ToArray())) ms" "2 items x $nBig objects at throttle 2, Select-Object -First 1 stopping the run"
Add-Figure 'big_item_peak_mb' $r['ours'].PeakMB 'MB' '<=' 200 "foreach-parallel: $(Format-Num $r['foreach-parallel'].PeakMB 1) MB" "whole run took $(Format-Num ($r['ours'].Ms / 1000)) s (foreach-parallel $(Format-Num ($r['foreach-parallel'].Ms / 1000)) s); $gcNote"

# ---------------------------------------------------------------------------------------------
# big keys: the same two big items as keys of a resumable batch. A key is recorded whole, so its
# output cannot stream on; it is serialized as it is written and spilled to the checkpoint's
# folder instead. The peer saves the same results the way one would without a checkpoint:
# ForEach-Object -Parallel piped into Export-Clixml, which writes each object as it arrives.

Write-Host "# big keys: 'k1','k2' | Start-ResumableBatch -ThrottleLimit 2 { foreach (`$i in 1..$nBig) { `$i } }, peak growth"
$bigCp = Join-Path ([IO.Path]::GetTempPath()) ('pm-bench-bigkey-' + [guid]::NewGuid().ToString('N'))
$contenders = @(
    @{ Name = 'ours'; Stream = $true; Expect = 2; After = { Remove-Item -LiteralPath $bigCp -Recurse -Force -ErrorAction Ignore }
        Body = { $null = 'k1', 'k2' | Start-ResumableBatch -Path $bigCp -ThrottleLimit 2 $bigBody; (Get-ResumableBatch $bigCp).Done } }
    @{ Name = 'foreach-parallel | Export-Clixml'; Stream = $true; Expect = 2; Peer = $true; After = { Remove-Item -LiteralPath "$bigCp.xml" -Force -ErrorAction Ignore }
        Body = { 1..2 | ForEach-Object -Parallel { foreach ($i in 1..1000000) { $i } } -ThrottleLimit 2 | Export-Clixml -LiteralPath "$bigCp.xml"; 2 } }
)
# One round: the peer's Export-Clixml takes minutes for 2,000,000 objects, and a peak varies little.
$r = Invoke-Interleaved $contenders 1
Add-Detail 'bigkey' $r $null
$bigKeyPeer = $r['foreach-parallel | Export-Clixml']
Add-Figure 'batch_big_key_peak_mb' $r['ours'].PeakMB 'MB' '<=' 200 "foreach-parallel | Export-Clixml: $(Format-Num $bigKeyPeer.PeakMB 1) MB in $(Format-Num ($bigKeyPeer.Ms / 1000)) s" "2 keys x $nBig objects at throttle 2, recorded in $(Format-Num ($r['ours'].Ms / 1000)) s; one round; $gcNote"

# ---------------------------------------------------------------------------------------------
# first_result_ms: 1..1000 with a 1 ms body; a stopwatch read on the first object downstream.

Write-Host "# first result: 1..1000 | ... { Start-Sleep -Milliseconds 1; `$_ } | (stopwatch on first object) | Select-Object -First 1"
$fr = @{ ours = [Collections.Generic.List[double]]::new(); 'foreach-parallel' = [Collections.Generic.List[double]]::new() }
$frTotal = @{ ours = [Collections.Generic.List[double]]::new(); 'foreach-parallel' = [Collections.Generic.List[double]]::new() }
$producers = [ordered]@{
    ours               = { 1..1000 | Invoke-ParallelMap { Start-Sleep -Milliseconds 1; $_ } }
    'foreach-parallel' = { 1..1000 | ForEach-Object -Parallel { Start-Sleep -Milliseconds 1; $_ } -ThrottleLimit $cores }
}
for ($round = 0; $round -lt [Math]::Max($Repeat, 5); $round++) {
    $names = @($producers.Keys)
    if ($round % 2) { [array]::Reverse($names) }
    foreach ($name in $names) {
        Clear-Heap
        $m = Measure-FirstOutput $producers[$name]
        $fr[$name].Add($m.First); $frTotal[$name].Add($m.Total)
    }
}
foreach ($name in $fr.Keys) { $details.Add("first / ${name}: first output at " + (($fr[$name] | ForEach-Object { Format-Num $_ 1 }) -join ', ') + " ms; with the stop: " + (($frTotal[$name] | ForEach-Object { Format-Num $_ 1 }) -join ', ') + ' ms') }
$details.Add("first / ours, cold (first call in the process): first output at $(Format-Num $coldFirst.First 1) ms; with the stop: $(Format-Num $coldFirst.Total 1) ms")
$firstOurs = Get-Median $fr['ours'].ToArray()
Add-Figure 'first_result_ms' $firstOurs 'ms' '<=' 100 "foreach-parallel: $(Format-Num (Get-Median $fr['foreach-parallel'].ToArray())) ms" "default throttle ($cores); cold first call in the process: $(Format-Num $coldFirst.First) ms; with Select-Object -First 1 stopping the run: $(Format-Num (Get-Median $frTotal['ours'].ToArray())) ms"

# ---------------------------------------------------------------------------------------------
# resumable_vs_map: Start-ResumableBatch over Invoke-ParallelMap on the same string items.

if (Get-Command Start-ResumableBatch -ErrorAction SilentlyContinue) {
    $nRes = if ($Quick) { 2000 } else { $nTrivial }
    $resItems = [string[]](1..$nRes | ForEach-Object { "k$_" })
    $resState = @{ Dir = $null }
    Write-Host "# resumable: $nRes string items, { `$_ }, throttle 2, a new checkpoint folder each run"
    $contenders = @(
        @{ Name = 'ours (Invoke-ParallelMap)'; Expect = $nRes; Body = { ($resItems | Invoke-ParallelMap { $_ } -ThrottleLimit 2 | Measure-Object).Count } }
        @{ Name = 'Start-ResumableBatch'; Expect = $null
            Before = { $resState.Dir = Join-Path ([IO.Path]::GetTempPath()) ('pm-bench-' + [guid]::NewGuid().ToString('N')) }
            Body = { $null = $resItems | Start-ResumableBatch -Path $resState.Dir -ScriptBlock { $_ } -ThrottleLimit 2 -Confirm:$false; $nRes }
            After = { if ($resState.Dir -and (Test-Path -LiteralPath $resState.Dir)) { Remove-Item -LiteralPath $resState.Dir -Recurse -Force } }
        }
    )
    $r = Invoke-Interleaved $contenders $Repeat -Warmup
    Add-Detail 'resumable' $r $null
    $ratio = $r['ours (Invoke-ParallelMap)'].Ms / $r['Start-ResumableBatch'].Ms
    Add-Figure 'resumable_vs_map' $ratio 'x' '>=' 0.5 "Invoke-ParallelMap: $(Format-Num (Get-Rate $nRes $r['ours (Invoke-ParallelMap)'].Ms)) items/s; Start-ResumableBatch: $(Format-Num (Get-Rate $nRes $r['Start-ResumableBatch'].Ms)) items/s" "$nRes items, after one warm-up run each (Start-ResumableBatch has not run before in the process); the cost of durable checkpointing (CliXml serialization, journal, chunk fsync)"
}
else {
    Write-Output 'resumable_vs_map: n/a (Start-ResumableBatch not in this build)'
    $figures.Add([pscustomobject]@{ Name = 'resumable_vs_map'; Value = [double]::NaN; Unit = 'x'; Op = ''; Target = 0; Pass = $null; Peers = ''; Notes = 'n/a: Start-ResumableBatch not in this build' })
}


# ---------------------------------------------------------------------------------------------
# Pools (New-ParallelPool, -Pool): the same work on runspaces kept open across calls.

if (Get-Command New-ParallelPool -ErrorAction SilentlyContinue) {
    # sleep_efficiency_pooled: the sleep figure's work on a pool of 50 whose runspaces are all open
    # (warmed by 50 items that each wait until all 50 run at once, with Start-Sleep's module loaded).
    $sleepPool = New-ParallelPool -ThrottleLimit $sleepThrottle
    try {
        $all = [Threading.CountdownEvent]::new($sleepThrottle)
        $null = 1..$sleepThrottle | Invoke-ParallelMap -Pool $sleepPool -Variable @{ all = $all } { Start-Sleep -Milliseconds 1; $all.Signal(); $null = $all.Wait(60000); $_ }
        Write-Host "# pooled sleep: $nSleep x Start-Sleep -Milliseconds $sleepMs on a warm pool of $sleepThrottle ($($sleepPool.OpenRunspaces) runspaces open; ideal $ideal ms)"
        $contenders = @(
            @{ Name = 'ours pooled'; Expect = $nSleep; Body = { (1..$nSleep | Invoke-ParallelMap -Pool $sleepPool { Start-Sleep -Milliseconds 20; $_ } | Measure-Object).Count } }
            @{ Name = 'ours unpooled'; Expect = $nSleep; Body = { (1..$nSleep | Invoke-ParallelMap { Start-Sleep -Milliseconds 20; $_ } -ThrottleLimit $sleepThrottle | Measure-Object).Count } }
        )
        $r = Invoke-Interleaved $contenders $Repeat
        Add-Detail 'sleep pooled' $r $null
        Add-Figure 'sleep_efficiency_pooled' ($ideal / $r['ours pooled'].Ms) 'x' '>=' 0.97 "unpooled in the same rounds: $(Format-Num ($ideal / $r['ours unpooled'].Ms)) ($(Format-Num $r['ours unpooled'].Ms) ms)" "ours pooled $(Format-Num $r['ours pooled'].Ms) ms vs ideal $ideal ms; one Start-Sleep $sleepMs ms takes $(Format-Num $actualSleep) ms here, so the machine's own ideal now is $(Format-Num ($nSleep * $actualSleep / $sleepThrottle)) ms ($(Format-Num ($nSleep * $actualSleep / $sleepThrottle / $r['ours pooled'].Ms)) of it reached); load average $(Get-LoadText)"
    }
    finally { Remove-ParallelPool $sleepPool }

    # pooled_call_overhead_ms: one call of one item { $_ } on a warm pool, timed call by call.
    $callPool = New-ParallelPool -ThrottleLimit $cores
    try {
        $null = 1..20 | Invoke-ParallelMap -Pool $callPool { $_ }
        $nCalls = if ($Quick) { 100 } else { 300 }
        $nFepCalls = if ($Quick) { 10 } else { 30 }
        $one = { $_ }
        for ($i = 0; $i -lt 20; $i++) { $null = 1 | Invoke-ParallelMap -Pool $callPool $one }
        $ourCalls = [Collections.Generic.List[double]]::new()
        $fepCalls = [Collections.Generic.List[double]]::new()
        $load0 = Get-LoadText
        # Interleaved: ten of ours, then one ForEach-Object -Parallel, so both see the same machine.
        for ($i = 0; $i -lt $nCalls; $i++) {
            $sw = [Diagnostics.Stopwatch]::StartNew(); $null = 1 | Invoke-ParallelMap -Pool $callPool $one; $ourCalls.Add($sw.Elapsed.TotalMilliseconds)
            if ($i % ($nCalls / $nFepCalls) -eq 0) {
                $sw = [Diagnostics.Stopwatch]::StartNew(); $null = 1 | ForEach-Object -Parallel $one -ThrottleLimit $cores; $fepCalls.Add($sw.Elapsed.TotalMilliseconds)
            }
        }
        $ourMedian = Get-Median $ourCalls.ToArray()
        $fepMedian = Get-Median $fepCalls.ToArray()
        $sorted = @($ourCalls | Sort-Object)
        $details.Add("pooled call / ours: median $(Format-Num $ourMedian 3) ms over $nCalls calls; fastest $(Format-Num $sorted[0] 3) ms; 90th percentile $(Format-Num $sorted[[int]($sorted.Count * 0.9)] 3) ms")
        $details.Add("pooled call / foreach-parallel: median $(Format-Num $fepMedian 3) ms over $($fepCalls.Count) calls")
        Add-Figure 'pooled_call_overhead_ms' $ourMedian 'ms' '<=' 1 "ForEach-Object -Parallel, same item: $(Format-Num $fepMedian) ms" "median of $nCalls calls of 1 item on a warm pool of $cores; fastest $(Format-Num $sorted[0] 3) ms; load average $load0 before, $(Get-LoadText) after"
        Add-Figure 'call_overhead_vs_foreach_parallel' ($fepMedian / $ourMedian) 'x' '>=' 20 "ours $(Format-Num $ourMedian 3) ms, ForEach-Object -Parallel $(Format-Num $fepMedian) ms" "the same call of 1 item { `$_ }, medians, interleaved"
    }
    finally { Remove-ParallelPool $callPool }

    # init_runs_pooled: how often the init script runs over 10 calls of 100 items on a warm pool of 4.
    $inits = [Collections.Concurrent.ConcurrentBag[int]]::new()
    $initPool = New-ParallelPool -ThrottleLimit 4 -Variable @{ inits = $inits } -InitializationScript { $inits.Add(1) }
    try {
        $null = 1..100 | Invoke-ParallelMap -Pool $initPool { [Threading.Thread]::Sleep(1); $_ }
        $warm = $inits.Count
        for ($i = 0; $i -lt 10; $i++) { $null = 1..100 | Invoke-ParallelMap -Pool $initPool { $_ } }
        Add-Figure 'init_runs_pooled' $inits.Count 'runs' '<=' 4 "without a pool: 10 calls at throttle 4 would run it up to 40 times" "$warm runs while warming (one per runspace opened), $($inits.Count - $warm) over the 10 calls; $($initPool.ItemsRun) items run on the pool"
    }
    finally { Remove-ParallelPool $initPool }
}

# ---------------------------------------------------------------------------------------------
# Process isolation (-Isolation Process): each worker a child PowerShell process.

$nProc = 200
$nStartJob = if ($Quick) { 10 } else { 40 }
$nProcTrivial = 20000
Write-Host "# process: { `$_ } at throttle 2 with -Isolation Process ($nProc items) against one Start-Job per item, 2 at a time ($nStartJob items; items/s compared)"
$contenders = @(
    @{ Name = 'ours (-Isolation Process)'; Expect = $nProc; Body = { (1..$nProc | Invoke-ParallelMap -Isolation Process -ThrottleLimit 2 { $_ } | Measure-Object).Count } }
    @{ Name = 'Start-Job per item'; Expect = $nStartJob; Body = {
            $done = 0; $running = [Collections.Generic.List[object]]::new()
            foreach ($i in 1..$nStartJob) {
                while ($running.Count -ge 2) {
                    $finished = Wait-Job -Job $running -Any
                    $done += @(Receive-Job -Job $finished -Wait -AutoRemoveJob).Count
                    $null = $running.Remove($finished)
                }
                $running.Add((Start-Job -ScriptBlock { param($x) $x } -ArgumentList $i))
            }
            foreach ($j in $running) { $done += @(Receive-Job -Job $j -Wait -AutoRemoveJob).Count }
            $done
        }
    }
)
$r = Invoke-Interleaved $contenders $Repeat
Add-Detail 'process' $r @{ 'ours (-Isolation Process)' = $nProc; 'Start-Job per item' = $nStartJob }
$procRate = Get-Rate $nProc $r['ours (-Isolation Process)'].Ms
$jobRate = Get-Rate $nStartJob $r['Start-Job per item'].Ms
Add-Figure 'process_vs_start_job' ($procRate / $jobRate) 'x' '>=' 20 "ours: $(Format-Num $procRate) items/s; Start-Job per item: $(Format-Num $jobRate) items/s" "ours on $nProc items (2 worker processes started per run), Start-Job on $nStartJob (a process per item); load average $(Get-LoadText)"

# Warm workers: a pool of worker processes (New-ParallelPool -Isolation Process), started and set
# up once, as a script that calls Invoke-ParallelMap more than once would keep one. The cold call
# (its worker starts included) is measured too, and shown beside each figure.
$procPool = New-ParallelPool -Isolation Process -ThrottleLimit $cores
try {
    $null = 1..$cores | Invoke-ParallelMap -Pool $procPool { $_ }

    Write-Host "# process trivial: { `$_ } with -Isolation Process, $nProcTrivial items on a warm pool of $cores worker processes, us per item"
    $contenders = @(
        @{ Name = "ours $nProcTrivial, warm pool"; Expect = $nProcTrivial; Body = { (1..$nProcTrivial | Invoke-ParallelMap -Pool $procPool { $_ } | Measure-Object).Count } }
        @{ Name = 'ours 2, cold'; Expect = 2; Body = { (1..2 | Invoke-ParallelMap -Isolation Process -ThrottleLimit 2 { $_ } | Measure-Object).Count } }
    )
    $r = Invoke-Interleaved $contenders $Repeat
    Add-Detail 'process trivial' $r $null
    $usPerItem = $r["ours $nProcTrivial, warm pool"].Ms * 1000 / $nProcTrivial
    Add-Figure 'process_trivial_us_per_item' $usPerItem 'us' '<=' 100 "in-process runspaces (trivial_vs_sequential's run): $(Format-Num (1e6 / $rate['ours']) 1) us per item on $nTrivial items" "$nProcTrivial items on a warm pool of $cores worker processes: $(Format-Num $r["ours $nProcTrivial, warm pool"].Ms) ms; a cold call of 2 items (its 2 worker starts): $(Format-Num $r['ours 2, cold'].Ms) ms; load average $(Get-LoadText)"

    Write-Host "# process cpu: the cpu workload ($nCpu items x $cpuReps SHA256 of 256 KB) with -Isolation Process, throttle $cores, warm pool and cold"
    $cpuVars = @{ cpuBuf = $cpuBuf; cpuReps = $cpuReps }
    $cpuBody = { for ($i = 0; $i -lt $cpuReps; $i++) { $null = [Security.Cryptography.SHA256]::HashData($cpuBuf) }; $_ }
    $contenders = @(
        @{ Name = 'sequential'; Expect = $nCpu; Body = {
                (1..$nCpu | ForEach-Object { for ($i = 0; $i -lt $cpuReps; $i++) { $null = [Security.Cryptography.SHA256]::HashData($cpuBuf) }; $_ } | Measure-Object).Count
            }
        }
        # The buffer crosses to each worker process once per call, serialized (-Variable).
        @{ Name = 'ours (-Isolation Process), warm pool'; Expect = $nCpu; Body = { (1..$nCpu | Invoke-ParallelMap -Pool $procPool -Variable $cpuVars $cpuBody | Measure-Object).Count } }
        @{ Name = 'ours (-Isolation Process), cold'; Expect = $nCpu; Body = { (1..$nCpu | Invoke-ParallelMap -Isolation Process -ThrottleLimit $cores -Variable $cpuVars $cpuBody | Measure-Object).Count } }
    )
    $load0 = Get-LoadText
    $r = Invoke-Interleaved $contenders $Repeat
    Add-Detail 'process cpu' $r $null
    $coldSpc = $r['sequential'].Ms / $r['ours (-Isolation Process), cold'].Ms / $cores
    Add-Figure 'process_cpu_speedup_per_core' ($r['sequential'].Ms / $r['ours (-Isolation Process), warm pool'].Ms / $cores) 'x' '>=' 0.9 "in-process runspaces (cpu_speedup_per_core): $(Format-Num $spc['ours']); a cold call (its $cores worker starts included): $(Format-Num $coldSpc)" "sequential $(Format-Num $r['sequential'].Ms) ms, ours $(Format-Num $r['ours (-Isolation Process), warm pool'].Ms) ms on a warm pool of $cores worker processes, cold $(Format-Num $r['ours (-Isolation Process), cold'].Ms) ms; load average $load0 before, $(Get-LoadText) after"
}
finally { Remove-ParallelPool $procPool }

# ---------------------------------------------------------------------------------------------
# Report: markdown table and SVG chart.

function Format-Target($f) { if ($f.Op) { "$($f.Op) $(Format-Num $f.Target)" + $(if ($f.Unit -ne 'x') { " $($f.Unit)" }) } else { '—' } }
function Format-Result($f) { if ($null -eq $f.Pass) { if ([double]::IsNaN($f.Value)) { 'n/a' } else { 'info' } } elseif ($f.Pass) { 'pass' } else { '**FAIL**' } }
function Format-Cell([string] $s) { ($s -replace '\|', '\|') -replace "`r?`n", ' ' }

$elapsed = [DateTime]::UtcNow - $started
$md = [Text.StringBuilder]::new()
$null = $md.AppendLine('# ParallelMap benchmark: latest results').AppendLine()
$null = $md.AppendLine("Generated by ``pwsh bench/Compare-Parallel.ps1$(if ($Quick) { ' -Quick' })`` on $($started.ToString('yyyy-MM-dd HH:mm', $inv)) UTC in $(Format-Num $elapsed.TotalSeconds) s: ")
$null = $md.AppendLine("ParallelMap $($module.Version), PowerShell $($PSVersionTable.PSVersion), $([Runtime.InteropServices.RuntimeInformation]::OSDescription), $cores cores, $mode run, ")
$null = $md.AppendLine("median of $Repeat interleaved rounds per contender; 1-minute load average $loadStart at the start, $(Get-LoadText) at the end (the machine may be shared). Peers found: $(if ($peer.Count) { ($peer.Keys | Sort-Object) -join ', ' } else { 'none besides ForEach-Object' }).").AppendLine()
$null = $md.AppendLine('| figure | value | target | result | peer numbers | notes |')
$null = $md.AppendLine('|---|---:|---|---|---|---|')
foreach ($f in $figures) {
    $v = if ([double]::IsNaN($f.Value)) { 'n/a' } else { (Format-Num $f.Value) + $(if ($f.Unit -ne 'x') { " $($f.Unit)" }) }
    $null = $md.AppendLine("| $($f.Name) | $v | $(Format-Target $f) | $(Format-Result $f) | $(Format-Cell $f.Peers) | $(Format-Cell $f.Notes) |")
}
$chartLink = [System.IO.Path]::GetRelativePath([System.IO.Path]::GetDirectoryName([System.IO.Path]::GetFullPath($ResultPath)), [System.IO.Path]::GetFullPath($ChartPath)).Replace('\', '/')
$null = $md.AppendLine().AppendLine("![chart]($chartLink)").AppendLine()
$null = $md.AppendLine('## Raw times').AppendLine()
foreach ($d in $details) { $null = $md.AppendLine("- $d") }
$resultDir = Split-Path -Parent $ResultPath
if ($resultDir -and -not (Test-Path -LiteralPath $resultDir)) { $null = New-Item -ItemType Directory -Path $resultDir }
Set-Content -LiteralPath $ResultPath -Value $md.ToString() -Encoding utf8NoBOM -NoNewline

function ConvertTo-XmlText([string] $s) { [Security.SecurityElement]::Escape($s) }

# One bar per figure on a log scale of value/target (0.1x .. 10x); the target is the middle line.
# For a "<=" target a passing bar ends left of the line.
$rowH = 34; $top = 58; $labelW = 230; $barW = 420; $x0 = $labelW + 10; $textX = $x0 + $barW + 12; $width = $textX + 330
$height = $top + $rowH * $figures.Count + 46
$svg = [Text.StringBuilder]::new()
$null = $svg.AppendLine("<svg xmlns=`"http://www.w3.org/2000/svg`" width=`"$width`" height=`"$height`" viewBox=`"0 0 $width $height`" font-family=`"Segoe UI, Helvetica, Arial, sans-serif`" font-size=`"13`">")
$null = $svg.AppendLine("  <title>ParallelMap benchmark: each figure relative to its target</title>")
$null = $svg.AppendLine("  <rect width=`"$width`" height=`"$height`" fill=`"#ffffff`"/>")
$null = $svg.AppendLine("  <text x=`"12`" y=`"24`" font-size=`"16`" font-weight=`"bold`">ParallelMap vs ForEach-Object -Parallel and sequential ForEach-Object</text>")
$sub = "value relative to target (log scale; the line is the target). $($started.ToString('yyyy-MM-dd', $inv)), pwsh $($PSVersionTable.PSVersion), $cores cores, $mode run, median of $Repeat"
$null = $svg.AppendLine("  <text x=`"12`" y=`"44`" fill=`"#555555`">$(ConvertTo-XmlText $sub)</text>")
function Get-X([double] $ratio) {
    # [double] on both arguments: with an int first, Math.Min would pick its int overload.
    $l = [Math]::Log10([Math]::Max([double]0.1, [Math]::Min([double]10, $ratio)))
    return [Math]::Round($x0 + ($l + 1) / 2 * $barW, 1)
}
$axisY = $top + $rowH * $figures.Count + 4
foreach ($t in 0.1, 0.2, 0.5, 1, 2, 5, 10) {
    $x = Get-X $t
    $stroke = if ($t -eq 1) { '#333333" stroke-width="1.5' } else { '#dddddd' }
    $null = $svg.AppendLine("  <line x1=`"$x`" y1=`"$($top - 6)`" x2=`"$x`" y2=`"$axisY`" stroke=`"$stroke`"/>")
    $null = $svg.AppendLine("  <text x=`"$x`" y=`"$($axisY + 16)`" text-anchor=`"middle`" fill=`"#555555`" font-size=`"11`">$($t.ToString($inv))&#215;</text>")
}
$null = $svg.AppendLine("  <text x=`"$(Get-X 1)`" y=`"$($axisY + 32)`" text-anchor=`"middle`" fill=`"#333333`" font-size=`"11`">target</text>")
for ($i = 0; $i -lt $figures.Count; $i++) {
    $f = $figures[$i]
    $y = $top + $i * $rowH
    $null = $svg.AppendLine("  <text x=`"$labelW`" y=`"$($y + 17)`" text-anchor=`"end`">$(ConvertTo-XmlText $f.Name)</text>")
    if ([double]::IsNaN($f.Value)) {
        $null = $svg.AppendLine("  <text x=`"$($x0 + 4)`" y=`"$($y + 17)`" fill=`"#888888`">n/a (not in this build)</text>")
        continue
    }
    $ratio = if ($f.Op) { if ($f.Target -ne 0) { $f.Value / $f.Target } else { 10 } } else { $f.Value }
    $color = if ($null -eq $f.Pass) { '#9e9e9e' } elseif ($f.Pass) { '#2e7d32' } else { '#c62828' }
    $x = Get-X $ratio
    $w = [Math]::Max([double]2, $x - $x0)
    $null = $svg.AppendLine("  <rect x=`"$x0`" y=`"$($y + 4)`" width=`"$w`" height=`"$($rowH - 12)`" fill=`"$color`" rx=`"2`"><title>$(ConvertTo-XmlText "$($f.Name) = $(Format-Num $f.Value)")</title></rect>")
    if ($ratio -gt 10) { $null = $svg.AppendLine("  <text x=`"$($x0 + $barW - 4)`" y=`"$($y + 17)`" text-anchor=`"end`" fill=`"#ffffff`" font-weight=`"bold`">&#187;</text>") }
    $v = (Format-Num $f.Value) + $(if ($f.Unit -ne 'x') { " $($f.Unit)" } else { '' })
    $verdict = if ($null -eq $f.Pass) { 'no target; 1&#215; = parity' } elseif ($f.Pass) { 'pass' } else { 'FAIL' }
    $tgt = if ($f.Op) { (ConvertTo-XmlText "target $(Format-Target $f)") -replace '&gt;=', '&#8805;' -replace '&lt;=', '&#8804;' } else { '' }
    $null = $svg.AppendLine("  <text x=`"$textX`" y=`"$($y + 17)`"><tspan font-weight=`"bold`">$(ConvertTo-XmlText $v)</tspan><tspan fill=`"#555555`"> $tgt </tspan><tspan fill=`"$color`" font-weight=`"bold`">$verdict</tspan></text>")
}
# The target line again, over the bars.
$null = $svg.AppendLine("  <line x1=`"$(Get-X 1)`" y1=`"$($top - 6)`" x2=`"$(Get-X 1)`" y2=`"$axisY`" stroke=`"#333333`" stroke-width=`"1.5`" stroke-dasharray=`"4 3`"/>")
$null = $svg.AppendLine('</svg>')
$chartDir = Split-Path -Parent $ChartPath
if ($chartDir -and -not (Test-Path -LiteralPath $chartDir)) { $null = New-Item -ItemType Directory -Path $chartDir }
Set-Content -LiteralPath $ChartPath -Value $svg.ToString() -Encoding utf8NoBOM -NoNewline

$missed = @($figures | Where-Object { $_.Pass -eq $false })
Write-Host ("# {0} of {1} targets met{2}; {3}, {4} (took {5} s)" -f @($figures | Where-Object { $_.Pass }).Count, @($figures | Where-Object { $null -ne $_.Pass }).Count,
    $(if ($missed.Count) { '; missed: ' + (($missed | ForEach-Object Name) -join ', ') } else { '' }),
    (Resolve-Path -LiteralPath $ResultPath).ProviderPath, (Resolve-Path -LiteralPath $ChartPath).ProviderPath, (Format-Num $elapsed.TotalSeconds))
