"""How much tuning does each method need? Expected-validation-performance curves.

Dodge, Gururangan, Card, Schwartz and Smith, "Show Your Work: Improved Reporting of Experimental
Results", EMNLP 2019: draw ``k`` configurations at random from those a study ran (with
replacement), keep the one with the best validation score, and report the expected *test* value
of that choice, for ``k = 1 .. n``. A method that needs little tuning reaches its plateau at
small ``k``. The configurations are the random design's (both methods on the same sample of the
shared knobs); a diverged run counts as chance level, as it does for a tuner, and each
configuration's scores are its means over seeds.

Tang et al. (2020) show that this expected value is biased at small ``k`` and that its bootstrap
intervals undercover; beside it, ``tuning_curves`` gives the *median* tuning curve of the test
metric with Lourie et al.'s exact, distribution-free simultaneous band (``_tuning_bands``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis._load import prepare_results, score_at_chance
from analysis._schema import ARM, DENSE, Metric, resolve_metric, sort_arms
from analysis._tuning_bands import CONFIDENCE, median_tuning_curve

SELECT_ON = "val_accuracy"
TOLERANCE = 0.01  # "within 1 point of the best"
MAX_KS = 200  # values of k on a curve: every k up to this many configurations, else a log grid


def k_values(n: int) -> np.ndarray:
    """The numbers of draws ``k`` a tuning curve is evaluated at: every ``k`` from 1 to ``n``
    when ``n <= MAX_KS``, else ``MAX_KS`` values spaced evenly on a log scale from 1 to ``n``
    (both included; the figure's ``k`` axis is logarithmic), so that the curve's cost does not
    grow as ``n^2`` with the study."""
    if n <= MAX_KS:
        return np.arange(1, n + 1)
    return np.unique(np.round(np.geomspace(1, n, MAX_KS)).astype(int))


def expected_best(val: np.ndarray, test: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """Expected test value of the best-on-validation of ``k`` draws, for each ``k`` in ``ks``.

    Args:
        val: ``(..., n)`` validation scores (higher is better) of ``n`` configurations.
        test: ``(..., n)`` their test values.
        ks: numbers of draws.

    Returns:
        ``(..., len(ks))``. With the configurations sorted by validation score, the ``i``-th
        (1-based) is chosen with probability ``(i/n)^k - ((i-1)/n)^k``; tied validation scores
        share their test values' mean.
    """
    order = np.argsort(val, axis=-1, kind="stable")
    v = np.take_along_axis(val, order, -1)
    t = np.take_along_axis(test, order, -1)
    n = v.shape[-1]
    t = _tie_means(v, t)
    i = np.arange(1, n + 1) / n
    weights = i[None, :] ** ks[:, None] - (i[None, :] - 1 / n) ** ks[:, None]  # (len(ks), n)
    return t @ weights.T


def _tie_means(v: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``t`` with each run of equal (sorted) validation scores replaced by its mean."""
    n = v.shape[-1]
    flat_v, flat_t = v.reshape(-1, n), t.reshape(-1, n)
    starts = np.ones_like(flat_v, dtype=bool)
    starts[:, 1:] = np.diff(flat_v, axis=1) != 0
    group = np.cumsum(starts, axis=1) - 1 + n * np.arange(flat_v.shape[0])[:, None]
    sums = np.bincount(group.ravel(), weights=flat_t.ravel(), minlength=flat_v.size)
    counts = np.bincount(group.ravel(), minlength=flat_v.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    return means[group].reshape(t.shape)


def _resampled_expected_best(
    val: np.ndarray, test: np.ndarray, idx: np.ndarray, ks: np.ndarray, chunk: int = 64
) -> np.ndarray:
    """``expected_best(val[:, idx], test[:, idx], ks)`` in ``O(n)`` per resample, a chunk of
    resamples at a time (bounded memory).

    A resample holds the original configurations, so it is sorted by counting: each
    configuration's copies go where its rank in the sorted originals says. Ties of validation
    scores are averaged as ``expected_best`` does (copies of one configuration are adjacent).

    Returns:
        ``(K, B, len(ks))``.
    """
    n = val.shape[-1]
    order = np.argsort(val, axis=-1, kind="stable")
    v_sorted = np.take_along_axis(val, order, -1)
    t_sorted = np.take_along_axis(test, order, -1)
    rank = np.argsort(order, axis=-1)  # position of each configuration among the sorted
    i = np.arange(1, n + 1) / n
    weights = i[None, :] ** ks[:, None] - (i[None, :] - 1 / n) ** ks[:, None]
    # for large k, the worst configurations' weights (and their products with the values) are
    # subnormal numbers, which slow the product below many times over and weigh nothing next
    # to the others (the weights sum to 1)
    weights[weights < 1e-200] = 0.0
    out = np.empty((val.shape[0], idx.shape[0], ks.size))
    for start in range(0, idx.shape[0], chunk):
        block = idx[start : start + chunk]
        rows = np.arange(block.shape[0])[:, None] * n
        for a in range(val.shape[0]):
            counts = np.bincount((rank[a][block] + rows).ravel(), minlength=block.size)
            slots = np.repeat(np.tile(np.arange(n), block.shape[0]), counts).reshape(block.shape)
            t = _tie_means(v_sorted[a][slots], t_sorted[a][slots])
            out[a, start : start + chunk] = t @ weights.T
    return out


def _configs(data: pd.DataFrame, m: Metric) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Seed-averaged validation and test values per arm over the random design's configurations
    every arm ran: ``(arms, val (K, n), test (K, n))``."""
    rows = data[data["design"] == "random"]
    means = rows.groupby([ARM, "config_id"])[[SELECT_ON, m.column]].mean()
    arms = sort_arms(rows[ARM])
    val = means[SELECT_ON].unstack(ARM).reindex(columns=arms).dropna()
    test = means[m.column].unstack(ARM).reindex(columns=arms).loc[val.index]
    keep = test.notna().all(axis=1)
    return arms, val[keep].to_numpy().T, test[keep].to_numpy().T


def tuning_curves(
    table: pd.DataFrame, metric: str | Metric = "accuracy", n_boot: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """Expected test value after tuning with ``k`` random configurations, per method.

    Args:
        table: results table (raw or prepared) with a ``random`` design.
        metric: the reported test metric (selection is always on validation accuracy).
        n_boot: bootstrap resamples of the configurations (the same draw for every method).
        seed: bootstrap seed.

    Returns:
        Rows ``arm``, ``k``, ``expected`` (test value), ``low``/``high`` (95% percentile band),
        ``median`` (the median of the best test value among ``k`` configurations, selected on
        the test metric itself: Lourie et al., NAACL 2024) with ``median_low``/``median_high``
        (its exact, distribution-free 95% band, simultaneous over every ``k``; NaN where it
        runs beyond a metric with no bound, NLL), ``n_configs``; empty when no configuration
        of the random design has every method. ``k`` runs from 1 to the number of
        configurations, every value up to ``MAX_KS`` (200) configurations and ``MAX_KS``
        values on a log grid above (``k_values``).
    """
    m = resolve_metric(metric)
    arms, val, test = _configs(score_at_chance(prepare_results(table)), m)
    columns = ["arm", "metric", "k", "expected", "low", "high", "median", "median_low",
               "median_high", "n_configs"]  # fmt: skip
    n = val.shape[-1] if val.size else 0
    if n == 0:
        return pd.DataFrame(columns=columns)
    ks = k_values(n)
    point = expected_best(val, test, ks)
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    if n <= MAX_KS:
        boot = expected_best(val[:, idx], test[:, idx], ks)  # (K, B, len(ks))
    else:
        boot = _resampled_expected_best(val, test, idx, ks)
    low, high = np.percentile(boot, [2.5, 97.5], axis=1)
    upper = np.inf if m.upper is None else m.upper
    bands = [
        median_tuning_curve(t, ks, higher_is_better=m.higher_is_better, lower=0.0,
                            upper=upper, confidence=CONFIDENCE, seed=seed)
        for t in test
    ]  # fmt: skip
    finite = [[np.where(np.isfinite(x), x, np.nan) for x in band] for band in bands]
    rows = [
        {
            "arm": arm,
            "metric": m.key,
            "k": int(k),
            "expected": point[a, j],
            "low": low[a, j],
            "high": high[a, j],
            "median": finite[a][0][j],
            "median_low": finite[a][1][j],
            "median_high": finite[a][2][j],
            "n_configs": n,
        }
        for a, arm in enumerate(arms)
        for j, k in enumerate(ks)
    ]
    return pd.DataFrame(rows, columns=columns)


def near_best(
    table: pd.DataFrame, tolerance: float = TOLERANCE, n_boot: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """Probability that a random configuration's test accuracy is within ``tolerance`` of the
    best configuration's, per method, with a 95% bootstrap interval over configurations.

    The random design's configurations every method ran, seed-averaged, diverged runs at chance.
    Also a ``difference`` row (SSVI arm minus dense VI) per SSVI arm, from the same draws.

    Returns:
        Rows ``arm``, ``share``, ``low``, ``high``, ``n_configs``, ``tolerance``.
    """
    m = resolve_metric("accuracy")
    arms, _, test = _configs(score_at_chance(prepare_results(table)), m)
    columns = ["arm", "share", "low", "high", "n_configs", "tolerance"]
    if test.size == 0:
        return pd.DataFrame(columns=columns)
    n = test.shape[-1]
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))

    def share(x: np.ndarray) -> np.ndarray:
        return (x >= x.max(-1, keepdims=True) - tolerance - 1e-12).mean(-1)

    point, boot = share(test), share(test[:, idx])
    rows = []
    for a, arm in enumerate(arms):
        low, high = np.percentile(boot[a], [2.5, 97.5])
        rows.append([arm, point[a], low, high, n, tolerance])
    if DENSE in arms:
        d = arms.index(DENSE)
        for a, arm in enumerate(arms):
            if arm != DENSE:
                low, high = np.percentile(boot[a] - boot[d], [2.5, 97.5])
                rows.append([f"{arm} - {DENSE}", point[a] - point[d], low, high, n, tolerance])
    return pd.DataFrame(rows, columns=columns)
