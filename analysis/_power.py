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

import warnings
from collections.abc import Callable
from dataclasses import replace

import numpy as np
from scipy import special

from analysis._variance import Draws

POWER = 0.8
STEPS = 12  # bisections below the grid point that reaches POWER: 1/4096 of its bracket
MAX_DRAWS = 2000  # draws a power calculation uses (its Monte Carlo error is well below the
# power's own approximation; the verdict keeps all of them)


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


GRID = np.logspace(-3, 3, 25)  # the differences a power calculation tries, times its scale
FINE = 9  # then this many between the last grid point below 80% power and the first above


def _first_reaching(deltas: np.ndarray, power: np.ndarray, target: float = POWER) -> float:
    """The smallest ``delta`` whose power reaches ``target``: the first grid point that does,
    interpolated on log ``delta`` with the point before it (power need not grow beyond: where
    one method's statistic reaches 0, the other's relative precision bounds it); NaN when none
    does."""
    reached = np.flatnonzero(power >= target)
    if reached.size == 0:
        return float("nan")
    i = int(reached[0])
    if i == 0:
        return float(deltas[0])
    p0, p1 = float(power[i - 1]), float(power[i])
    t = (target - p0) / (p1 - p0) if p1 > p0 else 1.0
    return float(np.exp(np.log(deltas[i - 1]) + t * (np.log(deltas[i]) - np.log(deltas[i - 1]))))


def _first(draws: Draws, n: int) -> Draws:
    """The first ``n`` draws of ``draws`` (they are independent: any ``n`` will do)."""
    return replace(
        draws,
        quadratic=draws.quadratic[:, :n],
        linear=draws.linear[:, :n],
        constant=draws.constant[:, :n],
        seed=draws.seed[:, :n],
        noise_mean=draws.noise_mean[:n],
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
    pieces = [_first(d, MAX_DRAWS) for d in pieces]

    def differences(deltas: np.ndarray) -> list[np.ndarray]:
        """Per test, ``(G, B)`` draws of SSVI's SD minus dense VI's (or 0) in the worlds where
        SSVI's SD is ``base + delta``, one world per ``delta``."""
        arms = [np.clip(base + deltas, 0.0, None)]
        if not single:
            arms.append(np.full(deltas.shape, base))
        target = np.stack(arms, axis=1)  # (G, K)
        out = []
        for d in pieces:
            with np.errstate(divide="ignore", invalid="ignore"):
                if config:  # rescale the configuration spread (Draws.scale_for, config_var)
                    lam = np.sqrt(np.clip(target**2 + d.offset, 0.0, None) / d.observed)
                    lam = np.where(d.observed > 0, lam, 0.0)[..., None]
                    noise = d.constant - d.seed * d.noise_mean
                    var = lam**2 * d.quadratic + lam * d.linear + noise
                else:  # rescale the seed noise (Draws.seed_var)
                    observed = np.sqrt(np.clip(np.nanmean(d.seed, axis=1), 0.0, None))
                    rho = np.where(observed > 0, target / observed, 0.0)[..., None]
                    var = rho**2 * d.seed
            x = np.sqrt(np.clip(var, 0.0, None))  # (G, K, B)
            out.append(x[:, 0] - (0.0 if single else x[:, 1]))
        return out

    def powers(deltas: np.ndarray, sign: float, level: float) -> np.ndarray:
        diffs = differences(sign * deltas)
        # every test's draws must clear 0 at its tail; the observed seed noise moves them
        tail = level / 2 if sign > 0 else 1 - level / 2
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN world: no power
            quantile = [
                np.nanquantile(d, tail, axis=1) if np.isnan(d).any() else np.quantile(d, tail, 1)
                for d in diffs
            ]
            margin = np.min([sign * q for q in quantile], axis=0)
            noise = np.max([np.nanstd(d, axis=1) for d in diffs], axis=0)
        enough = np.min([(~np.isnan(d)).sum(1) for d in diffs], axis=0) >= 2
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.where(noise > 0, special.ndtr(margin / noise), (margin > 0).astype(float))
        p = np.where(enough & np.isfinite(margin), p, 0.0)
        if sign < 0:
            p = np.where(deltas > base, 0.0, p)  # SSVI's SD would be below 0
        return p

    def at(level: float) -> float:
        zero = differences(np.zeros(1))[fixed][0]
        scale = float(np.nanstd(zero)) or base or 1.0
        found = []
        for sign in (1.0,) if single else (1.0, -1.0):
            deltas = scale * GRID
            power = powers(deltas, sign, level)
            reached = np.flatnonzero(power >= POWER)
            if reached.size and reached[0] > 0:  # refine between the two grid points
                i = int(reached[0])
                deltas = np.geomspace(deltas[i - 1], deltas[i], FINE)
                power = powers(deltas, sign, level)
                power[0] = min(power[0], POWER - 1e-9)  # the point below, as on the grid
            found.append(_first_reaching(deltas, power))
        found = [x for x in found if x == x]
        return float(max(found)) if found else float("nan")

    return at
