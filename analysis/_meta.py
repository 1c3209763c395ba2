"""Random-effects meta-analysis of per-study effects: the arithmetic behind ``analysis.pool``.

``combine(effects)`` takes one row per (study, comparison) with an effect on an additive scale
(the log ratio of configuration SDs, or a difference of working-range widths in decades) and
its standard error, and pools every comparison across studies:

- statsmodels' ``combine_effects`` with ``method_re="pm"`` (Paule–Mandel estimate of the
  between-study variance τ²) and ``use_t=True``;
- the Hartung–Knapp(–Sidik–Jonkman) interval: the random-effects SE rescaled by the weighted
  dispersion of the studies around the pooled mean, with Student-t quantiles on k − 1 degrees
  of freedom, at every number of studies k (with many studies it approaches the normal
  interval). Its scale is floored at 1 (``max(SE_HK, SE_RE)``, Röver, Knapp & Friede 2015,
  BMC Med Res Methodol 15:99): unfloored, the HK interval is narrower than the plain
  random-effects one whenever the studies agree better than their SEs say, and undercovers
  with two or three studies;
- the prediction interval of a new study's effect (Higgins, Thompson & Spiegelhalter 2009):
  ``mu ± t_{k-2} sqrt(τ² + SE²)``, defined from three studies on;
- the pooled p-value from the same t statistic, Holm's correction within each family, and a
  practical reading (region of practical equivalence): the interval at the Bonferroni level
  1 − α/m (Holm's most stringent step, valid for the whole family) inside the margin:
  ``equivalent``; entirely beyond it on one side: ``less`` / ``more``; else ``inconclusive``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

LESS, NONE, MORE = "less", "none", "more"
EQUIVALENT, INCONCLUSIVE = "equivalent", "inconclusive"
METHOD_RE = "pm"  # Paule–Mandel: tau^2 >= 0, recommended over DerSimonian–Laird
KEYS = ["family", "metric", "scope", "line"]
EFFECT_COLUMNS = [*KEYS, "study", "arm", "effect", "se", "note"]
POOLED_COLUMNS = [
    *KEYS,
    "n_studies",
    "studies",
    "effect",
    "se",
    "ci_low",
    "ci_high",
    "pi_low",
    "pi_high",
    "tau2",
    "i2",
    "q",
    "q_p_value",
    "p_value",
    "p_holm",
    "verdict",
    "practical",
    "practical_low",
    "practical_high",
    "margin_low",
    "margin_high",
    "note",
]


def combine(
    effects: pd.DataFrame,
    margins: dict[str, tuple[float, float]],
    *,
    alpha: float = 0.05,
    less_is_negative: dict[str, bool] | None = None,
) -> pd.DataFrame:
    """Pool every comparison (``family``, ``metric``, ``scope``, ``line``) across studies.

    Args:
        effects: rows ``EFFECT_COLUMNS``: ``effect`` on an additive scale and its ``se``
            (NaN: the study is left out of that comparison).
        margins: per family, the margin of practical equivalence on the effect's scale.
        alpha: family-wise error rate (Holm within each family) and 1 − level of ``ci_*``.
        less_is_negative: per family, whether a negative effect means SSVI is less sensitive
            (True for log ratios of SDs; False for working-range widths); default True.

    Returns:
        One row per comparison, ``POOLED_COLUMNS``, on the effect's scale.
    """
    signs = less_is_negative or {}
    rows = [
        _pool_one(dict(zip(KEYS, key, strict=True)), part, alpha)
        for key, part in effects.groupby(KEYS, sort=False)
    ]
    out = pd.DataFrame(rows, columns=[c for c in POOLED_COLUMNS if c not in _READINGS])
    for column in _READINGS:
        out[column] = np.nan if column not in ("verdict", "practical") else ""
    for family, idx in out.groupby("family", sort=False).groups.items():
        negative = signs.get(str(family), True)
        low, high = margins[str(family)]
        out.loc[idx] = _read(out.loc[idx].copy(), alpha, negative, (low, high))
    return out[POOLED_COLUMNS]


# the columns the family-wise reading fills in (POOLED_COLUMNS from p_holm up to the note)
_READINGS = POOLED_COLUMNS[POOLED_COLUMNS.index("p_holm") : POOLED_COLUMNS.index("note")]


def _pool_one(key: dict[str, Any], part: pd.DataFrame, alpha: float) -> dict[str, Any]:
    part = part[part["se"].notna()]
    y = part["effect"].to_numpy(float)
    se = part["se"].to_numpy(float)
    k = y.size
    row: dict[str, Any] = {
        **key,
        "n_studies": k,
        "studies": ", ".join(map(str, part["study"])),
        "note": "",
    }
    if k < 2:
        return {**row, "note": f"{k} usable {'study' if k == 1 else 'studies'}: nothing to pool"}
    # imported here: statsmodels takes about a second to import, which ``import analysis`` skips
    from statsmodels.stats.meta_analysis import combine_effects

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels warns about per-study t intervals
        res = combine_effects(y, se**2, method_re=METHOD_RE, use_t=True, alpha=alpha)
    mu = float(res.mean_effect_re)
    tau2 = max(float(res.tau2), 0.0)
    scale = float(np.sqrt(max(float(res.var_hksj_re), float(res.var_eff_w_re))))
    crit = float(stats.t.isf(alpha / 2, k - 1))
    t_stat = mu / scale if scale > 0 else np.inf
    if k >= 3:
        half = float(stats.t.isf(alpha / 2, k - 2)) * np.sqrt(tau2 + scale**2)
        pi = (mu - half, mu + half)
    else:
        pi = (np.nan, np.nan)
    q = float(res.q)
    return {
        **row,
        "effect": mu,
        "se": scale,
        "ci_low": mu - crit * scale,
        "ci_high": mu + crit * scale,
        "pi_low": pi[0],
        "pi_high": pi[1],
        "tau2": tau2,
        "i2": max(0.0, (q - (k - 1)) / q) if q > 0 else 0.0,
        "q": q,
        "q_p_value": float(stats.chi2.sf(q, k - 1)),
        "p_value": float(2 * stats.t.sf(abs(t_stat), k - 1)),
    }


def _read(
    out: pd.DataFrame, alpha: float, negative: bool, margin: tuple[float, float]
) -> pd.DataFrame:
    """Holm-adjusted p-values, verdicts and practical readings of one family."""
    tested = out["p_value"].dropna().sort_values(kind="stable")
    m = len(tested)
    if m:
        adjusted = np.minimum(1.0, np.maximum.accumulate(tested.to_numpy() * (m - np.arange(m))))
        out.loc[tested.index, "p_holm"] = adjusted
    direction_less = (out["effect"] < 0) if negative else (out["effect"] > 0)
    significant = out["p_holm"] < alpha
    out["verdict"] = np.where(significant, np.where(direction_less, LESS, MORE), NONE)
    out.loc[out["p_value"].isna(), "verdict"] = ""
    crit = stats.t.isf(alpha / (2 * max(m, 1)), (out["n_studies"] - 1).clip(lower=1))
    low = out["effect"] - crit * out["se"]
    high = out["effect"] + crit * out["se"]
    out["practical_low"], out["practical_high"] = low, high
    out["margin_low"], out["margin_high"] = margin
    beyond_low, beyond_high = high < margin[0], low > margin[1]
    practical = np.where(
        (low >= margin[0]) & (high <= margin[1]),
        EQUIVALENT,
        np.where(
            beyond_low,
            LESS if negative else MORE,
            np.where(beyond_high, MORE if negative else LESS, INCONCLUSIVE),
        ),
    )
    out["practical"] = np.where(out["p_value"].isna(), "", practical)
    return out
