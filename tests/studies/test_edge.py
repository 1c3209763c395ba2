"""The edge design's search, offline: simulated accuracy curves with known edges stand in for
trials; the rounds, brackets, bounds, replay and trial bound are checked against them."""

import dataclasses
import math

import pytest

from ssvi.config import make_config
from studies.edge import (
    EdgeSettings,
    Replay,
    failure_lines,
    knob_means,
    max_trials,
    next_values,
    round_trials,
)
from studies.presets import LOCAL
from studies.robustness import main

BASE = {k: v for k, v in make_config(LOCAL.base).to_dict().items() if k not in ("seed", "density")}
SETTINGS = EdgeSettings(
    knobs=("kl_weight", "init_sigma"),
    bounds={"kl_weight": (1e-3, 100.0), "init_sigma": (1e-5, 3.0)},
)
CHANCE = 0.1


def sigmoid_accuracy(knob: str, value: float, method: str, edges: dict) -> float:
    """Accuracy 0.97 that collapses to chance around ``edges[(knob, method)]`` (log scale)."""
    edge = edges.get((knob, method))
    if edge is None:
        return 0.97
    z = (math.log10(value) - math.log10(edge)) / 0.08
    return CHANCE + (0.97 - CHANCE) / (1 + math.exp(min(z, 50)))


def simulate(edges: dict, status=lambda trial: "completed", rounds: int = 16):
    """Run the search's rounds with simulated trials; returns (rows, trials per round)."""
    rows, per_round, replay = [], [], Replay()
    for _ in range(rounds):
        trials = round_trials(rows, replay, LOCAL, BASE, SETTINGS, CHANCE)
        if not trials:
            break
        per_round.append(trials)
        for t in trials:
            knob = t["oat_param"]
            value = t["run"][knob] if knob != "base" else None
            acc = 0.97 if value is None else sigmoid_accuracy(knob, value, t["method"], edges)
            rows.append({
                "design": t["design"], "oat_param": knob, "method": t["method"],
                "seed": t["run"]["seed"], "density": t["run"]["density"], "num_classes": 10,
                "kl_weight": t["run"]["kl_weight"], "init_sigma": t["run"]["init_sigma"],
                "status": status(t), "test_accuracy": acc, "trial_id": t["trial_key"],
            })  # fmt: skip
    return rows, per_round


def _bracket(rows, knob, method, line_value, direction):
    means = knob_means(rows, knob, BASE[knob], 3, LOCAL.densities[0])
    base = BASE[knob]
    walk = sorted((v for v in means if (v - base) * direction > 0), key=lambda v: abs(v - base))
    inner = base
    for v in walk:
        if means[v][method] < line_value:
            return inner, v
        inner = v
    return None


def test_lines() -> None:
    assert failure_lines(0.96, 0.1, 0.02) == pytest.approx({"collapse": 0.53, "tolerance": 0.94})


def test_search_brackets_every_edge_within_the_resolution() -> None:
    edges = {("init_sigma", "dense_vi"): 0.2, ("init_sigma", "ssvi"): 0.45,
             ("kl_weight", "dense_vi"): 7.0, ("kl_weight", "ssvi"): 7.0}  # fmt: skip
    rows, per_round = simulate(edges)
    assert 3 <= len(per_round) < 16  # it ended by itself
    total = sum(len(r) for r in per_round)
    assert total <= max_trials(LOCAL, BASE, SETTINGS)
    for knob in ("init_sigma", "kl_weight"):
        values = {r[knob] for r in rows if r["oat_param"] == knob}
        lo, hi = SETTINGS.bounds[knob]
        assert all(lo <= v <= hi for v in values)
        # downwards nothing fails: the search stepped to the bound and stopped there
        assert min(values) == lo
        for method in ("dense_vi", "ssvi"):
            for line in failure_lines(0.97, CHANCE, 0.02).values():
                inner, outer = _bracket(rows, knob, method, line, +1)
                assert outer / inner <= 2.0 + 1e-9, (knob, method, line, inner, outer)
                true = edges[(knob, method)]
                # the true crossing of the line lies inside the bracket
                z = math.log((0.97 - CHANCE) / (line - CHANCE) - 1) * 0.08
                crossing = 10 ** (math.log10(true) + z)
                assert inner <= crossing <= outer
    # every value ran both methods and every seed
    by_value: dict = {}
    for r in rows:
        key = (r["oat_param"], r[r["oat_param"]] if r["oat_param"] != "base" else None)
        by_value.setdefault(key, set()).add((r["method"], r["seed"]))
    assert all(len(s) == 2 * len(LOCAL.seeds) for s in by_value.values())


def test_replay_chooses_the_same_rounds_from_a_table_with_later_rows() -> None:
    """A resumed study replays its rounds from the table: the rows of later rounds (all of them,
    here) must not change what an earlier round chose."""
    edges = {("init_sigma", "dense_vi"): 0.2, ("init_sigma", "ssvi"): 0.45}
    rows, per_round = simulate(edges)
    replay = Replay()
    for trials in per_round:
        again = round_trials(rows, replay, LOCAL, BASE, SETTINGS, CHANCE)
        assert [t["trial_key"] for t in again] == [t["trial_key"] for t in trials]
    assert round_trials(rows, replay, LOCAL, BASE, SETTINGS, CHANCE) == []


