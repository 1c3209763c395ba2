"""``ssvi`` command line: train, eval, export.

ssvi train --config FILE [--set key=value ...] --out DIR [--resume]
ssvi eval MODEL_OR_CHECKPOINT [--set key=value ...]
ssvi export CHECKPOINT --out FILE
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

from ssvi.config import ConfigError, RunConfig, load_config, parse_overrides
from ssvi.io import UnsafeFileError

CHECKPOINT = "checkpoint.pt"


def _field_help() -> str:
    lines = ["run config fields (YAML keys, or --set key=value):"]
    for f in fields(RunConfig):
        default = f.default
        lines.append(f"  {f.name:<18} default {default!r}")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ssvi", description="Sparse Subspace Variational Inference")
    sub = p.add_subparsers(dest="command", required=True)
    fmt = argparse.RawDescriptionHelpFormatter
    t = sub.add_parser(
        "train", help="train one run", epilog=_field_help(), formatter_class=fmt,
        description="Train one SSVI (density < 1) or dense VI (density 1.0) run.",
    )  # fmt: skip
    t.add_argument("--config", help="YAML run config (default: the digits recipe)")
    t.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field (repeatable)",
    )
    t.add_argument(
        "--out", required=True, help="output folder (config, history, metrics, checkpoint)"
    )
    t.add_argument(
        "--resume", action="store_true", help=f"continue from OUT/{CHECKPOINT} if it exists"
    )
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    e = sub.add_parser("eval", help="evaluate an exported model or a checkpoint on the test set")
    e.add_argument("model", help="a file written by `ssvi export`, or a training checkpoint")
    e.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="e.g. eval_samples=20, device=cpu",
    )
    e.add_argument("--out", help="write the metrics as JSON to this file")
    x = sub.add_parser("export", help="write a compact model file (active weights only)")
    x.add_argument("checkpoint", help="a training checkpoint (OUT/checkpoint.pt of `ssvi train`)")
    x.add_argument("--out", required=True, help="the compact model file to write")
    return p


class ProgressBar:
    """A tqdm bar over epochs showing loss and validation accuracy."""

    def __init__(self, total: int, initial: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, initial=initial, unit="epoch", dynamic_ncols=True)

    def close(self) -> None:
        self.bar.close()

    def on_epoch_end(self, trainer: Any, metrics: dict[str, float]) -> None:
        self.bar.update(1)
        self.bar.set_postfix(
            loss=f"{metrics['train_loss']:.3f}",
            val_acc=f"{metrics.get('val_accuracy', float('nan')):.3f}",
        )


class SaveEachEpoch:
    """Checkpoint and history after every epoch, so an interrupted run resumes where it stopped."""

    def __init__(self, out: Path) -> None:
        self.out = out

    def on_epoch_end(self, trainer: Any, metrics: dict[str, float]) -> None:
        trainer.save_checkpoint(self.out / CHECKPOINT)
        write_history(self.out / "history.csv", trainer.history)


def write_history(path: Path, history: list[dict[str, float]]) -> None:
    from ssvi.io import atomic_write_text

    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys)
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(path, buf.getvalue())


def cmd_train(args: argparse.Namespace) -> int:
    from ssvi.io import atomic_write_text
    from ssvi.train import Trainer

    cfg = load_config(args.config, args.set)  # validated before any work starts
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {str(out)!r} is a file; give a folder for the run's outputs")
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / CHECKPOINT
    callbacks: list[Any] = [SaveEachEpoch(out)]
    if args.resume and ckpt.exists():
        trainer = Trainer.from_checkpoint(ckpt, callbacks=callbacks)
        print(f"resuming from {ckpt} at epoch {trainer.epoch}", file=sys.stderr)
    else:
        trainer = Trainer(cfg, callbacks=callbacks)
    cfg = trainer.cfg  # a resumed run continues with its checkpoint's config
    cfg.save(out / "config.yaml", {"_method": cfg.method})
    bar = None if args.quiet else ProgressBar(cfg.epochs, trainer.epoch)
    if bar is not None:
        trainer.callbacks.insert(0, bar)
    try:
        result = trainer.fit()
    finally:
        if bar is not None:
            bar.close()  # the last line is ours, not a bar left at 0/N
    trainer.save_checkpoint(ckpt)
    write_history(out / "history.csv", result.history)
    final = {"status": result.status, "epochs_completed": result.epochs_completed, **result.metrics}
    atomic_write_text(out / "metrics.json", strict_json(final))
    print(f"{final_line(final)} -> {out}")
    return 0


def strict_json(values: dict[str, Any]) -> str:
    """JSON that strict parsers accept: NaN and infinities become null."""

    def clean(v: Any) -> Any:
        return None if isinstance(v, float) and not math.isfinite(v) else v

    return json.dumps({k: clean(v) for k, v in values.items()}, indent=2, allow_nan=False)


def final_line(final: dict[str, Any]) -> str:
    """The run's status and test metrics in one line; a diverged run says which state they
    describe."""

    def metrics() -> str:
        keys = ("test_accuracy", "test_nll", "test_ece")
        return ", ".join(f"{k}={final[k]:.4f}" for k in keys if k in final)

    if final["status"] != "diverged":
        return f"{final['status']}: {metrics()}"
    head = f"diverged in epoch {final['epochs_completed']} (loss or weights not finite)"
    last = int(final.get("last_finite_epoch", 0))
    if last == 0:
        return f"{head}; no finite state to evaluate (it diverged in its first epoch)"
    return f"{head}; metrics of its last finite state (end of epoch {last}): {metrics()}"


def cmd_eval(args: argparse.Namespace) -> int:
    from ssvi.config import make_config
    from ssvi.evaluate import evaluate_model
    from ssvi.export import is_exported, model_from_state
    from ssvi.io import load_safely

    overrides = parse_overrides(args.set)  # the same checks as train's --set
    what = "a model file written by `ssvi export` or a training checkpoint"
    state = load_safely(args.model, what)  # refuses anything that could run code
    if is_exported(state):
        model, cfg = model_from_state(state, args.model)
    elif isinstance(state, dict) and {"cfg", "model", "optimizer"} <= set(state):
        from ssvi.train import Trainer

        trainer = Trainer.from_checkpoint(args.model)
        model, cfg = trainer.model, trainer.cfg
    else:
        raise UnsafeFileError(f"{args.model} is not {what}")
    cfg = make_config({**cfg.to_dict(), **overrides})
    result = evaluate_model(model, cfg)
    text = strict_json(result)
    if args.out:
        from ssvi.io import atomic_write_text

        atomic_write_text(args.out, text)
    print(text)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ssvi.export import export_model
    from ssvi.train import Trainer

    trainer = Trainer.from_checkpoint(args.checkpoint)
    d = trainer.data
    size = export_model(trainer.model, trainer.cfg, d.input_shape, d.num_classes, args.out)
    print(f"wrote {args.out}: {size} bytes ({trainer.cfg.method}, density {trainer.cfg.density})")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return {"train": cmd_train, "eval": cmd_eval, "export": cmd_export}[args.command](args)
    except ConfigError as err:
        print(f"ssvi: error: {err}", file=sys.stderr)
        return 2
    except (FileNotFoundError, UnsafeFileError) as err:
        print(f"ssvi: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
