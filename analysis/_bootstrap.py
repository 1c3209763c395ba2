"""Paired SSVI/dense VI arrays and a two-level (configurations, seeds) bootstrap over them."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis._schema import ARM, DENSE


@dataclass(frozen=True)
class Paired:
    """Paired trials of one SSVI arm and dense VI.

    Attributes:
        values: ``(2, C, S)`` metric values, ``[0]`` SSVI and ``[1]`` dense VI; the seeds of
            configuration ``c`` (those both arms ran) are packed into ``[:, c, :n_seeds[c]]``,
            the rest is NaN. Duplicate trials (same arm, config and seed) are averaged.
        diverged: ``(2, C, S)`` 1.0 where the trial diverged, 0.0 otherwise (NaN padding).
        n_seeds: ``(C,)`` number of paired seeds per configuration (>= 1).
        strata: ``(C,)`` integer stratum per configuration; resampling stays within strata.
        levels: the level value of each stratum code (per-hyperparameter scopes).
        default: column of the default configuration, or -1.
    """

    values: np.ndarray
    diverged: np.ndarray
    n_seeds: np.ndarray
    strata: np.ndarray
    levels: list[object]
    default: int

    @property
    def n_configs(self) -> int:
        """Number of paired configurations."""
        return int(self.values.shape[1])

    @property
    def n_pairs(self) -> int:
        """Number of paired (configuration, seed) trials."""
        return int(self.n_seeds.sum())


def build_paired(data: pd.DataFrame, column: str, arm: str, by_level: bool) -> Paired | None:
    """Pair one SSVI arm with dense VI by (config_id, seed).

    Args:
        data: prepared rows of both arms (with a ``level`` column when ``by_level``).
        column: metric column.
        arm: the SSVI arm (``ssvi@0.1``).
        by_level: stratify by ``level`` (per-hyperparameter scope); otherwise the default
            configuration is its own stratum, so every resample keeps it.

    Returns:
        ``None`` when no configuration has a pair.
    """
    sub = data[data[ARM].isin([arm, DENSE])].assign(_div=data["status"].eq("diverged"))
    if not by_level:
        sub = sub.assign(level=0)
    grouped = sub.groupby(["config_id", "seed", ARM], sort=True)
    long = pd.DataFrame(
        {
            "value": grouped[column].mean(),
            "div": grouped["_div"].max().astype(float),
            "default": grouped["is_default"].any(),
            "level": grouped["level"].first(),
        }
    )
    wide = long.unstack(ARM)
    if arm not in wide["div"].columns or DENSE not in wide["div"].columns:
        return None
    wide = wide[wide["div"][arm].notna() & wide["div"][DENSE].notna()]
    if wide.empty:
        return None
    configs = wide.index.get_level_values("config_id").unique()
    size = int(wide.groupby(level="config_id").size().max())
    values = np.full((2, len(configs), size), np.nan)
    diverged = np.full_like(values, np.nan)
    n_seeds = np.zeros(len(configs), dtype=int)
    level_of, default = [], -1
    for c, (_, block) in enumerate(wide.groupby(level="config_id", sort=True)):
        k = len(block)
        n_seeds[c] = k
        for a, name in enumerate((arm, DENSE)):
            values[a, c, :k] = block["value"][name].to_numpy(dtype=float)
            diverged[a, c, :k] = block["div"][name].to_numpy(dtype=float)
        level_of.append(block["level"][arm].iloc[0])
        if not by_level and bool(block["default"].fillna(False).to_numpy().any()):
            default = c if default < 0 else default
    levels = sorted(set(level_of), key=_sort_key)
    strata = np.array([levels.index(v) for v in level_of])
    if default >= 0:
        strata[default] = len(levels)
    return Paired(values, diverged, n_seeds, strata, levels, default)


def _sort_key(value: object) -> tuple[int, float | str]:
    return (0, float(value)) if isinstance(value, int | float | np.number) else (1, str(value))


def config_means(paired: Paired) -> tuple[np.ndarray, np.ndarray]:
    """Seed-averaged values and divergence fractions, each ``(2, 1, C)``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        m = np.nanmean(paired.values, axis=2)[:, None, :]
        d = np.nanmean(paired.diverged, axis=2)[:, None, :]
    return m, d


def resample(
    paired: Paired, n_boot: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap seed-averaged values: configurations within strata, then seeds within them.

    The same configuration and seed indices are drawn for both arms, so pairs stay paired.

    Returns:
        ``(values, diverged)``, each ``(2, n_boot, C)``.
    """
    n_configs, size = paired.values.shape[1:]
    cidx = np.empty((n_boot, n_configs), dtype=int)
    for stratum in np.unique(paired.strata):
        pos = np.flatnonzero(paired.strata == stratum)
        cidx[:, pos] = rng.choice(pos, size=(n_boot, pos.size))
    n = paired.n_seeds[cidx][..., None]
    sidx = np.minimum((rng.random((n_boot, n_configs, size)) * n).astype(int), n - 1)
    keep = np.arange(size) < n
    out = []
    for array in (paired.values, paired.diverged):
        drawn = np.where(keep, array[:, cidx[..., None], sidx], np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out.append(np.nanmean(drawn, axis=3))
    return out[0], out[1]
