"""When the subspace is updated and how much of it is exchanged."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class CosineDropSchedule:
    """zeta_t = alpha / 2 * (1 + cos(pi t / T_end)), updates every ``update_interval`` steps.

    Updates happen after steps t = k * update_interval (k >= 1) while t < T_end; the mask is frozen
    afterwards. ``t_end`` is the absolute step T_end (t_end fraction x total steps).
    """

    alpha: float
    update_interval: int
    t_end: int

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha}")
        if self.update_interval < 1:
            raise ValueError(f"update_interval must be >= 1, got {self.update_interval}")

    def drop_fraction(self, step: int) -> float:
        return (
            self.alpha / 2.0 * (1.0 + math.cos(math.pi * step / self.t_end)) if self.t_end else 0.0
        )

    def is_update_step(self, step: int) -> bool:
        return step > 0 and step % self.update_interval == 0 and step < self.t_end

    def steps_to_next_update(self, step: int) -> int | None:
        """Steps from ``step`` to the next update (0 if ``step`` is one); None if none is left."""
        nxt = max(1, math.ceil(step / self.update_interval)) * self.update_interval
        return nxt - step if nxt < self.t_end else None
