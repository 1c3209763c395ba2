"""The headline verdict's power for a planned study, by simulation: the planned trials (a
results table whose metrics are still to come, written by the study's dry run) filled with
metrics drawn under a stated noise assumption, and analysed by the real ``verdicts``.

Every configuration has a dense VI effect drawn from ``N(0, config_sd^2)``; SSVI's effect is
``ratio`` times an effect correlated ``config_corr`` with it (the local and mnist1d studies
measured 0.99 between the two methods' configuration means); every run adds its own seed noise
``N(0, seed_sd^2)``. Accuracy carries the difference; the three other headline metrics are drawn
alike at a ratio of 1, so that Holm's correction over the whole headline family is as strict as
it can be for the accuracy row. ``python -m analysis.power`` is its command line
(``analysis/power.py``); ``studies/robustness.py --dry-run`` calls it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis._verdicts import verdicts

PLANNING_RATIO = 0.6  # the ratio of configuration SDs a preset is sized to detect
METRIC_COLUMNS = ("test_accuracy", "test_nll", "test_ece", "test_ood_auroc")
HEADLINE_METRICS = ("accuracy", "nll", "ece", "ood_auroc")  # the verdicts' keys of those
CENTRES = {"test_accuracy": 0.9, "test_nll": 0.3, "test_ece": 0.05, "test_ood_auroc": 0.9}


@dataclass(frozen=True)
class Assumption:
    """The noise a planned study is simulated with (a preset's ``assumed_*`` fields, in the
    metric's units: accuracy as a fraction)."""

    seed_sd: float
    config_sd: float
    config_corr: float = 0.98


def simulated_table(
    rows: pd.DataFrame, assumption: Assumption, ratio: float, rng: np.random.Generator
) -> pd.DataFrame:
    """``rows`` (the planned trials as results rows) with metrics drawn (module docstring)."""
    configs, index = np.unique(rows["config_id"].to_numpy(), return_inverse=True)
    ssvi = (rows["method"] == "ssvi").to_numpy()
    out = rows.copy()
    a = assumption
    for column in METRIC_COLUMNS:
        z1, z2 = rng.standard_normal((2, configs.size))
        r = ratio if column == "test_accuracy" else 1.0
        dense = a.config_sd * z1
        own = r * a.config_sd * (a.config_corr * z1 + math.sqrt(1 - a.config_corr**2) * z2)
        effect = np.where(ssvi, own[index], dense[index])
        sign = -1.0 if column in ("test_nll", "test_ece") else 1.0
        noise = a.seed_sd * rng.standard_normal(len(rows))
        out[column] = CENTRES[column] + sign * effect + noise
    out["status"] = "completed"
    return out


def _replicate(job: tuple[pd.DataFrame, Assumption, float, int, int]) -> bool:
    rows, assumption, ratio, seed, n_boot = job
    table = simulated_table(rows, assumption, ratio, np.random.default_rng(seed))
    out = verdicts(table, seed=seed, n_boot=n_boot, metrics=HEADLINE_METRICS)
    head = out[(out["family"] == "sensitivity") & (out["scope"] == "overall")]
    verdict = head.loc[head["metric"] == "accuracy", "verdict"]
    return bool((verdict == ("less" if ratio < 1 else "more")).any())


def simulated_power(
    rows: pd.DataFrame,
    assumption: Assumption,
    ratio: float = PLANNING_RATIO,
    replicates: int = 200,
    n_boot: int = 1000,
    workers: int = 1,
    seed: int = 0,
) -> tuple[int, int]:
    """How often the real verdicts find SSVI's accuracy ``less`` (``ratio`` < 1) or ``more``
    sensitive, over ``replicates`` studies of the planned ``rows`` drawn under ``assumption``.

    Returns ``(hits, replicates)``.
    """
    jobs = [(rows, assumption, ratio, seed + r, n_boot) for r in range(replicates)]
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            hits = sum(pool.map(_replicate, jobs, chunksize=8))
    else:
        hits = sum(map(_replicate, jobs))
    return int(hits), replicates
