"""``detectable``: the smallest difference a verdict's test finds with 80% power, computed under
the alternative (issue 21, item 2).

- The divergence row: the exact McNemar test's power over the discordant pairs, the method that
  diverged less often alone keeping its observed rate and the other ``delta`` more. Half the
  observed interval claimed 8.5 points with 75 pairs and no divergence, where this test needs
  about 13.
- The configuration-SD and seed-SD rows (``spread_power``): the bootstrap's own draws, rescaled
  (``_variance.Draws``) to a world where SSVI's SD is dense VI's plus or minus ``delta`` (or
  ``delta`` against 0, for a knob dense VI lacks), stand for what each of the verdict's tests
  would draw there. A test rejects when its draws' ``level / 2`` tail clears 0; the estimate a
  study observes moves the draws, by its own sampling error, which the largest spread of those
  draws stands for. Power is ``Phi(m / s)``: ``m`` the smallest margin between 0 and a test's
  tail, ``s`` that spread. The tail (not a normal approximation of the whole) matters: a cluster
  bootstrap over a few configurations that carry the spread has a long tail toward 0 (resamples
  without them), which decides the test. Half the observed interval was computed under the null,
  where the interval is narrower than under the alternative: at its value the power was 74% on
  the local design and about 52% on the mnist1d design, not 80%. With this calculation
  (``tests/analysis/test_analysis_power.py``, 100 simulated studies at the null studies' median
  ``detectable``): 90% and 85% on the local design, 76% and 77% on the mnist1d design (2 seeds,
  15 paired configurations; a binomial test does not reject 80% at the 1% level).

``detectable`` is the smallest ``delta`` with power ``POWER`` at the family's most stringent Holm
level (``alpha / m``), the larger of the two directions. Where dense VI's SD is too small for
SSVI's to fall detectably below it (SSVI's SD cannot go below 0), it is the increase's alone;
NaN when neither direction reaches ``POWER``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import special

from analysis._variance import Draws, sd

POWER = 0.8
STEPS = 20


def _solve(power: Callable[[float], float], scale: float, target: float = POWER) -> float:
    """The smallest ``delta`` with ``power(delta) >= target``: the first point of a geometric
    grid from ``scale / 1000`` to ``1000 scale`` that reaches it, then bisection below it (power
    need not grow beyond: where one method's statistic reaches 0, the other's relative
    precision bounds it). NaN when no difference on the grid reaches it."""
    if not np.isfinite(scale) or scale <= 0:
        scale = 1.0
    grid = scale * np.logspace(-3, 3, 19)
    low = 0.0
    for high in grid:
        if power(float(high)) >= target:
            break
        low = float(high)
    else:
        return float("nan")
    high = float(high)
    for _ in range(STEPS):
        mid = (low + high) / 2
        low, high = (mid, high) if power(mid) < target else (low, mid)
    return high


def divergence_power(n: int, b: int, c: int) -> Callable[[float], float]:
    """``level -> detectable`` rate difference of the exact McNemar test over ``n`` pairs."""
    base = min(b, c) / n if n else 0.0

    def at(level: float) -> float:
        if n == 0:
            return float("nan")
        k = np.arange(n + 1)
        crit = _critical(k, level)  # largest count of the rarer discordance that rejects

        def power(delta: float) -> float:
            p_low, p_high = base, base + delta
            if p_low + p_high > 1:
                return 1.0
            total = p_low + p_high
            if total <= 0:
                return 0.0
            log_pk = _log_binom_pmf(k, n, total)
            share = p_low / total
            ok = crit >= 0
            reject = np.zeros(n + 1)
            # min(b, c) <= crit: either count small enough (disjoint when crit < k / 2)
            reject[ok] = special.bdtr(crit[ok], k[ok], share) + special.bdtr(
                crit[ok], k[ok], 1 - share
            )
            return float(np.sum(np.exp(log_pk) * np.clip(reject, 0, 1)))

        return _solve(power, 0.1)

    return at


def _critical(k: np.ndarray, level: float) -> np.ndarray:
    """Per total ``k``: the largest ``j < k / 2`` with exact two-sided McNemar p
    ``2 P(Bin(k, 1/2) <= j) < level``; -1 when none."""
    kf = k.astype(float)
    with np.errstate(invalid="ignore"):
        guess = np.floor(np.nan_to_num(special.bdtrik(level / 2, kf, 0.5), nan=-1.0))
    j = np.clip(guess + 2, -1, np.ceil(kf / 2) - 1)
    for _ in range(k.size + 2):
        bad = (j >= 0) & ((2 * special.bdtr(np.maximum(j, 0), k, 0.5) >= level) | (2 * j >= kf))
        if not bad.any():
            break
        j = np.where(bad, j - 1, j)
    return j.astype(int)


def _log_binom_pmf(k: np.ndarray, n: int, p: float) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return (
            special.gammaln(n + 1)
            - special.gammaln(k + 1)
            - special.gammaln(n - k + 1)
            + special.xlogy(k, p)
            + special.xlog1py(n - k, -p)
        )


def spread_power(
    pieces: list[Draws], statistic: str, dense: float | None, fixed: int = 0
) -> Callable[[float], float]:
    """``level -> detectable`` difference of SDs for a test decided on ``pieces`` (module
    docstring). ``statistic``: ``config_sd`` or ``seed_sd``; ``dense``: dense VI's estimated SD,
    the alternative's other arm (None: SSVI against 0, a knob dense VI lacks); ``fixed``: the
    index of the seeds-only piece, whose spread is the estimate's seed noise."""
    config = statistic == "config_sd"
    single = dense is None
    base = 0.0 if dense is None or dense != dense else float(dense)

    def sds(draws: Draws, target: np.ndarray) -> np.ndarray:
        """``(K, B)`` SDs drawn in the world whose SDs are ``target``."""
        if config:
            return sd(draws.config_var(scale=draws.scale_for(target**2)))
        observed = np.sqrt(np.clip(np.nanmean(draws.seed, axis=1), 0.0, None))
        with np.errstate(divide="ignore", invalid="ignore"):
            rho = np.where(observed > 0, target / observed, 0.0)
        return np.sqrt(np.clip(draws.seed_var(rho), 0.0, None))

    def differences(delta: float) -> list[np.ndarray]:
        target = np.array([max(base + delta, 0.0)] + ([] if single else [base]))
        out = []
        for draws in pieces:
            x = sds(draws, target)
            d = x[0] - (0.0 if single else x[1])
            out.append(d[~np.isnan(d)])
        return out

    def at(level: float) -> float:
        def power(delta: float, sign: float) -> float:
            if sign < 0 and delta > base:
                return 0.0  # SSVI's SD would be below 0
            diffs = differences(sign * delta)
            if any(d.size < 2 for d in diffs):
                return 0.0
            # every test's draws must clear 0 at its tail; the observed seed noise moves them
            tail = level / 2 if sign > 0 else 1 - level / 2
            margin = min(sign * float(np.quantile(d, tail)) for d in diffs)
            noise = max(float(np.std(d)) for d in diffs)
            if noise == 0:
                return float(margin > 0)
            return float(special.ndtr(margin / noise))

        scale = float(np.std(differences(0.0)[fixed])) or base or 1.0
        more = _solve(lambda x: power(x, 1.0), scale)
        if single:
            return more
        less = _solve(lambda x: power(x, -1.0), scale)
        found = [x for x in (more, less) if x == x]
        return float(max(found)) if found else float("nan")

    return at
