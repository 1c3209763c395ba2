"""What a study prints while it runs: one progress line, updated in place on a terminal or printed
every ``every`` seconds otherwise, and a short summary at the end. Tune's own tables only with
``--verbose``."""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from ray import tune

from studies.table import Trials, trial_of


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s" if m else f"{s}s"


class Progress(tune.Callback):
    """Trials done, running, pending and errored; elapsed time; ETA; best validation accuracy
    so far per method (of finished trials)."""

    def __init__(
        self, name: str, total: int, every: float = 10.0, trials: Trials | None = None
    ) -> None:
        self.name, self.total, self.every, self.trials = name, total, every, trials
        self.setup()

    # -- Tune's hooks ---------------------------------------------------------------------
    def setup(
        self, stop: Any = None, num_samples: Any = None, total_num_samples: Any = None, **info: Any
    ) -> None:
        # called when the experiment starts, also when Tuner.restore brings this callback back
        # from the pickle of an interrupted study: times and counts are this invocation's
        self.start = time.monotonic()
        self.last = -math.inf
        self.counts = {"done": 0, "running": 0, "pending": self.total, "errored": 0}
        self.best: dict[str, float] = {}
        self.finished_here = 0  # trials that ended in this invocation (for the ETA)
        self.ended: set[str] = set()

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._ended(trial)
        result = trial.last_result or {}
        try:
            method = trial_of(trial.config or {}, self.trials).get("method", "?")
        except (KeyError, TypeError):
            method = "?"
        value = result.get("val_accuracy")
        if isinstance(value, int | float) and math.isfinite(value):
            self.best[method] = max(self.best.get(method, -math.inf), float(value))

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._ended(trial)

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        now = time.monotonic()
        if now - self.last >= (1.0 if self.stream.isatty() else self.every):
            self.last = now
            self._count(trials)  # O(trials): only when printing, not at every step of Tune's loop
            self._print(self.line(), final=False)

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        self._count(trials)
        self._print(self.line(), final=True)

    # -- text ---------------------------------------------------------------------------
    def _ended(self, trial: Any) -> None:
        if trial.trial_id not in self.ended:
            self.ended.add(trial.trial_id)
            self.finished_here += 1

    def _count(self, trials: list) -> None:
        statuses = [t.status for t in trials]
        errored = statuses.count("ERROR")
        # ended: a final result, or ended here (ASHA); Tune also marks as TERMINATED the trials
        # it never ran when the study is interrupted, which are not done
        done = sum(
            t.status == "TERMINATED"
            and (bool((t.last_result or {}).get("final")) or t.trial_id in self.ended)
            for t in trials
        )
        running = statuses.count("RUNNING")
        self.counts = {
            "done": done,
            "running": running,
            "pending": max(self.total - done - errored - running, 0),
            "errored": errored,
        }

    def eta(self) -> float:
        """Seconds left at this invocation's pace (NaN before the first trial ends)."""
        left = self.counts["pending"] + self.counts["running"]
        if not left:
            return 0.0
        if not self.finished_here:
            return math.nan
        return (time.monotonic() - self.start) / self.finished_here * left

    def line(self) -> str:
        c = self.counts
        best = ", ".join(
            f"{m.replace('dense_vi', 'dense VI').replace('ssvi', 'SSVI')} {v:.3f}"
            for m, v in sorted(self.best.items())
        )
        parts = [
            f"{self.name}: {c['done']}/{self.total} done, {c['running']} running, "
            f"{c['pending']} pending, {c['errored']} errored",
            f"elapsed {_duration(time.monotonic() - self.start)}",
            f"ETA {_duration(self.eta())}",
        ]
        if best:
            parts.append(f"best val accuracy {best}")
        return " | ".join(parts)

    @property
    def stream(self) -> TextIO:
        return sys.stdout  # looked up when printing: the callback is pickled with the experiment

    def _print(self, text: str, final: bool) -> None:
        if self.stream.isatty():
            self.stream.write("\r\033[K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


# ---- Ctrl-C -------------------------------------------------------------------------------
# Module state, not callback state: Tuner.restore brings callbacks back from their pickle.
_STOP = threading.Event()


def catch_ctrl_c() -> Callable[[], None]:
    """Handle SIGINT for a whole study: the first Ctrl-C stops it after the running Tune
    experiment has ended gracefully (StopOnCtrlC forwards it as SIGUSR1, Tune's own stop signal);
    a second one stops at once. Tune's own SIGINT handler would be lost between the experiments
    of a large study. Returns the function that restores the previous handlers."""
    _STOP.clear()
    previous_env = os.environ.get("TUNE_DISABLE_SIGINT_HANDLER")
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    previous = signal.signal(signal.SIGINT, _on_sigint)
    # SIGUSR1's default action ends the process: ignored outside Tune's runs (which handle it)
    previous_usr1 = signal.signal(signal.SIGUSR1, signal.SIG_IGN)

    def restore() -> None:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGUSR1, previous_usr1)
        if previous_env is None:
            os.environ.pop("TUNE_DISABLE_SIGINT_HANDLER", None)
        else:
            os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = previous_env

    return restore


def stop_requested() -> bool:
    """Whether Ctrl-C was pressed since :func:`catch_ctrl_c`."""
    return _STOP.is_set()


def _on_sigint(sig: int, frame: Any) -> None:
    if _STOP.is_set():
        raise KeyboardInterrupt
    _STOP.set()


class StopOnCtrlC(tune.Callback):
    """Ends the running experiment when Ctrl-C was pressed, as Tune's own SIGINT handler would:
    Tune's loop stops, trials that ended are kept, the experiment state is saved."""

    def setup(
        self, stop: Any = None, num_samples: Any = None, total_num_samples: Any = None, **info: Any
    ) -> None:
        self.sent = False

    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        if _STOP.is_set() and not getattr(self, "sent", False):
            self.sent = True
            os.kill(os.getpid(), signal.SIGUSR1)  # Tune's handler for this run sets its stop flag
