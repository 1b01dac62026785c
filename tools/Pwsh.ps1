# Get-PwshPath: the executable of the PowerShell running this script, for starting a child of
# the same version. Dot-sourced by build.ps1, the tests and the benchmarks.
#
# It is found from $PSHOME, never from the process: when PowerShell runs as a .NET tool the
# process is dotnet ((Get-Process -Id $PID).Path and [Environment]::ProcessPath both name it),
# while $PSHOME holds the pwsh launcher in every install (package, tarball, .NET tool) and
# powershell.exe in Windows PowerShell 5.1.
function Get-PwshPath {
    foreach ($name in 'pwsh', 'pwsh.exe', 'powershell.exe') {
        $candidate = Join-Path $PSHOME $name
        if (Test-Path -LiteralPath $candidate -PathType Leaf) { return $candidate }
    }
    throw "No PowerShell executable (pwsh, pwsh.exe or powershell.exe) in `$PSHOME ($PSHOME)."
}
