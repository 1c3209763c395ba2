"""The ``tune`` design: Optuna TPE (seeded) through Ray Tune's OptunaSearch, one search per method,
the Optuna study persisted in an RDB storage; and the export of the best configuration as a run
config that ``ssvi train --config`` runs and ``--base`` feeds to the other designs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
import pandas as pd
import yaml
from ray import tune
from ray.tune.search import Repeater
from ray.tune.search.optuna import OptunaSearch

from ssvi.config import make_config
from ssvi.io import atomic_write_text

if TYPE_CHECKING:
    from studies.planning import Plan

# The searched metric: validation accuracy (the test set is never used for selection); a run that
# diverged counts as chance level, so Optuna learns that its region is bad instead of averaging
# over the seeds that survived.
OBJECTIVE = "objective"
METRIC, MODE = OBJECTIVE, "max"


def objective(val_accuracy: float, status: str, num_classes: int) -> float:
    """What the search maximises: validation accuracy, chance level (1/K) for a diverged run."""
    if status == "diverged" or not math.isfinite(val_accuracy):
        return 1.0 / num_classes
    return float(val_accuracy)


def tune_domains(space: dict[str, tuple[Any, ...]], method: str) -> dict[str, Any]:
    """Ray Tune domains for the preset's search space (dense VI skips the SSVI-only knobs)."""
    from studies.presets import SSVI_ONLY

    out: dict[str, Any] = {}
    for name, (kind, *args) in space.items():
        if method == "dense_vi" and name in SSVI_ONLY:
            continue
        if kind == "log":
            out[name] = tune.loguniform(args[0], args[1])
        elif kind == "uniform":
            out[name] = tune.uniform(args[0], args[1])
        else:
            out[name] = tune.choice(list(args))
    return out


def make_searcher(storage_url: str, study_name: str, seed: int, repeats: int) -> Any:
    """A seeded TPE OptunaSearch persisted in ``storage_url``; each configuration repeated for
    ``repeats`` seeds (Repeater averages them before Optuna sees the value)."""
    # Optuna's INFO lines ('A new study created in RDB ...'): the progress line says it
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    searcher = OptunaSearch(
        metric=METRIC, mode=MODE, sampler=optuna.samplers.TPESampler(seed=seed),
        storage=optuna.storages.RDBStorage(storage_url), study_name=study_name,
    )  # fmt: skip
    return Repeater(searcher, repeat=repeats, set_index=True) if repeats > 1 else searcher


def export_best(
    table: pd.DataFrame, base: dict[str, Any], out_dir: Path, study: str = ""
) -> list[Path]:
    """Write the best configuration per method as ``<dataset>-<method>.yaml`` run configs; returns
    the files written. Ranked by mean validation accuracy over seeds, a diverged seed counting as
    chance level; configurations with a seed stopped early (ASHA) or errored are not ranked.

    Each file starts with its provenance (``_provenance``: study, runs, configurations, seeds,
    the validation score, git revision, date), which ``ssvi train --config`` ignores, and leaves
    the execution settings (device, data folder, ...) at their defaults: it runs anywhere."""
    import datetime as dt

    from ssvi.config import EXECUTION_FIELDS, git_revision
    from ssvi.data import DATASET_INFO
    from studies.presets import HYPERPARAMETERS

    tuned = table[table["design"] == "tune"].copy()
    unfinished = tuned.loc[~tuned["status"].isin(["completed", "diverged"]), "config_id"]
    done = tuned[~tuned["config_id"].isin(set(unfinished))].copy()
    classes = DATASET_INFO[str(base["dataset"])].num_classes
    done["score"] = [
        objective(v, s, classes) for v, s in zip(done["val_accuracy"], done["status"], strict=True)
    ]
    written = []
    for method, group in done.groupby("method"):
        means = group.groupby("config_id")["score"].mean()
        best = group[group["config_id"] == means.idxmax()].iloc[0]
        values = {**base, **{k: best[k] for k in HYPERPARAMETERS}, "seed": 0}
        values = {
            k: (v.item() if hasattr(v, "item") else v)
            for k, v in values.items()
            if k not in EXECUTION_FIELDS
        }
        cfg = make_config(values)
        path = out_dir / f"{cfg.dataset}-{method}.yaml"
        provenance = {
            "what": f"the best of {means.size} configurations tuned by Optuna TPE (design tune), "
            "ranked by mean validation accuracy over seeds, a diverged seed at chance",
            "study": study,
            "runs": int(len(group)),
            "configurations": int(means.size),
            "seeds": int(group["seed"].nunique()),
            "validation_accuracy": round(float(means.max()), 4),
            "git_rev": git_revision(),
            "date": dt.date.today().isoformat(),
        }
        text = yaml.safe_dump({"_provenance": provenance, **cfg.to_dict()}, sort_keys=False)
        atomic_write_text(path, text)
        written.append(path)
    return written


def tune_experiments(
    p: Plan, common: dict[str, Any], asha: bool, seed: int, grace_fraction: float
) -> list[tuple[str, dict[str, Any], Any, Any]]:
    """One Optuna search per method, each its own Tune experiment beside the main one:
    ``(name, param_space, (searcher, num_samples), scheduler)`` for the study's plan ``p``."""
    from ray.tune.schedulers import ASHAScheduler

    from studies.designs import shared_space

    preset = p.preset
    out = []
    url = p.optuna_storage
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    for method, density in (("ssvi", preset.densities[0]), ("dense_vi", 1.0)):
        study_name = f"{p.name}-tune-{method}"
        searcher = make_searcher(url, study_name, seed, len(preset.seeds))
        run = {**p.base, "density": density, "seed": preset.seeds[0]}
        trial = {"design": "tune", "method": method, "oat_param": "", "is_default": False,
                 "seeds": list(preset.seeds), "run": run}  # fmt: skip
        knobs = {**shared_space(preset, p.all_knobs), **preset.ssvi_space}
        space = {**common, "trial": trial, "search": tune_domains(knobs, method)}
        epochs = p.base["epochs"]
        scheduler = None
        if asha:
            grace = max(1, int(grace_fraction * epochs))
            scheduler = ASHAScheduler(
                time_attr="training_iteration",
                metric=METRIC,
                mode=MODE,
                max_t=epochs,  # one report per epoch, the last one the trial's final row
                grace_period=grace,
            )
        out.append(
            (
                f"{p.name}-tune-{method}",
                space,
                (searcher, p.tune_trials * len(preset.seeds)),
                scheduler,
            )
        )
    return out
