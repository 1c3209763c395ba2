"""Saturation: a method capped at a ceiling the other does not reach is less spread by the cap;
its verdicts say so (issue 21, item 3), and nothing is flagged when both are alike."""

from pathlib import Path

import numpy as np
from truth import World, make_table

from analysis import verdicts, write_report
from analysis._saturation import pile_up
from analysis._schema import METRICS

REPLICATES = 10


def _capped(seed: int, cap: float = 0.97):
    """SSVI's test accuracy clipped at ``cap`` (about where both methods' plateau lies)."""
    table = make_table(World(), seed=seed)
    ssvi = table["method"] == "ssvi"
    table.loc[ssvi, "test_accuracy"] = table.loc[ssvi, "test_accuracy"].clip(upper=cap)
    return table


def _flagged(v, metric: str = "accuracy") -> bool:
    head = v[(v["family"] == "sensitivity") & (v["scope"] == "overall") & (v["metric"] == metric)]
    return bool(head["note"].str.contains("saturation").any())


def test_a_capped_method_is_flagged_and_alike_methods_are_not() -> None:
    capped = [verdicts(_capped(1000 + r), seed=r, n_boot=200) for r in range(REPLICATES)]
    alike = [verdicts(make_table(World(), seed=1000 + r), seed=r, n_boot=200)
             for r in range(REPLICATES)]  # fmt: skip
    assert all(_flagged(v) for v in capped)
    assert not any(_flagged(v, m) for v in alike for m in ("accuracy", "nll", "ece", "ood_auroc"))
    # where the capped method is called less sensitive or less noisy, the note is beside it
    for v in capped:
        rows = v[(v["metric"] == "accuracy") & v["family"].isin(["sensitivity", "noise"])]
        less = rows[rows["verdict"] == "less"]
        assert less["note"].str.contains("SSVI's runs pile up at a ceiling").all()


def test_pile_up_counts_the_bound_and_ties_at_the_best_run() -> None:
    m = METRICS["accuracy"]
    rng = np.random.default_rng(0)
    smooth = rng.normal(0.9, 0.02, size=(1, 20, 3))
    at_bound = np.concatenate([smooth[:, :10], np.full((1, 10, 3), 0.995)], axis=1)
    shares = pile_up(np.concatenate([smooth, at_bound]), m)
    assert shares[0] < 0.05 and shares[1] == 0.5
    ece = METRICS["ece"]  # lower is better: the floor is 0
    assert pile_up(np.full((1, 4, 3), 0.004), ece)[0] == 1.0


def test_the_report_says_it(tmp_path: Path) -> None:
    write_report(_capped(1000), tmp_path, n_boot=200)
    lead = (tmp_path / "report.md").read_text().split("\n\n")[1]
    accuracy = lead.split("**Test NLL")[0]
    assert "pile up at a ceiling" in accuracy and "saturation" in accuracy
