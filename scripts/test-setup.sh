#!/usr/bin/env bash
# Installs what the test suite needs beyond the .NET SDK. Idempotent and quiet when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

# The pinned js-libp2p peer used by the interop tests.
js=tests/Echo.Interop.Tests/interop/js
if [ -f "$js/package-lock.json" ]; then
  stamp="$js/node_modules/.lock-stamp"
  want=$(sha256sum "$js/package-lock.json" | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    (cd "$js" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  fi
fi
