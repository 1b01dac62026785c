# Stand-in hosts for the remoting tests and bench/Remote.ps1: one OpenSSH server per "host", each on
# a free port of 127.0.0.1 only, with the powershell subsystem running this very PowerShell, a host
# key and a client key made in a folder of its own (nothing in ~/.ssh or /etc/ssh is read or
# changed). Each host's sshd sets PARALLELMAP_HOST to its name for what it starts, so that a test
# can tell which host ran an item although every host is this machine.
#
# Start-LoopbackSshd writes hosts.json in that folder; .ci/run starts the hosts once and passes the
# folder in $env:PARALLELMAP_SSHD; a test run without it starts (and stops) its own. A host that
# cannot start is an error, never a skip.

Set-StrictMode -Version Latest

function Find-Sshd {
    foreach ($p in '/usr/sbin/sshd', '/usr/local/sbin/sshd') { if (Test-Path -LiteralPath $p) { return $p } }
    $c = Get-Command sshd -CommandType Application -ErrorAction Ignore | Select-Object -First 1
    if ($c) { return $c.Source }
    throw "sshd is not installed (Debian's package openssh-server; .ci/run installs it): the remoting tests cannot run."
}

function Get-FreePort {
    $l = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $l.Start()
    try { $l.LocalEndpoint.Port } finally { $l.Stop() }
}

# The command sshd runs for the powershell subsystem: this PowerShell, however it was started (as
# the .NET tool, the process is dotnet and pwsh is a dll beside $PSHOME).
function Get-SubsystemCommand {
    $dll = Join-Path $PSHOME 'pwsh.dll'
    $exe = [System.Diagnostics.Process]::GetCurrentProcess().MainModule.FileName
    if ((Split-Path -Leaf $exe) -like 'dotnet*' -and (Test-Path -LiteralPath $dll)) { return "$exe $dll -sshs -NoLogo -NoProfile" }
    return "$exe -sshs -NoLogo -NoProfile"
}

function Start-LoopbackSshd {
    param(
        [Parameter(Mandatory)] [string] $Directory,
        [int] $Count = 3
    )
    $sshd = Find-Sshd
    # sshd refuses to start without its privilege-separation folder, which systemd would make.
    if (-not (Test-Path -LiteralPath '/run/sshd')) { New-Item -ItemType Directory -Path '/run/sshd' | Out-Null }
    New-Item -ItemType Directory -Force -Path $Directory | Out-Null
    $Directory = (Resolve-Path -LiteralPath $Directory).Path
    $clientKey = Join-Path $Directory 'client_ed25519'
    if (-not (Test-Path -LiteralPath $clientKey)) {
        & ssh-keygen -q -t ed25519 -N '' -f $clientKey | Out-Null
        if ($LASTEXITCODE -ne 0) { throw "ssh-keygen could not make the client key in $Directory" }
    }
    Copy-Item -LiteralPath "$clientKey.pub" -Destination (Join-Path $Directory 'authorized_keys')
    & chmod 600 $clientKey (Join-Path $Directory 'authorized_keys')
    $subsystem = Get-SubsystemCommand
    $user = [Environment]::UserName
    $knownHosts = Join-Path $Directory 'known_hosts'
    $hosts = @()
    Set-Content -LiteralPath $knownHosts -Value @()
    foreach ($i in 1..$Count) {
        $name = "host$i"
        $hostKey = Join-Path $Directory "$name.key"
        if (-not (Test-Path -LiteralPath $hostKey)) {
            & ssh-keygen -q -t ed25519 -N '' -f $hostKey | Out-Null
            if ($LASTEXITCODE -ne 0) { throw "ssh-keygen could not make the host key of $name" }
        }
        $port = Get-FreePort
        $config = Join-Path $Directory "$name.sshd_config"
        $pidFile = Join-Path $Directory "$name.pid"
        @(
            "Port $port"
            'ListenAddress 127.0.0.1'
            "HostKey $hostKey"
            "PidFile $pidFile"
            "AuthorizedKeysFile $(Join-Path $Directory 'authorized_keys')"
            'PubkeyAuthentication yes'
            'PasswordAuthentication no'
            'KbdInteractiveAuthentication no'
            'PermitRootLogin prohibit-password'
            'StrictModes no'
            'UsePAM no'
            "AllowUsers $user"
            'MaxStartups 100:30:200'
            'MaxSessions 100'
            # sshd starts the subsystem through the user's shell; bash, seeing SSH_CLIENT at shell
            # level 1, would first run ~/.bashrc (Debian builds it so). A user's rc that waits (CI's
            # pyenv rehash waits 60 s on a lock a killed host left) then delays every connection.
            # SHLVL=1 makes that bash level 2, which skips ~/.bashrc.
            "SetEnv SHLVL=1 PARALLELMAP_HOST=$name DOTNET_ROOT=$([System.IO.Path]::GetDirectoryName([System.Diagnostics.Process]::GetCurrentProcess().MainModule.FileName))"
            "Subsystem powershell $subsystem"
        ) | Set-Content -LiteralPath $config
        $h = [pscustomobject]@{ Name = $name; Port = $port; Config = $config; PidFile = $pidFile; Log = (Join-Path $Directory "$name.log"); Pid = 0 }
        Start-LoopbackHost -HostInfo $h
        $pub = (Get-Content -Raw -LiteralPath "$hostKey.pub").Trim() -split ' '
        Add-Content -LiteralPath $knownHosts -Value "[127.0.0.1]:$port $($pub[0]) $($pub[1])"
        $hosts += $h
    }
    $info = [pscustomobject]@{ Directory = $Directory; User = $user; KeyFilePath = $clientKey; KnownHosts = $knownHosts; Hosts = $hosts }
    $info | ConvertTo-Json -Depth 4 | Set-Content -LiteralPath (Join-Path $Directory 'hosts.json')
    $info
}

