"""The report's second process: every task gives its value once, wherever it ran."""

from __future__ import annotations

import os

import pytest

from analysis._background import SHARED, Background


def _square_where(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def _length(data: list[int], plus: int) -> int:
    return len(data) + plus


def _fails() -> None:
    raise ValueError("boom")


@pytest.mark.parametrize("parallel", [True, False])
def test_tasks_give_their_values_wherever_they_run(parallel: bool) -> None:
    background = Background(shared=list(range(5)), parallel=parallel)
    tasks = [background.submit(_square_where, i) for i in range(12)]
    shared = background.submit(_length, SHARED, plus=1)  # the worker's copy came by the fork
    results = [background.result(t) for t in tasks]
    assert [value for value, _ in results] == [i * i for i in range(12)]
    assert background.result(shared) == 6
    pids = {pid for _, pid in results}
    assert (len(pids - {os.getpid()}) == 1) == background.parallel  # the first went to the worker
    background.close()


def test_an_error_in_a_task_is_raised_where_its_result_is_needed() -> None:
    background = Background()
    failing = background.submit(_fails)
    fine = background.submit(_square_where, 3)
    with pytest.raises(ValueError, match="boom"):
        background.result(failing)
    assert background.result(fine)[0] == 9
    with pytest.raises(ValueError, match="boom"):
        background.close()
    background = Background()
    background.submit(_square_where, 2)
    background.abort()  # after an error elsewhere: nothing left to wait for
