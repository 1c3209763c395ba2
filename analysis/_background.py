"""A second process for the report's independent work: the caller and a forked worker share it.

The report draws its figures in matplotlib (tenths of a second to lay out and save each) and
computes statistics that do not depend on each other (the two verdict tables, the tuning
curves, the importance of each metric). On two cores, one forked worker takes tasks from a
queue while the caller works; when the caller needs a result the worker has not started, it
computes it itself, and while it waits for one the worker is computing, it takes other queued
tasks. So the work is shared whatever the size of the table, and nothing is computed twice.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from analysis._style import save_figure


class _Shared:
    """Stands for the ``shared`` object in a task's arguments (the worker has its own copy)."""


SHARED = _Shared()
_shared: Any = None  # the worker's copy, set when it starts


class Task:
    """A queued call; ``Background.result`` gives its value."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]):
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.future: Future[Any] | None = None  # set when the worker takes it
        self.done = False
        self.value: Any = None
        self.error: BaseException | None = None


class Background:
    """Runs tasks in a forked worker and in the caller, whichever is free first.

    ``shared`` (the prepared results table) reaches the worker by the fork, not by pickling:
    a task names it with ``SHARED``. Forking a process that runs other Python threads (Ray's, a
    notebook's) can deadlock, so then, as where forking is not possible, every task runs in
    the caller when it is submitted. ``close()`` finishes every task, re-raising an error.
    """

    def __init__(self, shared: Any = None, parallel: bool = True) -> None:
        self.shared = shared
        self._pool: Any = None
        self._queue: deque[Task] = deque()
        self._tasks: list[Task] = []
        self._busy: Task | None = None
        self._lock = threading.RLock()
        self._blas: Any = None
        alone = threading.active_count() == 1
        if parallel and alone and (os.cpu_count() or 1) > 1 and sys.platform == "linux":
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            try:
                context = multiprocessing.get_context("fork")
                self._pool = ProcessPoolExecutor(
                    max_workers=1, mp_context=context, initializer=_start, initargs=(shared,)
                )
            except (ValueError, OSError):
                self._pool = None
        if self._pool is not None:
            # the two processes use the cores: a BLAS thread pool per process would only make
            # them wait on each other (OpenBLAS threads spin), 3x slower matrix products
            self._blas = _one_blas_thread()

    @property
    def parallel(self) -> bool:
        """Whether a worker process takes tasks."""
        return self._pool is not None

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Task:
        """Queue ``fn(*args, **kwargs)`` (``SHARED`` in ``args`` stands for ``shared``)."""
        task = Task(fn, args, kwargs)
        self._tasks.append(task)
        if self._pool is None:
            self._run_here(task)
            return task
        with self._lock:
            self._queue.append(task)
            self._feed()
        return task

    def result(self, task: Task) -> Any:
        """The task's value (computed here if the worker has not taken it yet)."""
        with self._lock:
            mine = task.future is None and not task.done
            if mine:
                self._queue.remove(task)
        if mine:
            self._run_here(task)
        while task.future is not None and not task.future.done():
            other = self._take()  # help instead of waiting
            if other is None:
                break
            self._run_here(other)
        if task.future is not None:
            return task.future.result()
        if task.error is not None:
            raise task.error
        return task.value

    def close(self) -> None:
        """Finish every task (re-raising the first error) and stop the worker."""
        try:
            for task in list(self._tasks):
                self.result(task)
        finally:
            self._stop()

    def abort(self) -> None:
        """Drop the tasks not started and stop the worker (after an error elsewhere)."""
        with self._lock:
            self._queue.clear()
        self._stop()

    # ---- internals --------------------------------------------------------------------------
    def _stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
        if self._blas is not None:
            self._blas.restore_original_limits()
        self._tasks, self._queue, self._blas = [], deque(), None

    def _feed(self) -> None:
        """Hand the worker the oldest queued task when it has none (lock held)."""
        if self._busy is None and self._queue:
            task = self._queue.popleft()
            self._busy = task
            task.future = self._pool.submit(_call, task.fn, task.args, task.kwargs)
            task.future.add_done_callback(self._finished)

    def _finished(self, _future: Future[Any]) -> None:
        with self._lock:
            self._busy = None
            self._feed()

    def _take(self) -> Task | None:
        """The newest queued task, for the caller (the worker takes the oldest)."""
        with self._lock:
            return self._queue.pop() if self._queue else None

    def _run_here(self, task: Task) -> None:
        args = tuple(self.shared if isinstance(a, _Shared) else a for a in task.args)
        try:
            task.value = task.fn(*args, **task.kwargs)
        except Exception as error:  # raised by result()
            task.error = error
        task.done = True


def _one_blas_thread() -> Any:
    """Limit BLAS to one thread in this process (and the worker forked from it); the limiter,
    whose ``restore_original_limits()`` undoes it, or None without threadpoolctl (a dependency
    of scikit-learn, itself one of ssvi's)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=1, user_api="blas")


def _start(shared: Any) -> None:
    global _shared
    _shared = shared


def _call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return fn(*(_shared if isinstance(a, _Shared) else a for a in args), **kwargs)


def draw_figure(
    path: Path, formats: tuple[str, ...], plot: Callable[..., Figure], *args: Any, **kwargs: Any
) -> None:
    """Draw ``plot(*args, **kwargs)`` and save it as ``path`` in ``formats`` (a task: the
    figure is made where it is saved, so it is never pickled)."""
    save_figure(plot(*args, **kwargs), path, formats)
