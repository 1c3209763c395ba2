"""Working ranges: where each method stops working along a shared knob (DESIGN.md, reading 2).

Along one shared knob, every other knob at its base value, a method's *working range* is the
interval of knob values around the base value where its seed-averaged metric stays on the good
side of a *failure line*. Two lines per method, each relative to the method's own value at the
base configuration:

- ``collapse``: half-way between the base value and the value of the uniform predictor
  (accuracy 1/K, NLL log K, Brier score 1 - 1/K, OOD AUROC 0.5): the critical threshold of
  the paper's figure;
- ``tolerance``: ``delta`` worse than the base value (``DELTAS``: 2 accuracy points, 0.05 nats
  of NLL, 0.02 of OOD AUROC or Brier score).

An edge is found by walking outward from the base value on each side: the first probed value
whose seed-averaged metric is past the line, and the edge is where the straight line between
it and the previous probed value, on log10 of the knob, crosses the failure line. Without such
a value the edge is *censored*: beyond the outermost probed value, never extrapolated.

Rows: the one-at-a-time rows of the knob, designs ``oat`` and ``edge`` together
(``oat_param`` = the knob or ``base``), whatever values were probed; a (arm, configuration,
seed) in both designs counts once; SSVI's density sweep is not a point of any knob's curve.
A diverged run is a failed run: it is scored as the uniform predictor (``score_at_chance``);
errored runs are left out. ECE is left out: a diverged run has no ECE (a uniform predictor is
perfectly calibrated), so the curve past a collapse is not defined.

Intervals: the seeds at each probed value are resampled with replacement, independently per
value and method, and the edges found again in every draw (the failure line moves with the
resampled base value). The resampled values are the modified residuals of Davison and Hinkley
(1997, sec. 3.3): ``mean + sqrt(n / (n - 1)) * (value - mean)``, so that a resampled mean has
the unbiased variance ``s^2 / n`` rather than ``(n - 1) / n`` of it, which matters with 3 seeds.
A draw with no crossing puts the edge beyond the probed range: a bound past the outermost value
is then open (``inf`` in knob units). Calibration: tests/analysis/test_analysis_ranges.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis._load import prepare_results, score_at_chance
from analysis._schema import ARM, DENSE, METHODS, Metric, resolve_metric, shared_params, sort_arms

RANGE_DESIGNS = ("oat", "edge")
LINES = ("collapse", "tolerance")
SIDES = ("lower", "upper")
RANGE_METRICS = ("accuracy", "nll", "ood_auroc")  # the defaults; "brier" works too, "ece" not
DELTAS = {"accuracy": 0.02, "nll": 0.05, "ood_auroc": 0.02, "brier": 0.02}
COLUMNS = [
    "method",
    "arm",
    "knob",
    "metric",
    "line",
    "side",
    "edge",
    "ci_low",
    "ci_high",
    "censored",
    "probed_min",
    "probed_max",
    "base_value",
    "base_metric",
    "line_value",
    "width_decades",
    "width_low",
    "width_high",
    "width_censored",
    "n_values",
    "n_runs",
    "n_diverged",
    "source",
]


def chance_value(metric: Metric, num_classes: float) -> float:
    """The uniform predictor's value of a metric (NaN where it has none, or K is unknown)."""
    k = float(num_classes)
    return {
        "accuracy": 1.0 / k,
        "nll": float(np.log(k)),
        "brier": 1.0 - 1.0 / k,
        "ood_auroc": 0.5,
    }.get(metric.key, float("nan"))


@dataclass(frozen=True)
class Curve:
    """One arm's points along one knob, the metric oriented so that higher is better."""

    arm: str
    knob: str
    metric: Metric
    x: np.ndarray  # log10 of the probed values, increasing
    values: list[np.ndarray]  # per probed value, its runs' metric (oriented)
    base: int  # index of the base value in x
    chance: float  # oriented
    n_diverged: int
    source: str

    @property
    def sign(self) -> float:
        return 1.0 if self.metric.higher_is_better else -1.0

    def means(self) -> np.ndarray:
        return np.array([v.mean() for v in self.values])


def range_knobs(data: pd.DataFrame) -> list[str]:
    """Shared knobs with one-at-a-time rows (designs ``oat`` or ``edge``) in ``data``."""
    rows = data[data["design"].isin(RANGE_DESIGNS)]
    swept = set(rows["oat_param"])
    return [p for p in shared_params(data) if p in swept and p in data.columns]


