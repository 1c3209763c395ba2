"""The robustness notebook runs top to bottom against a small results table."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from analysis_synthetic import make_results

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
    table = make_results(seed=1, n_random=8)
    table.to_csv(tmp_path / "results.csv", index=False)
    monkeypatch.setenv("SSVI_RESULTS", str(tmp_path))
    monkeypatch.setenv("SSVI_N_BOOT", "100")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 6  # ECDF, heatmap, OAT, marginal, importance, FLOPs
    text = "".join(o.get("text", "") for o in outputs)
    assert "sensitive" in text or "No detectable difference" in text
