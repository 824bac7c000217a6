#!/usr/bin/env bash
# Create (or reuse) .venv with Python >= 3.11 and install proxbox-mq into it.
# Usage: scripts/venv.sh [extras]   e.g. scripts/venv.sh test
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  local candidate
  for candidate in "${PROXBOX_PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}

if [ ! -x .venv/bin/python ]; then
  python=$(find_python) || { echo "[venv] ERROR: no Python >= 3.11 found (set PROXBOX_PYTHON)" >&2; exit 1; }
  echo "[venv] creating .venv with $python" >&2
  "$python" -m venv .venv
fi
spec="."
[ -n "${1:-}" ] && spec=".[$1]"
# Reinstall only when pyproject.toml changed since the last install.
stamp=".venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)-${1:-base}"
if [ ! -f "$stamp" ]; then
  echo "[venv] installing proxbox-mq $spec" >&2
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e "$spec"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
