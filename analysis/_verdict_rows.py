"""Verdict rows: a finished comparison as a row of ``verdicts``, Holm's correction per family,
and the smallest detectable difference."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from analysis import _variance as var
from analysis._comparisons import Comparison
from analysis._exact import _norm_isf
from analysis._power import POWER
from analysis._practical import RATIO_MARGIN, ratio_draws, read
from analysis._schema import METRICS

LESS, NONE, MORE = "less", "none", "more"
COLUMNS = [
    "family",
    "arm",
    "metric",
    "scope",
    "line",
    "statistic",
    "source",
    "ssvi",
    "dense_vi",
    "difference",
    "ci_low",
    "ci_high",
    "ratio",
    "ratio_low",
    "ratio_high",
    "p_value",
    "p_holm",
    "verdict",
    "detectable",
    "practical",
    "equivalence_margin",
    "n_configs",
    "n_pairs",
    "n_dropped",
    "note",
]


def row(
    family: str, arm: str, metric: str, scope: str, test: Comparison, source: str = ""
) -> dict[str, Any]:
    statistic = {"divergence": "divergence_rate", "seed_noise": "seed_sd"}.get(scope, "config_sd")
    a, b = test.point
    if statistic == "divergence_rate":
        low, high = float(test.draws[0][0, 0]), float(test.draws[0][1, 0])
        ratio = (np.nan, np.nan, np.nan)
    else:
        bounds = []
        for d in test.draws:  # the union of the intervals of the tests that decide
            with np.errstate(divide="ignore", invalid="ignore"):
                bounds.append(
                    var.percentile_interval(d[0] - d[1]) + var.percentile_interval(d[0] / d[1])
                )
        edges = np.array(bounds)
        low, high, r_low, r_high = (
            _union(edges[:, 0], min),
            _union(edges[:, 1], max),
            _union(edges[:, 2], min),
            _union(edges[:, 3], max),
        )
        ratio = (a / b if b > 0 else np.nan, r_low, r_high)
    return {
        "family": family,
        "arm": arm,
        "metric": metric,
        "scope": scope,
        "statistic": statistic,
        "source": source,
        "ssvi": a,
        "dense_vi": b,
        "difference": a - b,
        "ci_low": low,
        "ci_high": high,
        "ratio": ratio[0],
        "ratio_low": ratio[1],
        "ratio_high": ratio[2],
        "p_value": test.p_value,
        "n_configs": test.paired.n_configs if test.units is None else test.units,
        "n_pairs": test.paired.diverged.shape[1]
        if statistic == "divergence_rate"
        else test.paired.n_pairs,
        "n_dropped": test.paired.dropped,
        "note": test.note,
        "_direction": test.direction,
        "_detect": test.detectable,
        # the practical reading (analysis._practical): the sensitivity family's ratio draws
        "_tests": ratio_draws(test.draws) if practical_reading(family, statistic) else None,
    }


def practical_reading(family: str, statistic: str) -> bool:
    """Whether a row gets a practical reading: the headline's configuration SDs (the others
    compare noise, divergence, or SSVI against the zero of a knob dense VI lacks)."""
    return family == "sensitivity" and statistic == "config_sd"


def _union(values: np.ndarray, pick: Any) -> float:
    finite = [float(x) for x in values if x == x]
    return pick(finite) if finite else float("nan")


def holm(out: pd.DataFrame, alpha: float, margin: float = RATIO_MARGIN) -> pd.DataFrame:
    """Holm-adjusted p-values per family, verdicts and smallest detectable differences.

    A verdict (``less`` / ``more``) needs the Holm-adjusted p below ``alpha``, and the tests'
    draws and the point difference on the same side of 0: a difference of exactly 0 is ``none``.
    ``practical`` (the sensitivity family's configuration SDs; ``analysis._practical``): within
    the margin [1 / margin, margin] on the ratio, beyond it, or inconclusive, at Holm's level.
    ``detectable`` at the family's most stringent Holm level, ``alpha / m``: the comparison's
    power calculation under the alternative (``analysis._power``); a row without one (its
    test was not run: too few configurations or seeds) keeps half the observed interval
    scaled to that level and 80% power, a rough guide.
    """
    out["p_holm"] = np.nan
    out["detectable"] = np.nan
    for _, idx in out.groupby("family").groups.items():
        p = out.loc[idx, "p_value"]
        tested = p.dropna()
        m = len(tested)
        if m:
            order = tested.sort_values(kind="stable")
            adjusted = np.minimum(1.0, np.maximum.accumulate(order.to_numpy() * (m - np.arange(m))))
            out.loc[order.index, "p_holm"] = adjusted
        level = alpha / max(m, 1)
        # the comparison's power calculation (``analysis._power``); else half the interval,
        # scaled to the Holm level and 80% power (normal approximation)
        z = _norm_isf(level / 2) + float(special.ndtri(POWER))
        half = (out.loc[idx, "ci_high"] - out.loc[idx, "ci_low"]) / 2
        out.loc[idx, "detectable"] = [
            detect(level) if detect is not None and p_ == p_ else z * h / _norm_isf(0.025)
            for detect, p_, h in zip(out.loc[idx, "_detect"], p, half, strict=True)
        ]
    # an SD of a metric bounded in [0, upper] is at most upper / 2: a difference beyond that is
    # no difference the metric can show (a level whose seeds are very noisy can push the power
    # calculation there): not detectable with 80% power
    bound = out["metric"].map(lambda k: METRICS[k].upper if k in METRICS else None)
    beyond = bound.notna() & (out["detectable"] > bound.astype(float) / 2)
    out.loc[beyond, "detectable"] = np.nan
    significant = out["p_holm"] < alpha
    side = np.where(out["difference"] < 0, LESS, np.where(out["difference"] > 0, MORE, NONE))
    agree = side == out["_direction"].to_numpy()
    out["verdict"] = np.where(significant & agree, side, NONE)
    out["practical"] = ""
    out["equivalence_margin"] = np.nan
    for _, idx in out.groupby("family").groups.items():
        tests = out.loc[idx, "_tests"]
        if tests.notna().any():
            reading = read(tests, alpha, 1 / margin, margin, ratio=True)
            out.loc[idx, ["practical", "equivalence_margin"]] = reading.to_numpy()
    return out[COLUMNS].reset_index(drop=True)
