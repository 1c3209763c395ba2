"""A study's plan, before Ray starts: every option checked, every trial built, and the dry run's
cost and power estimate (studies/robustness.py runs the plan)."""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from studies.edge import EdgeSettings
    from studies.presets import Preset


class StudyError(ValueError):
    """A bad study option: reported before Ray starts."""


@dataclass(frozen=True)
class Plan:
    """A study, checked and expanded before Ray starts: what :func:`plan` returns, what the dry
    run prints, what ``--resume`` compares (studies.resume hashes the fields that decide which
    trials run) and what studies/robustness.py runs."""

    preset: Preset  # with --seeds applied
    designs: tuple[str, ...]
    name: str  # the study's name: its folder is STORAGE/NAME
    storage: str  # an absolute local folder, or a URI (s3://, gs://)
    folder: str  # STORAGE/NAME
    base: dict[str, Any]  # the base run config, seed and density left out
    trials: list[dict[str, Any]]  # every trial of the static designs (studies.designs)
    optuna_storage: str  # the tune design's Optuna RDB URL
    tune_trials: int  # Optuna configurations per method
    all_knobs: bool  # --all-knobs
    checkpoint_every: int  # epochs between trial checkpoints
    experiment_trials: int  # trials per Tune experiment
    edge: EdgeSettings | None = None  # the edge design's search, when it is planned


def experiment_trials() -> int:
    """Trials per Tune experiment: SSVI_EXPERIMENT_TRIALS, else studies.resume.EXPERIMENT_TRIALS
    (part of the plan: a study resumes with the value it started with).

    A larger study runs as several experiments one after the other, so that Tune's per-trial
    costs (its snapshots, its driver loop) stay those of this many trials. Each switch leaves
    slots idle for at most one trial's duration: about 1/(waves per experiment) of the time, which
    matters when a cluster runs more than a tenth of this many trials at once (raise it there).
    """
    from studies.resume import EXPERIMENT_TRIALS

    text = os.environ.get("SSVI_EXPERIMENT_TRIALS", "").strip()
    if not text:
        return EXPERIMENT_TRIALS
    if not text.isdigit() or int(text) < 1:
        raise StudyError(f"SSVI_EXPERIMENT_TRIALS={text!r}: give a whole number of trials >= 1")
    return int(text)


def plan(args: argparse.Namespace) -> Plan:
    """Validate every option and build every trial, before Ray starts."""
    from ssvi.config import ConfigError, load_config, make_config, parse_overrides
    from studies.designs import expand_designs
    from studies.presets import DESIGNS, PRESETS
    from studies.results import study_folder

    if args.preset not in PRESETS:
        raise StudyError(f"unknown preset {args.preset!r}; allowed: {', '.join(PRESETS)}")
    preset = PRESETS[args.preset]
    designs = [d.strip() for d in (args.design or ",".join(preset.designs)).split(",") if d.strip()]
    bad = [d for d in designs if d not in DESIGNS]
    if bad or not designs:
        raise StudyError(
            f"unknown design {', '.join(map(repr, bad)) or '(none)'}; allowed: {', '.join(DESIGNS)}"
        )
    for flag, value, ok in [
        ("--max-concurrent", args.max_concurrent, args.max_concurrent >= 0),
        ("--gpus-per-trial", args.gpus_per_trial, (args.gpus_per_trial or 0) >= 0),
        ("--wait-for-resources", args.wait_for_resources, args.wait_for_resources >= 0),
        ("--cpus-per-trial", args.cpus_per_trial, args.cpus_per_trial > 0),
        ("--seeds", args.seeds, args.seeds is None or 1 <= args.seeds <= len(preset.seeds)),
        ("--tune-trials", args.tune_trials, args.tune_trials is None or args.tune_trials >= 1),
        ("--checkpoint-every", args.checkpoint_every, args.checkpoint_every >= 0),
        ("--power-sims", getattr(args, "power_sims", 0), getattr(args, "power_sims", 0) >= 0),
    ]:
        if not ok:
            raise StudyError(f"{flag}: value {value!r} is out of range")
    name = args.name or f"{preset.name}-robustness"
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise StudyError(f"--name {name!r}: use letters, digits, '-', '_' and '.' only")
    storage = args.storage if "://" in args.storage else str(Path(args.storage).resolve())
    if "://" not in storage:
        for path in (Path(storage), Path(storage) / name):
            if path.exists() and not path.is_dir():
                raise StudyError(f"--storage {args.storage!r}: {path} is a file, not a folder")
    try:
        base = dict(preset.base)
        if args.base:
            tuned = load_config(args.base).to_dict()
            base.update(
                {k: tuned[k] for k in tuned if k not in ("seed", "density", "device", "data_dir")}
            )
        base.update(parse_overrides(args.set))
        if args.data_dir:
            base["data_dir"] = args.data_dir
        if "://" not in str(base.get("data_dir", "data")):  # trials run in other folders
            base["data_dir"] = str(Path(base.get("data_dir", "data")).resolve())
        base["device"] = "cuda" if (args.gpus_per_trial or 0) > 0 else "cpu"  # set again later
        base = make_config(base).to_dict()
        base = {k: v for k, v in base.items() if k not in ("seed", "density")}
    except ConfigError as err:
        raise StudyError(str(err)) from None
    if args.seeds:
        from dataclasses import replace

        preset = replace(preset, seeds=preset.seeds[: args.seeds])
    if "tune" in designs:
        if base["val_fraction"] <= 0:
            raise StudyError(
                "the tune design selects on validation accuracy: val_fraction must be > 0"
            )
        if args.asha and len(preset.seeds) > 1:
            raise StudyError(
                "--asha stops single seeds of a configuration, so its seeds would be averaged over "
                "different budgets: use it with --seeds 1"
            )
    edge = edge_settings(args, preset, base) if "edge" in designs else None
    trials = expand_designs(designs, preset, base, args.all_knobs)
    for trial in trials:  # every trial's run config must be valid before anything starts
        make_config(trial["run"])
    folder = study_folder(storage, name)
    db_dir = Path(folder if "://" not in folder else f"{name}-optuna").resolve()
    return Plan(
        preset=preset, designs=tuple(designs), name=name, storage=storage, folder=folder,
        base=base, trials=trials,
        optuna_storage=args.optuna_storage or f"sqlite:///{db_dir / 'optuna.db'}",
        tune_trials=args.tune_trials or preset.tune_trials, all_knobs=bool(args.all_knobs),
        checkpoint_every=args.checkpoint_every or preset.checkpoint_every,
        experiment_trials=experiment_trials(), edge=edge,
    )  # fmt: skip


