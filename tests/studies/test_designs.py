"""Designs expand to real configuration x seed x method sets; options fail before Ray starts."""

import collections
import dataclasses

import pytest

from ssvi.config import make_config
from studies.designs import config_id, expand_designs, sample_space
from studies.presets import HYPERPARAMETERS, LOCAL, PRESETS, SHARED, SSVI_ONLY
from studies.robustness import main, parse_args, plan

BASE = {k: v for k, v in make_config(LOCAL.base).to_dict().items() if k not in ("seed", "density")}


def _configs(trials):
    by = collections.defaultdict(set)
    for t in trials:
        by[(t["config_id"], t["method"], t["run"]["density"])].add(t["run"]["seed"])
    return by


@pytest.mark.parametrize("design", ["grid", "oat", "random", "random_ssvi"])
def test_every_configuration_runs_every_seed_for_both_methods(design: str) -> None:
    trials = expand_designs([design], LOCAL, BASE)
    by = _configs(trials)
    assert all(seeds == set(LOCAL.seeds) for seeds in by.values())
    # paired: every dense VI configuration has its SSVI twin with the same config_id
    dense = {cid for cid, m, _ in by if m == "dense_vi"}
    ssvi = {cid for cid, m, _ in by if m == "ssvi"}
    if design == "random_ssvi":  # SSVI's own knobs: dense VI has none
        assert ssvi and not dense
    else:
        assert dense and dense <= ssvi
    if design in ("grid", "random"):
        assert dense == ssvi
    keys = [t["trial_key"] for t in trials]
    assert len(keys) == len(set(keys))
    for t in trials:  # every trial's run config is valid
        make_config(t["run"])


def test_grid_is_full_factorial() -> None:
    trials = expand_designs(["grid"], LOCAL, BASE)
    points = {(t["run"]["kl_weight"], t["run"]["init_sigma"]) for t in trials}
    assert len(points) == 9 and len(trials) == 9 * 2 * 3
    defaults = {(t["run"]["kl_weight"], t["run"]["init_sigma"]) for t in trials if t["is_default"]}
    assert defaults == {(0.1, 1e-3)}


def test_random_configurations_repeat_exactly_across_seeds() -> None:
    # Tune's own grid x num_samples resamples random values per grid point (Ray 2.60)
    trials = expand_designs(["random"], LOCAL, BASE)
    by_config = collections.defaultdict(list)
    for t in trials:
        by_config[t["config_id"]].append(
            {k: v for k, v in t["run"].items() if k not in ("seed", "density")}
        )
    assert len(by_config) == LOCAL.random_samples
    for runs in by_config.values():
        assert len(runs) == 2 * len(LOCAL.seeds)
        assert all(r == runs[0] for r in runs)
        # the shared knobs vary; SSVI-only ones stay at their base values (dense VI ignores them)
        assert {k for k in BASE if runs[0][k] != BASE[k]} <= set(SHARED)
    assert sample_space(LOCAL.random_space, 5, 0) == sample_space(LOCAL.random_space, 5, 0)


def test_ssvi_only_random_sample_and_the_one_definition() -> None:
    trials = expand_designs(["random_ssvi"], LOCAL, BASE)
    assert {t["method"] for t in trials} == {"ssvi"}
    assert len({t["config_id"] for t in trials}) == LOCAL.ssvi_samples
    for t in trials:
        assert {k for k in BASE if t["run"][k] != BASE[k]} <= set(SSVI_ONLY)
    # one definition, in ssvi: studies derive theirs; the analysis reads it from the rows, and
    # its fallback for older tables is the same set
    from analysis._schema import HYPERPARAMETERS as ANALYSED
    from analysis._schema import LEGACY_SSVI_ONLY
    from ssvi.config import SUBSPACE_FIELDS
    from studies.results import SSVI_ONLY_TEXT

    assert set(SSVI_ONLY) == set(HYPERPARAMETERS) & SUBSPACE_FIELDS
    assert set(SSVI_ONLY_TEXT.split(",")) == set(SSVI_ONLY) == set(LEGACY_SSVI_ONLY)
    assert set(ANALYSED) <= set(HYPERPARAMETERS)
    all_knobs = expand_designs(["random"], LOCAL, BASE, all_knobs=True)
    varied = {k for t in all_knobs for k in BASE if t["run"][k] != BASE[k]}
    assert varied == {"kl_weight", "init_sigma", "prior_std", "lr"}


