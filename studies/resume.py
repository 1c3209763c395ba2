"""A study on disk across invocations: does it exist, and does ``--resume`` continue the same plan
(trial ids are positions in the plan, so a resumed study must plan exactly the same trials)."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from ssvi.config import run_identity
from studies.results import read_file, write_files

if TYPE_CHECKING:
    from studies.planning import Plan

PLAN_FILE = "plan.sha256"
EXPERIMENT_TRIALS = 1000  # trials per Tune experiment unless SSVI_EXPERIMENT_TRIALS says otherwise


def plan_digest(p: Plan) -> str:
    """A hash of everything that decides which trials a study runs."""
    # runs by their identity: a study can be resumed from another checkout or data folder, or by
    # a version of ssvi that added run-config fields (at their defaults)
    trials = [{**t, "run": run_identity(t["run"])} for t in p.trials]
    what: dict[str, Any] = {
        "designs": list(p.designs),
        "trials": trials,
        "tune_trials": p.tune_trials,
    }
    if p.all_knobs:  # the tune design's space (absent: digests of older studies hold)
        what["all_knobs"] = True
    if p.edge is not None:  # the edge search's settings (absent: older digests hold)
        what["edge"] = p.edge.to_dict()
    if p.experiment_trials != EXPERIMENT_TRIALS:  # the default: as before
        what["experiment_trials"] = p.experiment_trials
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


def save_plan(p: Plan) -> None:
    write_files(p.folder, {PLAN_FILE: plan_digest(p).encode()})


def same_plan(p: Plan) -> bool:
    """False when the study folder holds the digest of another plan (True when it holds none)."""
    saved = read_file(p.folder, PLAN_FILE)
    return saved is None or saved.decode().strip() == plan_digest(p)


def study_exists(p: Plan) -> bool:
    """Whether Tune has an experiment of this study (its grid/oat/random one, its first edge
    round or a tune one)."""
    from ray import tune

    names = [p.name, f"{p.name}-edge1", *(f"{p.name}-tune-{m}" for m in METHODS)]
    return any(tune.Tuner.can_restore(f"{p.storage}/{name}") for name in names)


METHODS = ("ssvi", "dense_vi")
