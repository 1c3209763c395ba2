#!/usr/bin/env bash
# The main job: creates .venv and installs the project when missing, then runs it.
# Extra arguments go to the job.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
exec ssvi train --out runs/digits-ssvi "$@"
