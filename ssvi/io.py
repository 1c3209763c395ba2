"""Atomic file writes (a result file is either the old version or the new one, never half) and
safe reads of torch files (tensors and plain data only: no code runs on load)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


class UnsafeFileError(ValueError):
    """A file is not a torch file made of tensors and plain data (it could run code)."""


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], object]) -> None:
    """Call ``write`` on a temporary file beside ``path``, fsync it, then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))


def load_safely(path: str | Path, what: str) -> Any:
    """``torch.load(path, weights_only=True)`` on CPU: tensors, numbers, strings, lists, tuples
    and dicts only. Anything else (a pickled object, which could run code on load, or a file that
    is not a torch file) raises :class:`UnsafeFileError` naming the file and ``what`` it should
    be; a missing file raises ``FileNotFoundError``."""
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (expected {what})")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UnsafeFileError(
            f"{path} is not {what} that loads safely (tensors and plain data only; pickled "
            f"objects could run code and are refused): {reason[:200]}"
        ) from None