# Starts (or starts again, after Stop-LoopbackHost -Listener) the sshd of one host, on its port.
function Start-LoopbackHost {
    param([Parameter(Mandatory)] $HostInfo)
    $sshd = Find-Sshd
    Remove-Item -LiteralPath $HostInfo.PidFile -ErrorAction Ignore
    & $sshd -f $HostInfo.Config -E $HostInfo.Log
    if ($LASTEXITCODE -ne 0) { throw "sshd did not start for $($HostInfo.Name): $(Get-Content -Raw -LiteralPath $HostInfo.Log -ErrorAction Ignore)" }
    $deadline = [DateTime]::UtcNow.AddSeconds(15)
    while ($true) {
        $c = [System.Net.Sockets.TcpClient]::new()
        try { $c.Connect('127.0.0.1', $HostInfo.Port); break } catch { } finally { $c.Dispose() }
        if ([DateTime]::UtcNow -gt $deadline) { throw "sshd of $($HostInfo.Name) is not listening on 127.0.0.1:$($HostInfo.Port) (see $($HostInfo.Log))" }
        Start-Sleep -Milliseconds 100
    }
    while (-not (Test-Path -LiteralPath $HostInfo.PidFile)) { Start-Sleep -Milliseconds 20 }
    $HostInfo.Pid = [int](Get-Content -LiteralPath $HostInfo.PidFile)
}

# The hosts started by .ci/run ($env:PARALLELMAP_SSHD), else $null.
function Get-LoopbackSshd {
    param([string] $Directory = $env:PARALLELMAP_SSHD)
    if (-not $Directory) { return $null }
    $file = Join-Path $Directory 'hosts.json'
    if (-not (Test-Path -LiteralPath $file)) { throw "PARALLELMAP_SSHD names $Directory, which holds no hosts.json: the loopback hosts did not start." }
    Get-Content -Raw -LiteralPath $file | ConvertFrom-Json
}

