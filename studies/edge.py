"""The ``edge`` design: where each method stops working along a shared knob.

The paper's robustness figure shows dense VI reaching a critical initial variance before the
sparse model does. A design that never leaves the region where both methods work cannot test
that, so this one goes and finds the edges, in rounds:

1. Round 1 probes the base configuration and one step (default 10x) out on each side of it.
2. Each later round steps further out on a log scale, in each direction, until the seed-averaged
   test accuracy of *both* methods has fallen below its *collapse* line, or the knob's hard bound
   (stated per preset) is reached; meanwhile every bracket of a crossing is bisected on the log
   scale until it spans at most ``resolution`` (default 2x).
3. Two failure lines per method: *collapse*, half-way between the method's value at the base
   configuration and chance (the critical threshold of the paper's figure), and *tolerance*,
   ``delta`` below its base value. A diverged run counts as failed (scored at chance).

Every value probed for either method runs for both methods and every seed, so the pairing holds
everywhere; rows look like one-at-a-time rows (``design == "edge"``, ``oat_param`` = the knob).
One-at-a-time rows of the same knob that the study already has (the ``oat`` design) are points of
the same curve and are used instead of being run again.

The values of round r are a function of the rows of the static designs and of rounds < r only,
so a resumed study replays the rounds from its table and chooses the same values: nothing that
finished runs again and nothing changes. The search runs on test accuracy because the working
range it maps is the analysis's (analysis.working_ranges, on test accuracy); it selects no model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from studies.planning import Plan

METRIC = "test_accuracy"  # what the failure lines are drawn on
LINES = ("collapse", "tolerance")
DESIGN = "edge"
ONE_AT_A_TIME = ("oat", DESIGN)  # designs whose rows are points of a knob's curve
MAX_ROUNDS = 16  # a safety stop: the bound below ends every search well before
DENSE, SSVI = "dense_vi", "ssvi"


@dataclass(frozen=True)
class EdgeSettings:
    """What the edge search probes: the knobs, their hard bounds, the step and the stop rules."""

    knobs: tuple[str, ...]
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)  # knob -> (lo, hi)
    step: float = 10.0  # multiplicative step outward from the base value
    delta: float = 0.02  # the tolerance line: this far (accuracy, fraction) below the base value
    resolution: float = 2.0  # bisect until every edge is bracketed within this factor

    def to_dict(self) -> dict[str, Any]:
        return {
            "knobs": list(self.knobs),
            "bounds": {k: list(self.bounds[k]) for k in self.knobs},
            "step": self.step,
            "delta": self.delta,
            "resolution": self.resolution,
        }


def round_value(value: float) -> float:
    """Three significant digits: probed values stay readable and identical across replays."""
    return float(f"{value:.3g}")


def failure_lines(base: float, chance: float, delta: float) -> dict[str, float]:
    """The collapse and tolerance lines of a method whose seed-averaged base value is ``base``."""
    return {"collapse": (base + chance) / 2.0, "tolerance": base - delta}


# ---- the means the search reads ------------------------------------------------------------
def knob_means(
    rows: Iterable[dict[str, Any]], knob: str, base_value: float, seeds: int, density: float
) -> dict[float, dict[str, float] | None]:
    """Seed-averaged test accuracy per probed value of ``knob`` and method.

    Reads one-at-a-time rows (designs oat and edge) of the knob and of the base configuration.
    SSVI rows count at ``density`` only. A diverged seed counts at chance; a value is known (a
    dict) when both methods have a finished row for ``seeds`` seeds, and ``None`` when it was
    probed but is incomplete (an errored trial): the search never walks past such a value.
    """
    seen: dict[float, dict[str, dict[int, float]]] = {}
    for row in rows:
        if row.get("design") not in ONE_AT_A_TIME:
            continue
        if row.get("method") == SSVI and not math.isclose(float(row["density"]), density):
            continue
        if row.get("oat_param") == "base":
            value = round_value(base_value)
        elif row.get("oat_param") == knob:
            value = round_value(float(row[knob]))
        else:
            continue
        score = _score(row)
        per_method = seen.setdefault(value, {DENSE: {}, SSVI: {}})
        if score is not None and row.get("method") in per_method:
            per_method[row["method"]][int(row["seed"])] = score
    means: dict[float, dict[str, float] | None] = {}
    for value, per_method in seen.items():
        complete = all(len(per_method[m]) >= seeds for m in (DENSE, SSVI))
        means[value] = (
            {m: sum(per_method[m].values()) / len(per_method[m]) for m in (DENSE, SSVI)}
            if complete
            else None
        )
    return means


def _score(row: dict[str, Any]) -> float | None:
    chance = 1.0 / float(row.get("num_classes") or 10)
    if row.get("status") == "diverged":
        return chance
    if row.get("status") != "completed":
        return None
    value = row.get(METRIC)
    if value is None or not math.isfinite(float(value)):
        return chance  # a finished run with no accuracy has failed
    return float(value)


# ---- the search ----------------------------------------------------------------------------
def next_values(
    means: dict[float, dict[str, float] | None],
    base_value: float,
    bounds: tuple[float, float],
    chance: float,
    settings: EdgeSettings,
) -> list[float]:
    """The values of ``knob`` the next round probes, given what is known (see the module doc).

    ``means``: :func:`knob_means`. Returns values never probed before, sorted; empty when the
    search of this knob has ended.
    """
    base = round_value(base_value)
    lo, hi = bounds
    wanted: set[float] = set()
    if base not in means:
        wanted.add(base)
    if means.get(base) is None:  # the lines need the base value: step out meanwhile
        for direction in (+1, -1):
            outer = _step(base, direction, settings.step, lo, hi)
            if outer is not None:
                wanted.add(outer)
        return _new(wanted, means)
    base_means = means[base]
    assert base_means is not None
    for direction in (+1, -1):
        walk = _outward(means, base, direction)
        collapsed_all = True
        for method in (DENSE, SSVI):
            lines = failure_lines(base_means[method], chance, settings.delta)
            for line in LINES:
                bracket = _first_crossing(walk, base, method, lines[line])
                if bracket is None:
                    if line == "collapse":
                        collapsed_all = False
                    continue
                inner, outer = bracket
                if max(inner, outer) / min(inner, outer) > settings.resolution * (1 + 1e-9):
                    wanted.add(round_value(math.sqrt(inner * outer)))
        if not collapsed_all:
            last = walk[-1][0] if walk else base
            # an unknown (errored) value ends the walk: no stepping past it
            if len(walk) == len(_outward(means, base, direction, known=False)):
                outer_value = _step(last, direction, settings.step, lo, hi)
                if outer_value is not None:
                    wanted.add(outer_value)
    return _new(wanted, means)


def _new(wanted: set[float], means: dict[float, Any]) -> list[float]:
    return sorted(v for v in wanted if v not in means)


def _step(value: float, direction: int, step: float, lo: float, hi: float) -> float | None:
    """One step outward from ``value``, clamped to the bound; None at the bound."""
    if (direction > 0 and value >= hi) or (direction < 0 and value <= lo):
        return None
    target = value * step if direction > 0 else value / step
    return round_value(min(target, hi) if direction > 0 else max(target, lo))


def _outward(
    means: dict[float, dict[str, float] | None], base: float, direction: int, known: bool = True
) -> list[tuple[float, dict[str, float]]]:
    """Known values on one side of the base, nearest first, up to the first unknown one."""
    side = sorted((v for v in means if (v - base) * direction > 0), key=lambda v: abs(v - base))
    walk: list[tuple[float, dict[str, float]]] = []
    for value in side:
        point = means[value]
        if point is None:
            if known:
                break
            walk.append((value, {}))
            continue
        walk.append((value, point))
    return walk


def _first_crossing(
    walk: list[tuple[float, dict[str, float]]], base: float, method: str, line: float
) -> tuple[float, float] | None:
    """(last value above the line, first value below it), walking out from the base."""
    inner = base
    for value, point in walk:
        if point[method] < line:
            return inner, value
        inner = value
    return None


# ---- how many trials it can take -------------------------------------------------------------
def max_values(base_value: float, bounds: tuple[float, float], settings: EdgeSettings) -> int:
    """The most values one knob's search can probe (the base included): every step to both
    bounds, plus the bisections of a bracket per method, line and direction."""
    base, (lo, hi) = round_value(base_value), bounds
    steps = 0
    for direction in (+1, -1):
        value: float | None = base
        while value is not None:
            value = _step(value, direction, settings.step, lo, hi)
            steps += value is not None
    if settings.step <= settings.resolution:
        bisections = 0
    else:
        bisections = math.ceil(math.log2(math.log(settings.step) / math.log(settings.resolution)))
    return 1 + steps + 2 * 2 * len(LINES) * bisections


def cap_values(proposed: list[float], base: float, probed: int, limit: int) -> list[float]:
    """At most ``limit`` values per knob in all (a non-monotone curve can open new brackets): the
    ones nearest the base (on the log scale) first, deterministically."""
    nearest = sorted(proposed, key=lambda v: (abs(math.log(v / base)), v))
    return sorted(nearest[: max(0, limit - probed)])


# ---- rounds ----------------------------------------------------------------------------------
@dataclass
class Replay:
    """The rounds chosen so far: which edge rows a round's decision may read."""

    values: dict[str, set[float]] = field(default_factory=dict)  # knob -> values chosen
    base: bool = False  # whether a round chose the base configuration itself

    def visible(self, row: dict[str, Any]) -> bool:
        if row.get("design") != DESIGN:
            return True
        knob = row.get("oat_param", "")
        if knob == "base":
            return self.base
        return round_value(float(row[knob])) in self.values.get(knob, set())


