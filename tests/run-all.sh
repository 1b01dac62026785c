#!/usr/bin/env bash
# Runs every test: the xunit suite and the Pester suite, through ./build.ps1 -Test (which builds
# the module and restores the pinned Pester first). Ends with one line
# "tests: N passed, N failed, N skipped". Exit code non-zero on any failure, and when PowerShell
# or Pester cannot be had: a suite that cannot run fails, it is never skipped.
#
# PowerShell is the pinned .NET tool of .config/dotnet-tools.json (restored here). To run the
# suite under another pwsh instead, set PARALLELMAP_PWSH to its path (for example PARALLELMAP_PWSH=pwsh).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

fail() {
    echo "$1" >&2
    echo "tests: 0 passed, 1 failed, 0 skipped"
    exit 1
}

if [ -n "${PARALLELMAP_PWSH:-}" ]; then
    pwsh_cmd=("$PARALLELMAP_PWSH")
else
    dotnet tool restore >/dev/null || fail "dotnet tool restore failed: the pinned PowerShell (.config/dotnet-tools.json) cannot be had, so the Pester suite cannot run."
    pwsh_cmd=(dotnet tool run pwsh --)
fi
"${pwsh_cmd[@]}" -NoProfile -NonInteractive -Command 'exit 0' >/dev/null 2>&1 \
    || fail "PowerShell (${pwsh_cmd[*]}) does not start, so the Pester suite cannot run."

log="$(mktemp)"
"${pwsh_cmd[@]}" -NoProfile -NonInteractive -File "$root/build.ps1" -Test "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
last=$(grep -E '^tests: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -n 1)
rm -f "$log"
if [ -z "$last" ]; then
    # build.ps1 stopped before counting (a failed build or restore): say so in the closing line.
    echo "tests: 0 passed, 1 failed, 0 skipped"
    [ "$status" -ne 0 ] || status=1
fi
exit "$status"