def edge_settings(args: argparse.Namespace, preset: Preset, base: dict[str, Any]) -> EdgeSettings:
    """The edge design's search (studies/edge.py), its flags checked."""
    from studies.edge import EdgeSettings
    from studies.presets import EDGE_EXTRA, EDGE_KNOBS

    step = args.edge_step or preset.edge_step
    for flag, value, ok, allowed in [
        ("--edge-delta", args.edge_delta, 0 < args.edge_delta < 100, "0 < points < 100"),
        ("--edge-resolution", args.edge_resolution, args.edge_resolution > 1, "a factor > 1"),
        ("--edge-step", step, step > args.edge_resolution, "a factor > --edge-resolution"),
    ]:
        if not ok:
            raise StudyError(f"{flag}: value {value!r} is not allowed; allowed: {allowed}")
    knobs = EDGE_KNOBS + (EDGE_EXTRA if args.all_knobs else ())
    missing = [k for k in knobs if k not in preset.edge_bounds]
    if missing:
        raise StudyError(
            f"the edge design: preset {preset.name!r} states no bounds for {', '.join(missing)}"
        )
    for knob in knobs:
        lo, hi = preset.edge_bounds[knob]
        if not lo <= base[knob] <= hi:
            raise StudyError(
                f"the edge design: the base {knob} {base[knob]!r} is outside the preset's "
                f"bounds [{lo:g}, {hi:g}] for it"
            )
    return EdgeSettings(
        knobs=knobs, bounds={k: preset.edge_bounds[k] for k in knobs}, step=float(step),
        delta=args.edge_delta / 100.0, resolution=float(args.edge_resolution),
    )  # fmt: skip