def test_oat_sweeps_one_parameter_at_a_time() -> None:
    trials = expand_designs(["oat"], LOCAL, BASE, all_knobs=True)
    base_runs = [t for t in trials if t["oat_param"] == "base"]
    assert {t["method"] for t in base_runs} == {"ssvi", "dense_vi"}
    for t in trials:
        if t["oat_param"] in ("base", "density"):
            continue
        diff = {k for k in BASE if t["run"][k] != BASE[k]}
        assert diff == {t["oat_param"]}
        if t["oat_param"] in SSVI_ONLY:
            assert t["method"] == "ssvi"
    densities = {t["run"]["density"] for t in trials if t["oat_param"] == "density"}
    assert densities == {0.05, 0.2, 0.5}


def test_config_id_ignores_seed_density_and_execution_settings() -> None:
    run = dict(BASE, density=0.1, seed=0)
    assert config_id(run) == config_id(dict(run, seed=3, density=1.0))
    assert config_id(run) != config_id(dict(run, kl_weight=0.5))
    assert config_id(run) != config_id(dict(run, precision="bf16"))  # changes the numbers
    # where and how fast a run executes is not part of it
    fast = dict(run, device="cuda", data_dir="/mnt/data", channels_last=True, compile="default")
    assert config_id(run) == config_id(fast)
    # a run-config field added later, at its default, leaves existing ids unchanged
    assert config_id(run) == config_id({k: v for k, v in run.items() if k != "compile"})


def test_plan_digest_survives_a_new_default_field_and_another_data_folder() -> None:
    from studies.resume import plan_digest

    p = plan(parse_args(["--design", "grid,oat"]))
    older = dataclasses.replace(p, trials=[dict(t, run=dict(t["run"])) for t in p.trials])
    for t in older.trials:
        del t["run"]["compile"]  # as planned before the field existed
        t["run"]["data_dir"] = "/elsewhere/data"
    assert plan_digest(older) == plan_digest(p)
    fewer = plan(parse_args(["--design", "grid,oat", "--seeds", "2"]))
    assert plan_digest(fewer) != plan_digest(p)
    other = plan(parse_args(["--design", "grid,oat", "--set", "epochs=3"]))
    assert plan_digest(other) != plan_digest(p)


