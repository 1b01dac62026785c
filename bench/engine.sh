#!/usr/bin/env bash
# Engine benchmark: prints one `name: value` line per figure (ratios and counts measured in this
# run). Usage: bash bench/engine.sh [--quick] [--only engine|checkpoint]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dotnet build "$here/ParallelMap.Bench/ParallelMap.Bench.csproj" -c Release -nologo -v quiet >/dev/null
exec dotnet "$here/ParallelMap.Bench/bin/Release/net10.0/ParallelMap.Bench.dll" "$@"