def test_one_at_a_time_rows_are_reused_not_run_again() -> None:
    oat = [{"design": "oat", "oat_param": p, "method": m, "seed": s, "density": d,
            "num_classes": 10, "kl_weight": kl, "init_sigma": BASE["init_sigma"],
            "status": "completed", "test_accuracy": 0.97}
           for p, kl in (("base", BASE["kl_weight"]), ("kl_weight", 1.0), ("kl_weight", 0.01))
           for m, d in (("dense_vi", 1.0), ("ssvi", 0.1)) for s in LOCAL.seeds]  # fmt: skip
    trials = round_trials(oat, Replay(), LOCAL, BASE, SETTINGS, CHANCE)
    values = {(t["oat_param"], t["run"].get(t["oat_param"])) for t in trials}
    # no base, and kl_weight goes on from the oat sweep's outermost values: 10 and 1e-3
    assert values == {("kl_weight", 10.0), ("kl_weight", 0.001), ("init_sigma", 0.01),
                      ("init_sigma", 0.0001)}  # fmt: skip


def test_a_diverged_run_counts_as_failed_and_an_errored_value_stops_the_walk() -> None:
    means = {0.1: {"dense_vi": 0.97, "ssvi": 0.97}, 1.0: {"dense_vi": 0.97, "ssvi": 0.97},
             10.0: None}  # fmt: skip
    # an errored value at 10: nothing beyond it is probed, and it is not probed again
    assert next_values(means, 0.1, (1e-3, 100.0), CHANCE, SETTINGS) == [0.01]
    rows = [{"design": "edge", "oat_param": "kl_weight", "method": m, "seed": s, "density": d,
             "num_classes": 10, "kl_weight": 1.0, "status": "diverged", "test_accuracy": 0.97}
            for m, d in (("dense_vi", 1.0), ("ssvi", 0.1)) for s in (0, 1, 2)]  # fmt: skip
    means = knob_means(rows, "kl_weight", 0.1, 3, 0.1)
    assert means == {1.0: {"dense_vi": pytest.approx(0.1), "ssvi": pytest.approx(0.1)}}


def test_the_dry_run_states_the_edge_bound(capsys) -> None:
    assert main(["--design", "edge", "--dry-run", "--power-sims", "0"]) == 0
    out = capsys.readouterr().out
    most = max_trials(LOCAL, BASE, SETTINGS)
    assert f"<={most:>4} trials" in out and f"trials: at most {most}" in out
    assert "kl_weight 0.1 in [0.001, 100]" in out


@pytest.mark.parametrize(
    ("flag", "value", "allowed"),
    [("--edge-delta", "0", "0 < points < 100"), ("--edge-resolution", "1", "a factor > 1"),
     ("--edge-step", "1.5", "a factor > --edge-resolution")],
)  # fmt: skip
def test_bad_edge_flags_fail_with_one_line(capsys, flag, value, allowed) -> None:
    assert main(["--design", "edge", "--dry-run", flag, value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and flag in err[0] and allowed in err[0]


@pytest.mark.slow
def test_an_interrupted_edge_study_resumes_with_the_same_values(tmp_path) -> None:
    """Ctrl-C in the middle of the rounds, then --resume: the finished trials are kept (not run
    again), and the table holds exactly the rounds that the search chooses from it."""
    import signal

    import pandas as pd

    from studies.edge import EdgeSettings
    from tests.studies.conftest import study_env
    from tests.studies.test_resume import _kill_group, _start, _table, _wait_for_rows

    env = study_env(tmp_path)
    args = ["--design", "edge", "--seeds", "1", "--set", "epochs=2", "--set", "eval_samples=1",
            "--edge-resolution", "4", "--storage", str(tmp_path), "--name", "edgy",
            "--ray-address", "local"]  # fmt: skip
    folder, log = tmp_path / "edgy", tmp_path / "study.log"
    proc = _start(args, env, log)
    try:
        _wait_for_rows(proc, folder, 12, log)  # round 1 (10 trials) and a bit of round 2
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 130, log.read_text()[-3000:]
    finally:
        _kill_group(proc, env["SSVI_RAY_TMPDIR"])
    before = _table(folder).set_index("trial_id")["wall_time_s"]
    proc = _start([*args, "--resume"], env, log)
    try:
        assert proc.wait(timeout=400) == 0, log.read_text()[-3000:]
    finally:
        _kill_group(proc, env["SSVI_RAY_TMPDIR"])
    text = log.read_text()
    assert "Traceback" not in text
    # the console is the project's lines: no Tune experiment box, Tune or Ray INFO lines, nor
    # Ray's notice that it turned token authentication on
    for noise in ("Configuration for experiment", "Wrote the latest version",
                  "Started a local Ray instance", "Token authentication is enabled"):  # fmt: skip
        assert noise not in text, noise
    assert text.count("ray: started a local Ray") == 2
    final = pd.read_parquet(folder / "results.parquet")
    assert final["trial_id"].is_unique and set(final["status"]) == {"completed"}
    assert set(final["design"]) == {"edge"}
    assert (final.set_index("trial_id").loc[before.index, "wall_time_s"] == before).all()
    # replaying the search on the final table gives exactly its trials, round by round
    preset = dataclasses.replace(LOCAL, seeds=(0,))
    base = {**BASE, "epochs": 2, "eval_samples": 1}
    settings = EdgeSettings(
        knobs=("kl_weight", "init_sigma"), bounds=LOCAL.edge_bounds, resolution=4.0
    )
    rows, replay, keys = final.to_dict("records"), Replay(), []
    while trials := round_trials(rows, replay, preset, base, settings, CHANCE):
        keys += [t["trial_key"] for t in trials]
    assert sorted(keys) == sorted(final["trial_id"])
    # it probed beyond the collapse of both methods (the bound of init_sigma is 3)
    sigma = final[final["oat_param"] == "init_sigma"]
    assert sigma.groupby("method")["test_accuracy"].min().max() < 0.5
