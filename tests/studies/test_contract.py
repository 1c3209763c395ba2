"""The results table is the one contract between studies and analysis: checked, not assumed.

studies writes the columns of ``studies.results.COLUMNS``; docs/results-table.md documents them;
analysis reads them (analysis._schema). The study test (test_study.py) runs the analysis on a
table a real study wrote; this checks that the three declarations agree, and that the tables the
analysis tests are built from follow the same contract.
"""

import re
import sys
from pathlib import Path

from analysis import _schema
from ssvi.data import DATASET_INFO, load_dataset
from studies.results import COLUMNS, SSVI_ONLY_TEXT

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "analysis"))


def test_documented_written_and_read_columns_agree() -> None:
    doc = (ROOT / "docs" / "results-table.md").read_text()
    documented = []
    for line in doc.splitlines():
        if line.startswith("| `"):
            documented += re.findall(r"`([a-z_]+)`", line.split("|")[1])
    assert documented == list(COLUMNS)
    read = (
        set(_schema.REQUIRED_COLUMNS)
        | set(_schema.STRING_COLUMNS)
        | set(_schema.NUMERIC_COLUMNS)
        | {"is_default"}
    )
    assert read == set(COLUMNS), read ^ set(COLUMNS)


def test_the_analysis_tests_tables_follow_the_contract() -> None:
    import analysis_synthetic
    import truth

    assert list(truth.COLUMNS) == list(COLUMNS)
    assert list(analysis_synthetic.COLUMNS) == list(COLUMNS)
    assert set(truth.SSVI_ONLY.split(",")) == set(SSVI_ONLY_TEXT.split(","))


def test_dataset_facts_are_those_of_the_loaded_datasets() -> None:
    for name in ("digits", "digits5", "synthetic"):
        data = load_dataset(name, val_fraction=0.1, seed=0)
        info = DATASET_INFO[name]
        assert data.input_shape == info.input_shape, name
        assert data.num_classes == info.num_classes, name
        assert len(data.train_y) + len(data.val_y) == info.train_pool, name