def round_trials(
    rows: list[dict[str, Any]],
    replay: Replay,
    preset: Any,
    base: dict[str, Any],
    settings: EdgeSettings,
    chance: float,
) -> list[dict[str, Any]]:
    """The trials of the next round (empty: the search has ended), and ``replay`` updated.

    ``rows``: the study's table as records; only rows of the static designs and of earlier rounds
    (``replay``) are read, so that a resumed study chooses the same values again.
    """
    from studies.designs import _expand

    visible = [r for r in rows if replay.visible(r)]
    seeds = len(preset.seeds)
    arms = [preset.densities[0], 1.0]  # the paired operating point: SSVI's density, dense VI
    trials: list[dict[str, Any]] = []
    chosen: dict[str, list[float]] = {}
    need_base = False
    for knob in settings.knobs:
        means = knob_means(visible, knob, base[knob], seeds, arms[0])
        bounds = settings.bounds[knob]
        values = next_values(means, base[knob], bounds, chance, settings)
        limit = max_values(base[knob], bounds, settings)
        values = cap_values(values, round_value(base[knob]), len(means), limit)
        if round_value(base[knob]) in values:
            values.remove(round_value(base[knob]))
            need_base = not replay.base
        chosen[knob] = values
    if need_base:
        trials += _keyed(_expand(DESIGN, preset, base, {}, "base", densities=arms), "base")
        replay.base = True
    for knob, values in chosen.items():
        for value in values:
            point = {knob: value}
            part = _expand(DESIGN, preset, base, point, knob, densities=arms)
            trials += _keyed(part, f"{knob}-{value:.3g}")
        replay.values.setdefault(knob, set()).update(values)
    return trials