@pytest.mark.parametrize(
    "argv,message",
    [
        (
            ["--preset", "mnist"],
            "unknown preset 'mnist'; allowed: local, mnist1d, cifar10, cifar100",
        ),
        (
            ["--design", "grid,sweep"],
            "unknown design 'sweep'; allowed: grid, oat, random, random_ssvi, edge, tune",
        ),
        (["--set", "kl_wieght=1"], "unknown config field(s) 'kl_wieght'"),
        (["--set", "lr=fast"], "config field 'lr': value 'fast' is not allowed; expected float"),
        (["--set", "removal=abs"], "config field 'removal': value 'abs' is not allowed"),
        (["--seeds", "9"], "--seeds: value 9 is out of range"),
        (["--gpus-per-trial", "-1"], "--gpus-per-trial: value -1.0 is out of range"),
        (["--name", "a b"], "--name 'a b'"),
        (["--resume", "--name", "never-ran"], "--resume: no study at"),
        (["--design", "tune", "--asha"], "--asha stops single seeds"),
        (["--design", "tune", "--set", "val_fraction=0"], "val_fraction must be > 0"),
        (["--base", "BAD_YAML"], "is not valid YAML: expected ',' or ']'"),
        (["--storage", "A_FILE"], "is a file, not a folder"),
    ],
)
def test_bad_options_fail_before_ray_starts(argv, message, capsys, tmp_path, monkeypatch) -> None:
    import studies.robustness

    def no_ray(*args, **kwargs):
        raise AssertionError("Ray must not start for bad options")

    monkeypatch.setattr(studies.robustness, "connect_ray", no_ray)
    (tmp_path / "bad.yaml").write_text("epochs: 2\nlr: [0.1\n")
    (tmp_path / "a_file").write_text("x")
    names = {"BAD_YAML": str(tmp_path / "bad.yaml"), "A_FILE": str(tmp_path / "a_file")}
    argv = [names.get(a, a) for a in argv]
    if "--storage" not in argv:
        argv += ["--storage", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_malformed_numbers_rejected_by_argparse(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--max-concurrent", "two"])
    assert exc.value.code == 2
    assert "invalid int value: 'two'" in capsys.readouterr().err


def test_dry_run_counts_and_estimates(capsys, tmp_path) -> None:
    assert (
        main(
            [
                "--dry-run",
                "--power-sims",
                "0",
                "--preset",
                "cifar10",
                "--design",
                "grid",
                "--storage",
                str(tmp_path),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "grid        ssvi         36 trials" in out
    assert "grid        dense_vi     36 trials" in out
    assert "training FLOPs" in out and "GPU-hours" in out
    assert "power: 12 paired configurations x 3 seeds, Holm over 12 headline verdicts" in out
    assert "less sensitive (80% of the time) if its configuration SD is below" in out
    p = plan(parse_args(["--preset", "cifar10", "--design", "grid", "--storage", str(tmp_path)]))
    assert len(p.trials) == 72
    assert all(t["run"]["epochs"] == 200 for t in p.trials)
    assert set(PRESETS) == {"local", "mnist1d", "cifar10", "cifar100"}


def test_planning_power_matches_the_estimator_s_sampling_variance() -> None:
    import numpy as np

    from studies.power import detectable_ratios, estimate_variance

    rng = np.random.default_rng(0)
    mu = rng.normal(0, 0.013, size=25)
    config_var = mu.var(ddof=1)
    draws = []
    for _ in range(20_000):
        y = mu[:, None] + 0.0035 * rng.standard_normal((25, 3))
        m, s2 = y.mean(1), y.var(1, ddof=1).mean()
        draws.append(m.var(ddof=1) - s2 / 3)
    predicted = estimate_variance(config_var, 0.0035, 25, 3)
    assert np.var(draws) == pytest.approx(predicted, rel=0.05)
    assert np.mean(draws) == pytest.approx(config_var, rel=0.01)
    below, above = detectable_ratios(25, 3, 0.0035, 0.013, 12)
    assert 0.5 < below < 1 < above
    fewer = detectable_ratios(10, 3, 0.0035, 0.013, 12)[0]
    assert fewer < below  # fewer configurations: only a larger difference is detected
    assert np.isnan(detectable_ratios(25, 1, 0.0035, 0.013, 12)[0])


@pytest.mark.parametrize(("preset", "limit_min"), [("local", 5), ("mnist1d", 45)])
def test_dry_run_estimates_the_embedded_presets_wall_time(
    preset, limit_min, capsys, tmp_path, monkeypatch
) -> None:
    import re

    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert (
        main(["--dry-run", "--power-sims", "0", "--preset", preset, "--storage", str(tmp_path)])
        == 0
    )
    out = capsys.readouterr().out
    found = re.search(r"this machine's 2 CPU cores .*: (\d+) min", out)
    assert found, out
    # sized for 2 cores: the digits main job in 5 minutes (then its edge rounds), the MNIST-1D
    # study in 45
    assert 1 <= int(found.group(1)) <= limit_min
    p = plan(parse_args(["--preset", preset, "--storage", str(tmp_path)]))
    assert {t["design"] for t in p.trials} == {"grid", "oat", "random", "random_ssvi"}
    assert p.edge is not None and "for the edge rounds" in out  # chosen as results arrive


@pytest.mark.parametrize(
    ("argv", "digest"),
    [
        (["--design", "grid,oat"],
         "6fbae7326fa9436a67d1d7084a058128d402a76520e3b890dd7b115da5027239"),
        (["--design", "grid", "--seeds", "1", "--set", "epochs=3", "--name", "killed"],
         "ed6d7fde0d5ccfd33bb05644b9d0cdf55d5f3cc98b3115fe496d22a6c75c1c34"),
    ],
)  # fmt: skip
def test_a_study_started_by_the_dict_plan_resumes(argv, digest, tmp_path) -> None:
    """The digests that studies planned as a dict (e60dd49, before the typed Plan) saved in
    plan.sha256: the typed plan of the same options has the same digest, so --resume accepts
    their folders."""
    from studies.resume import PLAN_FILE, plan_digest, same_plan

    p = plan(parse_args([*argv, "--storage", str(tmp_path)]))
    assert plan_digest(p) == digest
    (tmp_path / p.name).mkdir()
    (tmp_path / p.name / PLAN_FILE).write_text(digest)
    assert same_plan(p)
    (tmp_path / p.name / PLAN_FILE).write_text("0" * 64)
    assert not same_plan(p)
