#!/usr/bin/env bash
# Create .venv and install the project with every extra when it is missing or out of date.
# Sourced by scripts/main.sh and scripts/test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SSVI_VENV:-$ROOT/.venv}"
STAMP="$VENV/.ssvi-installed"
if [ ! -x "$VENV/bin/python" ]; then
  echo "[ssvi] creating virtual environment in $VENV"
  python3 -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || [ "$ROOT/pyproject.toml" -nt "$STAMP" ]; then
  echo "[ssvi] installing the project and its extras (first time: a few minutes)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e "$ROOT[study,analysis,dev]"
  touch "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