def _keyed(trials: list[dict[str, Any]], tag: str) -> list[dict[str, Any]]:
    """Trial keys that name the value, so that a replayed round has the same keys."""
    for t in trials:
        t["trial_key"] = f"{DESIGN}-{tag}-{t['method']}-s{t['run']['seed']}"
    return trials


def max_trials(preset: Any, base: dict[str, Any], settings: EdgeSettings) -> int:
    """The most trials the edge design can take (what --dry-run states)."""
    values = 1 + sum(max_values(base[k], settings.bounds[k], settings) - 1 for k in settings.knobs)
    return values * 2 * len(preset.seeds)


def run_rounds(p: Plan, run_round: Callable[[str, list[dict[str, Any]]], None]) -> None:
    """Run the rounds of the study ``p`` (studies.planning) after its static designs.

    ``run_round(experiment_name, trials)`` runs (or restores) one round as a Tune experiment.
    A round's values follow from the rows before it, so a resumed study replays the rounds from
    its table, skips those whose trials all finished and restores the one that did not.
    """
    from ssvi.data import DATASET_INFO
    from studies.console import stop_requested
    from studies.results import FINISHED, read_table

    assert p.edge is not None, "the plan has no edge design"
    chance = 1.0 / DATASET_INFO[p.base["dataset"]].num_classes
    replay = Replay()
    for r in range(1, MAX_ROUNDS + 1):
        table = read_table(p.folder)
        rows = [] if table is None else table.to_dict("records")
        trials = round_trials(rows, replay, p.preset, p.base, p.edge, chance)
        if not trials:
            return
        done = {row["trial_id"] for row in rows if row["status"] in FINISHED}
        if all(t["trial_key"] in done for t in trials):
            continue
        if stop_requested():  # Ctrl-C as the previous round ended
            raise KeyboardInterrupt
        run_round(f"{p.name}-edge{r}", trials)
