"""The robustness notebook runs top to bottom against a small results table."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from truth import World, make_table

NOTEBOOK = Path(__file__).resolve().parents[2] / "analysis" / "notebooks" / "robustness.ipynb"


def test_notebook_is_committed_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert "parameters" in code[0].metadata.get("tags", [])


@pytest.mark.slow
def test_notebook_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbclient = pytest.importorskip("nbclient")
    table = make_table(World(n_random=8, n_random_ssvi=6, diverge_above=1.0), seed=1)
    table.to_csv(tmp_path / "results.csv", index=False)
    monkeypatch.setenv("SSVI_RESULTS", str(tmp_path))
    monkeypatch.setenv("SSVI_N_BOOT", "100")
    other = tmp_path / "other"  # a second task to pool with the first
    other.mkdir()
    make_table(World(n_random=8, n_random_ssvi=6), seed=2).to_csv(other / "results.csv")
    monkeypatch.setenv("SSVI_POOL", f"{tmp_path},{other}")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 7  # tuning curves, ECDF, heatmap, OAT, marginal, FLOPs, forest
    text = "".join(o.get("text", "") for o in outputs)
    assert "Set POOL" not in text  # the two studies were pooled
    for label in ("test accuracy", "test NLL", "test ECE", "OOD AUROC"):  # all four verdicts
        assert f"sensitivity to the shared hyperparameters in {label}" in text or (
            f"than dense VI to the shared hyperparameters in {label}" in text
        )
    assert "Importance not drawn: importance is not identifiable" in text
