#!/usr/bin/env bash
# The browser the webview tests drive (test/webview.test.ts): Debian's chromium, launched by playwright-core.
# A no-op when /usr/bin/chromium exists; installs it with apt-get when run as root; otherwise says what to run.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing chromium (the headless browser used by the webview tests)..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "The webview tests need Debian's chromium: sudo apt-get install -y chromium" >&2
exit 1
