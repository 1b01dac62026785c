#!/usr/bin/env bash
# Runs every test: the xunit suite always; the Pester suite when pwsh with Pester 5 is on PATH
# (through ./build.ps1 -Test, which builds the module first). Ends with one line
# "tests: N passed, N failed, N skipped". Exit code non-zero on any failure.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

if command -v pwsh >/dev/null 2>&1 && pwsh -NoProfile -NonInteractive -Command 'if (Get-Module -ListAvailable Pester | Where-Object { $_.Version -ge [version]"5.0" }) { exit 0 } else { exit 1 }' >/dev/null 2>&1; then
    exec pwsh -NoProfile -NonInteractive -File "$root/build.ps1" -Test
fi

log="$(mktemp)"
dotnet test "$root/ParallelMap.sln" -c Release -nologo 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
passed=$(grep -Eo 'Passed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -Eo 'Failed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
skipped=$(grep -Eo 'Skipped: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
rm -f "$log"
echo "SKIPPED: Pester suite (no pwsh with Pester on PATH)"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$status"
