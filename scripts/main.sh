#!/usr/bin/env bash
# The main job: the default robustness study (`local` preset: bundled digits data, a local Ray
# instance) and its sensitivity report. SSVI_PRESET=mnist1d runs the second embedded testbed. Creates .venv and installs the project when missing.
# Re-running it resumes an interrupted study (finished trials are not re-run) and redraws the report.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
STORAGE="${SSVI_STORAGE:-results}"
PRESET="${SSVI_PRESET:-local}"
NAME="${SSVI_STUDY:-$PRESET-robustness}"
REPORT="${SSVI_REPORT:-report/$NAME}"
resume=()
if [ -f "$STORAGE/$NAME/tuner.pkl" ]; then
  resume=(--resume)
fi
# --ray-address local: always its own Ray instance, never someone else's running cluster
python studies/robustness.py --preset "$PRESET" --storage "$STORAGE" --name "$NAME" \
  --ray-address local "${resume[@]}"
python -m analysis.report "$STORAGE/$NAME" --out "$REPORT"
case "$REPORT" in /*) where="$REPORT" ;; *) where="$ROOT/$REPORT" ;; esac
echo "report: $where/report.html (and report.md, figures/, tables/)"
