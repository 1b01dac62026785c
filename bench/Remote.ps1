<#
.SYNOPSIS
    Benchmarks -Session (work spread over remote sessions) on loopback SSH hosts against the
    hand-written Invoke-Command way, and checks the figures against their targets.
.DESCRIPTION
    Starts its own sshd "hosts" on 127.0.0.1 the way the tests do (tests/Support/LoopbackSshd.psm1:
    Debian's openssh-server, keys and known_hosts in a temp folder), opens one session to each,
    measures, and stops them again, also when a measurement fails. Every host is this machine, so
    the figures show our overhead over PowerShell remoting, not a network's.

    Prints one `name: value` line per figure (lines starting with # are commentary) and writes a
    markdown table to bench/results/remote.md (or -ResultPath).

    Figures and targets:
      remote_vs_invoke_command  2,000 items of { $_ } over 2 sessions: our items/s on a warm pool
                                (New-ParallelPool -Session) over the hand-written way's, the items
                                split in two halves sent with Invoke-Command -Session -AsJob to
                                each session at once                                        >= 1.0
      remote_sleep_efficiency   400 items of Start-Sleep 50 ms over 2 sessions x 8 workers (a
                                warm pool): ideal wall time over measured                   >= 0.85
      host_loss_recovery_s      one of 3 sessions' remote pwsh processes killed mid-run (600
                                items of 200 ms, 2 workers per session): seconds from the kill
                                until the last item it interrupted has started again elsewhere <= 2

    A connection costs seconds to open and set up (a remote pwsh starting), so the first two
    figures use a warm pool, as a script that sends work to hosts more than once would; the cold
    figures (a call without -Pool, its connections opened inside the call) are printed as
    commentary next to them.
.PARAMETER ModulePath
    The built module's manifest. Default: ../out/ParallelMap/ParallelMap.psd1 next to this script.
.PARAMETER Repeat
    Rounds for the first two figures (at least 3); the median is reported.
.PARAMETER Figure
    Only these figures (a shorter run while working on one); the default is all three.
.PARAMETER ResultPath
    Where the markdown table goes. Default: results/remote.md next to this script.
.EXAMPLE
    pwsh bench/Remote.ps1
#>
#Requires -Version 7.0
[CmdletBinding()]
param(
    [string] $ModulePath = (Join-Path $PSScriptRoot '../out/ParallelMap/ParallelMap.psd1'),
    [ValidateRange(3, 50)] [int] $Repeat = 5,
    [ValidateSet('remote_vs_invoke_command', 'remote_sleep_efficiency', 'host_loss_recovery_s')]
    [string[]] $Figure = @('remote_vs_invoke_command', 'remote_sleep_efficiency', 'host_loss_recovery_s'),
    [string] $ResultPath = (Join-Path $PSScriptRoot 'results/remote.md')
)

$ErrorActionPreference = 'Stop'
$inv = [Globalization.CultureInfo]::InvariantCulture
Import-Module (Resolve-Path $ModulePath).Path -Force
Import-Module (Join-Path $PSScriptRoot '../tests/Support/LoopbackSshd.psm1') -Force
$started = [datetime]::UtcNow

function Get-Median([double[]] $Values) {
    $sorted = @($Values | Sort-Object)
    if ($sorted.Count % 2) { $sorted[[int][math]::Floor($sorted.Count / 2)] } else { ($sorted[$sorted.Count / 2 - 1] + $sorted[$sorted.Count / 2]) / 2 }
}
function Format-Num([double] $Value, [int] $Digits = 2) { $Value.ToString("N$Digits", $inv) }
function Get-LoadText { if (Test-Path -LiteralPath '/proc/loadavg') { ((Get-Content -LiteralPath '/proc/loadavg' -Raw) -split ' ')[0] } else { 'n/a' } }
function Measure-Ms([scriptblock] $Block) { $sw = [Diagnostics.Stopwatch]::StartNew(); $null = & $Block; $sw.Elapsed.TotalMilliseconds }

# Calls until every connection of the pool is open: items that wait keep the early workers busy
# so that the later ones open too (a connection takes seconds: a remote pwsh starting).
function Initialize-Pool($Pool) {
    for ($i = 0; $i -lt 20 -and $Pool.IdleRunspaces -lt $Pool.Size; $i++) {
        $null = 1..($Pool.Size * 4) | Invoke-ParallelMap -Pool $Pool { Start-Sleep -Milliseconds 300 }
    }
    if ($Pool.IdleRunspaces -lt $Pool.Size) { throw "the pool opened $($Pool.IdleRunspaces) of its $($Pool.Size) connections" }
}

$figures = [System.Collections.Generic.List[object]]::new()
function Add-Figure($Name, [double] $Value, [string] $Op, [double] $Target, [string] $Peer, [string] $Notes) {
    $pass = if ($Op -eq '>=') { $Value -ge $Target } else { $Value -le $Target }
    $figures.Add([pscustomobject]@{ Name = $Name; Value = $Value; Op = $Op; Target = $Target; Pass = $pass; Peer = $Peer; Notes = $Notes })
    "${Name}: $(Format-Num $Value)"
}

$dir = Join-Path ([IO.Path]::GetTempPath()) ('pm-bench-sshd-' + [guid]::NewGuid().ToString('N'))
$info = Start-LoopbackSshd -Directory $dir -Count 3
$sessions = @(foreach ($h in $info.Hosts) { New-LoopbackSession -Info $info -HostInfo $h })
$pools = [System.Collections.Generic.List[object]]::new()
try {
    "# loopback hosts: $($info.Hosts.Count) sshd on 127.0.0.1; $([Environment]::ProcessorCount) cores; load average $(Get-LoadText)"

    $two = $sessions[0..1]

    # --- remote_vs_invoke_command -------------------------------------------------------------
    if ('remote_vs_invoke_command' -in $Figure) {
        $items = 1..2000
        # One worker per session: one pipeline per session, as the hand-written way has.
        $pool = New-ParallelPool -Session $two -ThrottleLimit 1
        $pools.Add($pool)
        $cold = Measure-Ms { $items | Invoke-ParallelMap -Session $two -ThrottleLimit 1 { $_ } }
        Initialize-Pool $pool
        $half = [object[]](1..1000)
        $ours = [System.Collections.Generic.List[double]]::new()
        $theirs = [System.Collections.Generic.List[double]]::new()
        for ($round = 0; $round -lt $Repeat; $round++) {
            $a = { $n = @($items | Invoke-ParallelMap -Pool $pool { $_ }).Count; if ($n -ne 2000) { throw "ours returned $n items" } }
            $b = {
                $jobs = @(Invoke-Command -Session $two[0] { param($x) $x } -ArgumentList (, $half) -AsJob
                    Invoke-Command -Session $two[1] { param($x) $x } -ArgumentList (, $half) -AsJob)
                $n = @($jobs | Receive-Job -Wait -AutoRemoveJob).Count
                if ($n -ne 2000) { throw "Invoke-Command returned $n items" }
            }
            # Interleaved, in a rotated order, so a change of load hits both alike.
            if ($round % 2) { $theirs.Add((Measure-Ms $b)); $ours.Add((Measure-Ms $a)) } else { $ours.Add((Measure-Ms $a)); $theirs.Add((Measure-Ms $b)) }
    }
    $oursMs = Get-Median $ours; $theirsMs = Get-Median $theirs
    Add-Figure 'remote_vs_invoke_command' ($theirsMs / $oursMs) '>=' 1.0 "Invoke-Command halves: $(Format-Num $theirsMs 0) ms" "ours on a warm pool: $(Format-Num $oursMs 0) ms (runs: $(($ours | ForEach-Object { Format-Num $_ 0 }) -join ', ')); Invoke-Command runs: $(($theirs | ForEach-Object { Format-Num $_ 0 }) -join ', '); cold (a call without -Pool, opening its 2 connections): $(Format-Num $cold 0) ms"
    "# cold call without -Pool: $(Format-Num $cold 0) ms; warm pool: $(Format-Num $oursMs 0) ms; Invoke-Command: $(Format-Num $theirsMs 0) ms"

    }

    # --- remote_sleep_efficiency ----------------------------------------------------------------
    if ('remote_sleep_efficiency' -in $Figure) {
        $sleepPool = New-ParallelPool -Session $two -ThrottleLimit 8
        $pools.Add($sleepPool)
        Initialize-Pool $sleepPool
        $ideal = 400 * 50 / 16
        $runs = [System.Collections.Generic.List[double]]::new()
        for ($round = 0; $round -lt $Repeat; $round++) { $runs.Add((Measure-Ms { 1..400 | Invoke-ParallelMap -Pool $sleepPool { Start-Sleep -Milliseconds 50 } })) }
        $sleepMs = Get-Median $runs
        $one = Get-Median @(1..5 | ForEach-Object { Measure-Ms { Start-Sleep -Milliseconds 50 } })
        Add-Figure 'remote_sleep_efficiency' ($ideal / $sleepMs) '>=' 0.85 "ideal $(Format-Num $ideal 0) ms" "measured $(Format-Num $sleepMs 0) ms (runs: $(($runs | ForEach-Object { Format-Num $_ 0 }) -join ', ')); one Start-Sleep 50 ms takes $(Format-Num $one 1) ms here"
        Remove-ParallelPool $sleepPool; $null = $pools.Remove($sleepPool)

    }

    # --- host_loss_recovery_s -------------------------------------------------------------------
    if ('host_loss_recovery_s' -in $Figure) {
        # A kill can fall between two items of both workers and cut nothing: then it is measured again.
        for ($try = 1; $try -le 3; $try++) {
            $marks = Join-Path $dir "marks$try"
            $null = New-Item -ItemType Directory -Path $marks
            $victim = $info.Hosts[0]
            $ownPid = Invoke-Command -Session $sessions[0] { $PID }
            $killer = Start-ThreadJob -ArgumentList $victim, $ownPid, $marks, (Get-Module LoopbackSshd).Path {
                param($h, $ownPid, $marks, $m)
                Import-Module $m
                $deadline = [datetime]::UtcNow.AddSeconds(120)
                # Once host1's workers have each finished a few items (they may connect after the others).
                while (@(Get-ChildItem -LiteralPath $marks -Filter '*-E-host1-*').Count -lt 6 -and [datetime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 20 }
                $endedBefore = @(Get-ChildItem -LiteralPath $marks -Filter '*-E-*').Count
                $victims = @(Get-LoopbackHostPwsh -HostInfo $h | Where-Object { $_ -ne $ownPid })
                foreach ($v in $victims) { & kill -9 $v 2>$null }
                # Taken once the kills are done (starting /bin/kill takes tens of milliseconds here).
                $at = [datetime]::UtcNow.Ticks
                [pscustomobject]@{ Ticks = $at; Killed = $victims.Count; Pids = $victims; EndedBefore = $endedBefore }
            }
            $lossMs = Measure-Ms {
                1..600 | Invoke-ParallelMap -Session $sessions -ThrottleLimit 2 -Variable @{ marks = $marks } -WarningAction SilentlyContinue {
                    $h = $env:PARALLELMAP_HOST
                    $null = New-Item -ItemType File -Path (Join-Path $marks "$_-S-$h-$([datetime]::UtcNow.Ticks)-$PID-$([guid]::NewGuid().ToString('N'))")
                    Start-Sleep -Milliseconds 200
                    $null = New-Item -ItemType File -Path (Join-Path $marks "$_-E-$h-$([datetime]::UtcNow.Ticks)-$PID-$([guid]::NewGuid().ToString('N'))")
                }
            }
            $kill = Receive-Job $killer -Wait -AutoRemoveJob
            $events = foreach ($f in Get-ChildItem -LiteralPath $marks) {
                $p = $f.Name -split '-'
                [pscustomobject]@{ Item = [int]$p[0]; Kind = $p[1]; Host = $p[2]; Ticks = [long]$p[3]; Pid = [int]$p[4] }
            }
            # Interrupted: started on host1, never ended there (every item ends unless its worker dies).
            $ended = @{}
            foreach ($e in $events) { if ($e.Kind -eq 'E') { $ended["$($e.Item)/$($e.Host)/$($e.Pid)"] = $true } }
            $cutStarts = @($events | Where-Object { $_.Kind -eq 'S' -and $_.Host -eq 'host1' -and -not $ended["$($_.Item)/host1/$($_.Pid)"] })
            $cut = @($cutStarts | ForEach-Object Item | Sort-Object -Unique)
            $delays = foreach ($c in $cutStarts) {
                $again = @($events | Where-Object { $_.Item -eq $c.Item -and $_.Kind -eq 'S' -and $_.Ticks -gt $c.Ticks } | Sort-Object Ticks | Select-Object -First 1)
                if ($again) { ($again[0].Ticks - $kill.Ticks) / 1e7 } else { [double]::PositiveInfinity }
            }
            $recovery = if ($delays) { ($delays | Measure-Object -Maximum).Maximum } else { [double]::NaN }
            $done = @($events | Where-Object Kind -eq 'E' | ForEach-Object Item | Sort-Object -Unique).Count
            if ($cut.Count -gt 0) { break }
            if ($try -lt 3) { "# try $try cut no item; measuring again"; continue }
            if ($cut.Count -eq 0) {
                "# no item was cut by the kill; host1's marks around it (s from the kill):"
                $events | Where-Object { $_.Host -eq 'host1' -and [math]::Abs($_.Ticks - $kill.Ticks) -lt 3e7 } | Sort-Object Ticks | ForEach-Object { "#   $($_.Item) $($_.Kind) $(Format-Num (($_.Ticks - $kill.Ticks) / 1e7) 3) pid $($_.Pid)" }
                "# killed: $($kill.Pids -join ', ')"
            }
        }
        Add-Figure 'host_loss_recovery_s' $recovery '<=' 2 "$($kill.Killed) remote pwsh killed" "$($cut.Count) items interrupted, restarted after $((@($delays) | ForEach-Object { Format-Num $_ 2 }) -join ', ') s; $done of 600 items ended ($($kill.EndedBefore) before the kill); run $(Format-Num ($lossMs / 1000) 1) s"
    }
}
finally {
    foreach ($p in $pools) { Remove-ParallelPool $p -ErrorAction SilentlyContinue }
    $sessions | Remove-PSSession -ErrorAction SilentlyContinue
    Stop-LoopbackSshd -Info $info -Remove
}

$md = [System.Text.StringBuilder]::new()
$null = $md.AppendLine("# Remote figures (issue 15), measured $($started.ToString('yyyy-MM-dd HH:mm', $inv)) UTC")
$null = $md.AppendLine()
$null = $md.AppendLine("``pwsh bench/Remote.ps1`` (median of $Repeat rounds, interleaved with the peer), pwsh $($PSVersionTable.PSVersion), $([Environment]::ProcessorCount) cores, load average $(Get-LoadText) at the end. Hosts: sshd on 127.0.0.1, so no network is in the figures.")
$null = $md.AppendLine()
$null = $md.AppendLine('| figure | value | target | result | peer numbers | notes |')
$null = $md.AppendLine('|---|---|---|---|---|---|')
foreach ($f in $figures) {
    $result = if ($f.Pass) { 'pass' } else { '**FAIL**' }
    $null = $md.AppendLine("| $($f.Name) | $(Format-Num $f.Value) | $($f.Op) $(Format-Num $f.Target) | $result | $($f.Peer) | $($f.Notes) |")
}
$null = New-Item -ItemType Directory -Force -Path (Split-Path -Parent $ResultPath)
[IO.File]::WriteAllText($ResultPath, $md.ToString())
"# $(@($figures | Where-Object Pass).Count) of $($figures.Count) targets met; took $(Format-Num ([datetime]::UtcNow - $started).TotalSeconds 0) s; table in $ResultPath"
