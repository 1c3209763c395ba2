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
  # pip's and setuptools' own output (warnings included) goes to a log, shown only on failure
  LOG="$VENV/install.log"
  : > "$LOG"
  echo "[ssvi] upgrading pip"
  if ! "$VENV/bin/python" -m pip install -q --upgrade pip >> "$LOG" 2>&1; then
    tail -n 40 "$LOG" >&2; echo "[ssvi] error: upgrading pip failed (log: $LOG)" >&2; exit 1
  fi
  echo "[ssvi] installing the project and its extras (first time: a few minutes)"
  if ! "$VENV/bin/python" -m pip install -q -e "$ROOT[study,analysis,dev]" >> "$LOG" 2>&1; then
    tail -n 40 "$LOG" >&2; echo "[ssvi] error: installing the project failed (log: $LOG)" >&2
    exit 1
  fi
  touch "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