# ---- the dry run ----------------------------------------
def dry_run(p: Plan, args: argparse.Namespace) -> str:
    """The designs, the number of trials and an estimate of training FLOPs and GPU-hours."""
    from studies.estimate import estimate_trial

    preset, trials = p.preset, list(p.trials)
    if "tune" in p.designs:
        trials += [{"design": "tune", "method": m, "run": {**p.base, "density": d, "seed": 0}}
                   for m, d in (("ssvi", preset.densities[0]), ("dense_vi", 1.0))
                   for _ in range(p.tune_trials * len(preset.seeds))]  # fmt: skip
    lines = [
        f"study {p.name} (preset {preset.name}) -> {p.folder}",
        f"designs: {', '.join(p.designs)}",
    ]
    total_flops, total_images = 0.0, 0.0
    counts: dict[tuple[str, str], int] = {}
    for trial in trials:
        counts[(trial["design"], trial["method"])] = (
            counts.get((trial["design"], trial["method"]), 0) + 1
        )
        flops, images = estimate_trial(trial["run"])
        total_flops += flops
        total_images += images
    for (design, method), n in sorted(counts.items()):
        lines.append(f"  {design:<11} {method:<9} {n:>5} trials")
    edge_images, edge_trials = 0.0, list[dict[str, Any]]()
    if p.edge is not None:
        edge_lines, edge_trials = _edge_dry_run(p)
        lines += edge_lines
        for trial in edge_trials:
            flops, images = estimate_trial(trial["run"])
            total_flops, edge_images = total_flops + flops, edge_images + images
    gpu_hours = (total_images + edge_images) / preset.gpu_images_per_s / 3600
    most = " at most" if edge_trials else ""
    lines.append(
        f"trials:{most} {len(trials) + len(edge_trials)} ({len(preset.seeds)} seeds each "
        "configuration)"
    )
    lines.append(f"training FLOPs (SSVI density-scaled): {total_flops:.3e}")
    lines.append(
        f"estimated GPU-hours at {preset.gpu_images_per_s:,.0f} images/s per GPU: {gpu_hours:.2f}"
    )
    if preset.cpu_images_per_s:
        cores = os.cpu_count() or 1

        def wall(images: float, n: int) -> str:
            seconds = images / preset.cpu_images_per_s + n * preset.trial_overhead_s
            return _minutes(seconds / cores)

        edge_wall = f", plus at most {wall(edge_images, len(edge_trials))} for the edge rounds"
        lines.append(
            f"estimated wall time on this machine's {cores} CPU cores (one trial per core, "
            f"{preset.cpu_images_per_s:,.0f} images/s each): {wall(total_images, len(trials))}"
            + (edge_wall if edge_trials else "")
        )
    return "\n".join(lines + planned_power(p, getattr(args, "power_sims", 0)))


def _edge_dry_run(p: Plan) -> tuple[list[str], list[dict[str, Any]]]:
    """The edge design's settings and the most trials it can take (its rounds are chosen as
    results arrive), with stand-ins for those trials in the cost estimate."""
    from studies.edge import max_trials

    edge, preset, base = p.edge, p.preset, p.base
    assert edge is not None
    most = max_trials(preset, base, edge)
    bounds = ", ".join(f"{k} {base[k]:g} in [{edge.bounds[k][0]:g}, {edge.bounds[k][1]:g}]"
                       for k in edge.knobs)  # fmt: skip
    lines = [
        f"  edge        both      <={most:>4} trials (rounds chosen as results arrive)",
        f"  edge search: {bounds}; step {edge.step:g}x, edges bracketed within "
        f"{edge.resolution:g}x, lines: collapse (half-way to chance) and tolerance "
        f"({edge.delta * 100:g} points below base)",
    ]
    stand_in = {**base, "density": preset.densities[0], "seed": 0}
    return lines, [{"run": stand_in}] * most


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def planned_power(p: Plan, sims: int = 0) -> list[str]:
    """What the headline verdict of the planned designs can detect (studies/power.py): the
    formula, and with ``sims`` the real verdicts' power on that many simulated studies."""
    from studies.power import power_lines, simulated_lines
    from studies.presets import SHARED

    preset = p.preset
    dense = {t["config_id"] for t in p.trials if t["method"] == "dense_vi"}
    ssvi = {t["config_id"] for t in p.trials if t["method"] == "ssvi"}
    paired = dense & ssvi
    if not paired:
        return ["power: no configuration runs both methods: no SSVI vs dense VI verdict"]
    swept = {t["oat_param"] for t in p.trials if t["design"] == "oat"} & set(SHARED)
    grid = set(preset.grid) if "grid" in p.designs else set()
    tests = 4 * (1 + len(swept | grid))  # 4 metrics x (overall + each shared sweep or axis)
    lines = power_lines(
        len(paired), len(preset.seeds), preset.assumed_seed_sd, preset.assumed_config_sd, tests
    )
    if sims > 0 and len(preset.seeds) >= 2:
        seed_sd, config_sd = preset.assumed_seed_sd, preset.assumed_config_sd
        lines += simulated_lines(p.trials, seed_sd, config_sd, sims)
    return lines