def curves(data: pd.DataFrame, metric: Metric, knob: str) -> Iterator[Curve]:
    """Every arm's ``Curve`` of ``metric`` along ``knob`` (``data`` prepared)."""
    rows = data[data["design"].isin(RANGE_DESIGNS) & data["oat_param"].isin([knob, "base"])]
    read = rows[rows[knob] > 0]
    rows = read.drop_duplicates([ARM, "config_id", "seed"])
    if rows.empty:
        return
    div = rows["status"].eq("diverged")
    classes = rows["num_classes"].to_numpy(dtype=float)
    if (div.to_numpy() & np.isnan(classes)).any():
        return  # a diverged run cannot be scored as chance without the number of classes
    rows = score_at_chance(rows) if div.any() else rows
    base_rows = rows[rows["oat_param"] == "base"]
    if base_rows.empty:
        return
    base_key = round(float(np.log10(base_rows[knob].median())), 6)
    for arm in sort_arms(rows[ARM]):
        part = rows[(rows[ARM] == arm) & rows[metric.column].notna()]
        keys = np.log10(part[knob].to_numpy(dtype=float)).round(6)
        x = np.unique(keys)
        if base_key not in x or x.size < 2:
            continue
        sign = 1.0 if metric.higher_is_better else -1.0
        values = part[metric.column].to_numpy(dtype=float) * sign
        k = float(np.nanmedian(part["num_classes"])) if part["num_classes"].notna().any() else 0
        yield Curve(
            arm=arm,
            knob=knob,
            metric=metric,
            x=x,
            values=[values[keys == v] for v in x],
            base=int(np.flatnonzero(x == base_key)[0]),
            chance=sign * chance_value(metric, k) if k else float("nan"),
            n_diverged=int(part["status"].eq("diverged").sum()),
            source=",".join(
                d for d in RANGE_DESIGNS if d in set(read.loc[read[ARM] == arm, "design"])
            ),
        )


def resampled_means(curve: Curve, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_boot, levels)`` draws of the seed-averaged values: at each probed value, its mean
    plus ``s / sqrt(n)`` times a Student t with ``n - 1`` degrees of freedom (the fiducial
    distribution of a mean from ``n`` seeds; a value with one seed does not move)."""
    out = np.empty((n_boot, curve.x.size))
    for j, v in enumerate(curve.values):
        n = v.size
        out[:, j] = v.mean()
        if n > 1:
            out[:, j] += v.std(ddof=1) / np.sqrt(n) * rng.standard_t(n - 1, size=n_boot)
    return out


def failure_line(means: np.ndarray, curve: Curve, line: str, delta: float) -> np.ndarray:
    """The failure line of each row of ``means`` (oriented units)."""
    base = means[:, curve.base]
    if line == "collapse":
        return (base + curve.chance) / 2
    if line == "tolerance":
        return base - delta
    raise ValueError(f"unknown line {line!r}; allowed: {', '.join(LINES)}")


def find_edges(means: np.ndarray, x: np.ndarray, base: int, line: np.ndarray) -> np.ndarray:
    """``(rows, 2)`` lower and upper edges (log10): the first crossing of ``line`` walking out
    from ``base``, interpolated linearly on ``x``; ``-inf`` / ``inf`` where there is none."""
    rows = np.arange(means.shape[0])
    out = np.empty((means.shape[0], 2))
    below = means < line[:, None]
    for side, order in ((0, np.arange(base - 1, -1, -1)), (1, np.arange(base + 1, x.size))):
        if order.size == 0:
            out[:, side] = np.inf if side else -np.inf
            continue
        fail = below[:, order]
        found = fail.any(axis=1)
        k = order[np.argmax(fail, axis=1)]
        prev = k + (1 if side == 0 else -1)
        before, after = means[rows, prev], means[rows, k]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.clip((before - line) / (before - after), 0.0, 1.0)
        t = np.where(np.isfinite(t), t, 0.0)
        edge = x[prev] + t * (x[k] - x[prev])
        out[:, side] = np.where(found, edge, np.inf if side else -np.inf)
    return out


def width(edges: np.ndarray, low: float, high: float) -> np.ndarray:
    """Width in decades of the working range inside ``[low, high]`` (log10)."""
    return np.clip(np.minimum(edges[..., 1], high) - np.maximum(edges[..., 0], low), 0.0, None)


@dataclass(frozen=True)
class Edges:
    """A curve's edges for one failure line: the estimate and the bootstrap draws (log10)."""

    curve: Curve
    line: str
    line_value: float  # oriented
    point: np.ndarray  # (2,)
    draws: np.ndarray  # (n_boot, 2)


