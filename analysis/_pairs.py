"""Trials of several arms paired by (configuration, seed), as arrays for the statistics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis._schema import ARM


@dataclass(frozen=True)
class Paired:
    """Seed values of ``K`` arms over the configurations they share.

    Attributes:
        arms: the arms, in the order of the first axis.
        values: ``(K, C, S)`` metric values; configuration ``c``'s usable seeds are packed into
            ``[:, c, :n]`` (the same seeds for every arm), NaN after. A (configuration, seed) is
            usable when every arm ran it, none diverged (unless diverged runs are scored) and
            every arm has a finite value: a run is never dropped from one arm only.
        config_ids: ``(C,)`` configuration ids.
        levels: ``(C,)`` the ``level`` of each configuration (per-hyperparameter scopes) or None.
        diverged: ``(K, P)`` 1 where the arm's run of a pair diverged, over all ``P`` pairs every
            arm ran (including configurations without a usable seed).
        pair_configs: ``(P,)`` configuration id of each pair of ``diverged``.
        dropped: pairs every arm ran that are not usable (diverged or no value).
    """

    arms: tuple[str, ...]
    values: np.ndarray
    config_ids: np.ndarray
    levels: np.ndarray | None
    diverged: np.ndarray
    pair_configs: np.ndarray
    dropped: int

    @property
    def n_configs(self) -> int:
        """Configurations with at least one usable seed."""
        return int(self.values.shape[1])

    @property
    def n_pairs(self) -> int:
        """Usable (configuration, seed) pairs."""
        return int((~np.isnan(self.values[0])).sum())

    @property
    def seeds(self) -> np.ndarray:
        """``(C,)`` usable seeds per configuration."""
        return (~np.isnan(self.values[0])).sum(-1)


def pair(
    rows: pd.DataFrame, column: str, arms: tuple[str, ...], score_diverged: bool = False
) -> Paired:
    """Pair the trials of ``arms`` in ``rows`` by ``(config_id, seed)``: ``pair_all`` for one
    column."""
    return pair_all(rows, (column,), arms, score_diverged)[column]


def pair_all(
    rows: pd.DataFrame,
    columns: tuple[str, ...],
    arms: tuple[str, ...],
    score_diverged: bool = False,
) -> dict[str, Paired]:
    """Pair the trials of ``arms`` in ``rows`` by ``(config_id, seed)``, for each metric column.

    Args:
        rows: prepared results rows (``prepare_results``), optionally with a ``level`` column.
        columns: the metric columns.
        arms: arms to pair (one arm gives a single-method ``Paired``).
        score_diverged: keep diverged runs with their (chance-level) scores instead of dropping
            their pairs; runs without a value (e.g. ECE of a diverged run) still drop the pair.

    Returns:
        One ``Paired`` per column; with no configuration in common, ``values`` has zero
        configurations. Trials repeating a (configuration, seed) of an arm in another design
        are averaged (a deterministic trainer gives them the same values).
    """
    sub = rows[rows[ARM].isin(arms)]
    has_level = "level" in sub.columns
    sub = sub.assign(_div=sub["status"].eq("diverged").astype(float))
    if not has_level:
        sub = sub.assign(level=0)
    agg = {**{c: "mean" for c in columns}, "_div": "max", "level": "first"}
    wide = sub.groupby(["config_id", "seed", ARM], sort=True).agg(agg).unstack(ARM)
    present = set(wide.columns.get_level_values(1)) if not wide.empty else set()
    if wide.empty or any(a not in present for a in arms):
        return {c: _empty(arms, has_level) for c in columns}
    arm_list = list(arms)

    def block(field: str) -> np.ndarray:  # (P, K) for one field, arms in order
        idx = wide.columns.get_indexer([(field, a) for a in arm_list])
        return wide.iloc[:, idx].to_numpy()

    div_all = block("_div").astype(float)
    ran = ~np.isnan(div_all).any(axis=1)
    div = div_all[ran].T
    keys = wide.index[ran]
    configs = keys.get_level_values("config_id").to_numpy()
    levels_all = block("level")[ran, 0]
    out = {}
    for column in columns:
        values = block(column).astype(float)[ran]
        usable = np.isfinite(values).all(axis=1)
        if not score_diverged:
            usable &= ~(div.T > 0).any(axis=1)
        packed = _pack(arms, values[usable], configs[usable], levels_all[usable], has_level)
        out[column] = _with(packed, div, configs, int((~usable).sum()))
    return out


def _pack(
    arms: tuple[str, ...],
    values: np.ndarray,
    configs: np.ndarray,
    levels: np.ndarray,
    has_level: bool,
) -> Paired:
    """Pack usable pairs ``values`` ``(P, K)``, sorted by configuration, into ``(K, C, S)``."""
    ids, start, counts = np.unique(configs, return_index=True, return_counts=True)
    size = int(counts.max()) if counts.size else 0
    packed = np.full((len(arms), len(ids), size), np.nan)
    offset = np.arange(len(configs)) - np.repeat(start, counts)
    slot = np.repeat(np.arange(len(ids)), counts)
    packed[:, slot, offset] = values.T
    return Paired(
        arms=tuple(arms),
        values=packed,
        config_ids=ids,
        levels=np.asarray(levels[start], dtype=object) if has_level else None,
        diverged=np.zeros((len(arms), 0)),
        pair_configs=np.asarray([]),
        dropped=0,
    )


def _with(paired: Paired, diverged: np.ndarray, configs: np.ndarray, dropped: int) -> Paired:
    return Paired(
        paired.arms, paired.values, paired.config_ids, paired.levels, diverged, configs, dropped
    )


def _empty(arms: tuple[str, ...], has_level: bool) -> Paired:
    return Paired(
        arms=tuple(arms),
        values=np.full((len(arms), 0, 0), np.nan),
        config_ids=np.asarray([]),
        levels=np.asarray([], dtype=object) if has_level else None,
        diverged=np.zeros((len(arms), 0)),
        pair_configs=np.asarray([]),
        dropped=0,
    )
