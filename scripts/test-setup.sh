#!/usr/bin/env bash
# Installs what the test suite needs beyond the .NET SDK. Idempotent and quiet when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

# The pinned js-libp2p peer used by the interop tests, and the NAT lab's public nodes.
for js in tests/Echo.Interop.Tests/interop/js tests/Echo.System.Tests/lab/js; do
  if [ -f "$js/package-lock.json" ]; then
    stamp="$js/node_modules/.lock-stamp"
    want=$(sha256sum "$js/package-lock.json" | cut -d' ' -f1)
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
      (cd "$js" && npm ci --no-audit --no-fund --loglevel=error)
      echo "$want" > "$stamp"
    fi
  fi
done

# Installs Debian package $1 (the command $2) when it is missing and this runs as root; else says
# which tests ($3) will report it.
install_with_apt() {
  command -v "$2" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq "$1" >/dev/null || { apt-get install -y -qq -f >/dev/null && apt-get install -y -qq "$1" >/dev/null; }
  else
    echo "test-setup: $2 is missing and cannot be installed here (needs root and apt-get); $3 will say so" >&2
  fi
}

# tmux, for the test that drives two echo-chat TUIs in a real terminal.
install_with_apt tmux tmux "the TUI terminal test"

# strace, for the test that a node not told to join the public network contacts no bootstrap address.
install_with_apt strace strace "the opt-in test"

# Chromium, for the browser tests of the web UI (driven by Playwright; its own downloads are not used).
install_with_apt chromium chromium "the browser tests"

# iptables and dnsmasq (the binary only, no system service), for the NAT lab's routers and its DNS.
install_with_apt iptables iptables "the NAT lab tests"
install_with_apt dnsmasq-base dnsmasq "the NAT lab tests"