def curve_edges(
    curve: Curve, delta: float, n_boot: int, rng: np.random.Generator
) -> dict[str, Edges]:
    """Both lines' ``Edges`` of a curve (one resampling serves both); the collapse line only
    where the metric has a chance value."""
    point_means = curve.means()[None, :]
    draws = resampled_means(curve, n_boot, rng)
    out = {}
    for line in LINES:
        if line == "collapse" and curve.chance != curve.chance:
            continue
        level = failure_line(point_means, curve, line, delta)
        point = find_edges(point_means, curve.x, curve.base, level)[0]
        drawn = find_edges(draws, curve.x, curve.base, failure_line(draws, curve, line, delta))
        out[line] = Edges(curve, line, float(level[0]), point, drawn)
    return out


def deltas(delta: float | Mapping[str, float] | None) -> dict[str, float]:
    """The tolerance of every metric: ``DELTAS``, with ``delta`` for accuracy (a number) or
    for the metrics it names (a mapping)."""
    out = dict(DELTAS)
    if isinstance(delta, Mapping):
        out.update({resolve_metric(k).key: float(v) for k, v in delta.items()})
    elif delta is not None:
        out["accuracy"] = float(delta)
    return out


def all_edges(
    data: pd.DataFrame,
    metrics: tuple[str, ...],
    delta: float | Mapping[str, float] | None,
    n_boot: int,
    seed: int,
) -> list[Edges]:
    """Every ``Edges`` of a prepared table: per knob, metric, arm and line."""
    rng = np.random.default_rng(seed)
    tol = deltas(delta)
    out: list[Edges] = []
    for knob in range_knobs(data):
        for m in (resolve_metric(k) for k in metrics):
            if m.key not in tol or data[m.column].isna().all():
                continue
            for curve in curves(data, m, knob):
                out += curve_edges(curve, tol[m.key], n_boot, rng).values()
    return out


def working_ranges(
    table: pd.DataFrame,
    *,
    metrics: tuple[str, ...] = RANGE_METRICS,
    delta: float | Mapping[str, float] | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """The lower and upper edges of each method's working range along each shared knob.

    Args:
        table: a results table (``load_results``) or a prepared one, with one-at-a-time rows
            (designs ``oat`` and ``edge``) of some shared knob.
        metrics: metric keys (``accuracy``, ``nll``, ``ood_auroc``, ``brier``; ``ece`` has no
            failure line and is skipped).
        delta: the tolerance line's distance from the base value: a number for accuracy, or a
            mapping of metric to distance (``DELTAS`` for the rest).
        n_boot: bootstrap draws of the seeds.
        seed: seed of the bootstrap (the result is a deterministic function of it).
        level: level of the intervals.

    Returns:
        One row per method, arm, knob, metric, line and side (``COLUMNS``): ``edge`` (knob
        units, NaN when ``censored``: no edge inside the probed range) with its interval
        ``ci_low``/``ci_high`` (``0``/``inf`` when a bound lies beyond the probed range),
        ``probed_min``/``probed_max``, the knob's ``base_value``, the method's ``base_metric``
        and its failure line ``line_value`` (metric units), ``width_decades`` (upper minus lower
        edge in decades, a censored edge counted at the probed bound: then ``width_censored``
        and the width is a lower bound) with its interval, and counts.
    """
    data = prepare_results(table)
    found = all_edges(data, metrics, delta, n_boot, seed)
    tail = 50.0 * (1 - level)
    rows = []
    for e in found:
        c = e.curve
        low, high = float(c.x[0]), float(c.x[-1])
        w = width(e.draws, low, high)
        w_low, w_high = np.percentile(w, [tail, 100 - tail], method="inverted_cdf")
        for side, name in enumerate(SIDES):
            d = e.draws[:, side]
            ci = np.percentile(d, [tail, 100 - tail], method="inverted_cdf")
            edge = e.point[side]
            rows.append(
                {
                    "method": DENSE if c.arm == DENSE else METHODS[0],
                    "arm": c.arm,
                    "knob": c.knob,
                    "metric": c.metric.key,
                    "line": e.line,
                    "side": name,
                    "edge": 10**edge if np.isfinite(edge) else np.nan,
                    "ci_low": 10 ** ci[0],
                    "ci_high": 10 ** ci[1],
                    "censored": not np.isfinite(edge),
                    "probed_min": 10**low,
                    "probed_max": 10**high,
                    "base_value": 10 ** c.x[c.base],
                    "base_metric": c.sign * c.means()[c.base],
                    "line_value": c.sign * e.line_value,
                    "width_decades": float(width(e.point, low, high)),
                    "width_low": float(w_low),
                    "width_high": float(w_high),
                    "width_censored": not np.isfinite(e.point).all(),
                    "n_values": int(c.x.size),
                    "n_runs": int(sum(v.size for v in c.values)),
                    "n_diverged": c.n_diverged,
                    "source": c.source,
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)
