"""What a planned study can detect: the smallest SSVI/dense VI ratio of configuration SDs.

The analysis (analysis._verdicts) estimates each method's configuration variance as the variance
of its seed-averaged configuration means minus the seed variance over the number of seeds, and
calls SSVI less (more) sensitive when the difference of the two estimates is clear of zero after
Holm's correction over the headline's verdicts. With the configurations fixed and seed noise of
variance ``s2`` (``n`` seeds, ``C`` configurations), that estimate has the variance

    Var(V_hat) = [2 (s2/n)^2 + 4 V s2/n] / (C - 1) + 2 s2^2 / (n^2 C (n - 1))

(a noncentral chi-square between configurations, a chi-square within), so a ratio ``r`` of
configuration SDs is detected with 80% probability when ``|V_D (1 - r^2)|`` exceeds
``(z_{alpha/2m} + z_0.8)`` standard errors of the difference. This is a planning figure under a
stated noise assumption: the verdict also resamples the configurations, which costs a little
power when a few configurations carry the spread.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def estimate_variance(config_var: float, seed_sd: float, n_configs: int, n_seeds: int) -> float:
    """Variance of the configuration-variance estimate, configurations fixed (see above)."""
    a = seed_sd**2 / n_seeds
    between = (2 * a * a + 4 * config_var * a) / (n_configs - 1)
    within = 2 * seed_sd**4 / (n_seeds**2 * n_configs * (n_seeds - 1))
    return between + within


def detectable_ratios(
    n_configs: int,
    n_seeds: int,
    seed_sd: float,
    config_sd: float,
    tests: int,
    alpha: float = 0.05,
    power: float = 0.8,
) -> tuple[float, float]:
    """The SSVI/dense VI ratios of configuration SDs detected with probability ``power``.

    Returns:
        ``(below, above)``: SSVI is found *less* sensitive when its ratio is under ``below``,
        *more* sensitive when over ``above``; NaN when the design has no seed or configuration
        to spare (fewer than 2 of either).
    """
    if n_configs < 2 or n_seeds < 2 or config_sd <= 0:
        return float("nan"), float("nan")
    z = NormalDist().inv_cdf(1 - alpha / (2 * tests)) + NormalDist().inv_cdf(power)
    dense = config_sd**2

    def margin(r: float) -> float:
        se = math.sqrt(
            estimate_variance(r * r * dense, seed_sd, n_configs, n_seeds)
            + estimate_variance(dense, seed_sd, n_configs, n_seeds)
        )
        return abs(dense * (1 - r * r)) - z * se

    def crossing(lo: float, hi: float) -> float:  # margin(lo) > 0 >= margin(hi), or vice versa
        for _ in range(60):
            mid = (lo + hi) / 2
            if (margin(mid) > 0) == (margin(lo) > 0):
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2

    below = crossing(0.0, 1.0) if margin(0.0) > 0 else float("nan")
    above = crossing(1.0, 100.0) if margin(100.0) > 0 else float("nan")
    return below, above


def power_lines(
    n_configs: int, n_seeds: int, seed_sd: float, config_sd: float, tests: int
) -> list[str]:
    """The dry run's statement of what the planned design can detect."""
    below, above = detectable_ratios(n_configs, n_seeds, seed_sd, config_sd, tests)
    assumption = (
        f"assuming a test-accuracy seed SD of {seed_sd * 100:.2g} points and a configuration SD "
        f"of {config_sd * 100:.2g} points (the preset's assumption)"
    )
    if below != below:
        return [f"power: no verdict possible ({n_configs} paired configurations, {n_seeds} seeds)"]
    return [
        f"power: {n_configs} paired configurations x {n_seeds} seeds, Holm over {tests} "
        f"headline verdicts, {assumption}:",
        f"  SSVI is found less sensitive (80% of the time) if its configuration SD is below "
        f"{below:.2f}x dense VI's (a difference of {config_sd * (1 - below) * 100:.2g} points), "
        f"more sensitive if above {above:.2f}x",
        "  (seed noise only, so optimistic: the verdict also resamples the configurations; on "
        "simulated local studies this formula said 0.91x where 0.80x was found 80% of the time)",
    ]


# ---- the check by simulation: the planned trials, analysed by the real verdicts ----------
def planned_rows(trials: list[dict[str, Any]]) -> pd.DataFrame:
    """The static designs' trials as results rows, metrics to come (the table analysis reads)."""
    from ssvi.config import make_config
    from studies.results import make_row, to_frame

    rows = []
    for i, trial in enumerate(trials):
        run = make_config(trial["run"]).to_dict()
        row = make_row(trial, run, "completed", {}, study="planned", trial_id=f"t{i:05d}",
                       epochs_completed=int(run["epochs"]))  # fmt: skip
        rows.append(row)
    return to_frame(rows)


def simulated_lines(
    trials: list[dict[str, Any]], seed_sd: float, config_sd: float, sims: int
) -> list[str]:
    """The dry run's simulated power: the planned trials go to ``python -m analysis.power`` as
    a results table (data flows from studies to analysis through the table, never an import)."""
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/planned.csv"
        planned_rows(trials).to_csv(path, index=False)
        command = [sys.executable, "-m", "analysis.power", path, "--seed-sd", str(seed_sd),
                   "--config-sd", str(config_sd), "--sims", str(sims)]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return [f"  (no simulated power: python -m analysis.power failed: {why})"]
    return [f"  {line}" for line in done.stdout.strip().splitlines()]