# Every process started under $ProcessId (its connections' sshd and the remote pwsh processes).
function Get-Descendant {
    param([int] $ProcessId)
    $children = @{}
    foreach ($d in [System.IO.Directory]::GetDirectories('/proc')) {
        $id = 0
        if (-not [int]::TryParse([System.IO.Path]::GetFileName($d), [ref] $id)) { continue }
        try { $stat = [System.IO.File]::ReadAllText("$d/stat") } catch { continue }
        $fields = $stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')
        $parent = [int]$fields[1]
        if (-not $children.ContainsKey($parent)) { $children[$parent] = [System.Collections.Generic.List[int]]::new() }
        $children[$parent].Add($id)
    }
    $result = [System.Collections.Generic.List[int]]::new()
    $todo = [System.Collections.Generic.Queue[int]]::new()
    $todo.Enqueue($ProcessId)
    while ($todo.Count -gt 0) {
        $p = $todo.Dequeue()
        if ($children.ContainsKey($p)) { foreach ($c in $children[$p]) { $result.Add($c); $todo.Enqueue($c) } }
    }
    $result
}

# The pid file names the listener running now: it changes when a host is started again, and
# hosts.json (written once) may then be behind.
function Update-ListenerPid($HostInfo) {
    if (Test-Path -LiteralPath $HostInfo.PidFile) { $HostInfo.Pid = [int](Get-Content -LiteralPath $HostInfo.PidFile) }
}

# The remote pwsh processes a host runs now (one per connection to it).
function Get-LoopbackHostPwsh {
    param([Parameter(Mandatory)] $HostInfo)
    Update-ListenerPid $HostInfo
    foreach ($id in Get-Descendant $HostInfo.Pid) {
        try { $cmd = [System.IO.File]::ReadAllText("/proc/$id/cmdline") } catch { continue }
        if ($cmd -match '-sshs') { $id }
    }
}

# Kills what a host runs for its connections (its remote pwsh processes and their sshd), as a host
# that dies would; with -Listener its sshd too, so no new connection gets in.
function Stop-LoopbackHost {
    param([Parameter(Mandatory)] $HostInfo, [switch] $Listener)
    Update-ListenerPid $HostInfo
    # The listener is frozen first: a client reconnecting at once (a worker whose connection was
    # just killed) would otherwise get a new child between the listing and the listener's kill,
    # and that orphan went on serving the "dead" host.
    if ($Listener) { & kill -STOP $HostInfo.Pid 2>$null }
    $ids = @(Get-Descendant $HostInfo.Pid)
    if ($Listener) { $ids += $HostInfo.Pid }
    foreach ($id in $ids) { & kill -9 $id 2>$null }
    if ($Listener) { Remove-Item -LiteralPath $HostInfo.PidFile -ErrorAction Ignore }
}

function Stop-LoopbackSshd {
    param([Parameter(Mandatory)] $Info, [switch] $Remove)
    foreach ($h in $Info.Hosts) { Stop-LoopbackHost -HostInfo $h -Listener }
    if ($Remove) { Remove-Item -LiteralPath $Info.Directory -Recurse -Force -ErrorAction Ignore }
}

# A session to a host, as a user would open it (key file, the folder's own known_hosts).
function New-LoopbackSession {
    param([Parameter(Mandatory)] $Info, [Parameter(Mandatory)] $HostInfo, [string] $Name)
    $options = @{ UserKnownHostsFile = $Info.KnownHosts; StrictHostKeyChecking = 'yes'; LogLevel = "QUIET" }
    $p = @{ HostName = '127.0.0.1'; Port = $HostInfo.Port; UserName = $Info.User; KeyFilePath = $Info.KeyFilePath; Options = $options }
    if ($Name) { $p.Name = $Name } else { $p.Name = $HostInfo.Name }
    New-PSSession @p -ErrorAction Stop
}

Export-ModuleMember -Function Start-LoopbackSshd, Start-LoopbackHost, Get-LoopbackSshd, Stop-LoopbackSshd, Stop-LoopbackHost, Get-LoopbackHostPwsh, New-LoopbackSession, Get-Descendant
