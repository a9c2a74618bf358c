#!/usr/bin/env bash
# Runs every test in the solution and ends with one line: "N passed, N failed, N skipped".
# It installs what the tests need first: the pinned js-libp2p interop peer (npm ci).
set -uo pipefail
cd "$(dirname "$0")"

log=$(mktemp)
trap 'rm -f "$log"' EXIT

bash scripts/test-setup.sh || { echo "test set-up failed"; echo "0 passed, 1 failed"; exit 1; }

dotnet build Echo.slnx -c Release -nologo -v quiet || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
# The build already fails on analyzer and code-style warnings; this also fails on layout and using order (about a minute).
dotnet format Echo.slnx --verify-no-changes || { echo "format check failed: run dotnet format Echo.slnx"; echo "0 passed, 1 failed"; exit 1; }
dotnet test --solution Echo.slnx -c Release --no-build "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

total=$(grep -E '^\s+total:' "$log" | tail -1 | awk '{print $2}')
failed=$(grep -E '^\s+failed:' "$log" | tail -1 | awk '{print $2}')
passed=$(grep -E '^\s+succeeded:' "$log" | tail -1 | awk '{print $2}')
skipped=$(grep -E '^\s+skipped:' "$log" | tail -1 | awk '{print $2}')
if [ -z "$total" ]; then
  echo "the test run printed no summary (exit $status)"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
exit "$status"
