#!/usr/bin/env bash
# System packages the tests use: Debian's ONNX reference checker (python3-onnx) for onnx.checker.check_model.
# A no-op when present; installs with apt-get when run as root; otherwise says what to run.
set -euo pipefail
if /usr/bin/python3 -c 'import onnx, numpy' 2>/dev/null; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing python3-onnx and python3-numpy (the ONNX reference checker used by the tests)..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-onnx python3-numpy >/dev/null
  exit 0
fi
echo "The tests need Debian's python3-onnx and python3-numpy: sudo apt-get install -y python3-onnx python3-numpy" >&2
exit 1
