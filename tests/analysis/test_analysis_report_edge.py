"""The edge design's rows feed the working ranges only: its values are chosen to find failure,
so a method's spread over 'all the configurations it ran' must not count them."""

from pathlib import Path

import pandas as pd
from edges_truth import make_edge_table

from analysis import prepare_results, sensitivity_summary, write_report


def test_spread_tables_leave_the_edge_design_out(study_table: pd.DataFrame, tmp_path: Path) -> None:
    edge = make_edge_table(seed=1)
    edge = edge.assign(config_id="edge-" + edge["config_id"].astype(str))
    table = pd.concat([study_table, edge], ignore_index=True)
    write_report(table, tmp_path, seed=0, n_boot=200)
    spread = pd.read_csv(tmp_path / "tables" / "sensitivity_summary.csv")
    got = spread[(spread["scope"] == "all") & (spread["metric"] == "accuracy")]
    # the reference: the same summary of the table without its edge rows
    ref = sensitivity_summary(prepare_results(study_table), "accuracy")
    ref = ref[ref["scope"] == "all"]
    counts = ["n_configs", "n_trials"]
    assert (
        got.set_index("arm")[counts].sort_index().equals(ref.set_index("arm")[counts].sort_index())
    )
    assert got["worst"].min() > 0.5  # no collapsed edge configuration among them
    ranges = pd.read_csv(tmp_path / "tables" / "ranges.csv")
    assert {"init_sigma", "lr"} <= set(ranges["knob"])  # the edge rows did reach the ranges


def test_the_spread_statistics_leave_the_edge_design_out(study_table: pd.DataFrame) -> None:
    """The library functions the notebook calls, too: the same answer with or without the edge
    design's rows."""
    from analysis import divergence_table, seed_vs_config_variance, tunability

    edge = make_edge_table(seed=1)
    edge = edge.assign(config_id="edge-" + edge["config_id"].astype(str))
    table = pd.concat([study_table, edge], ignore_index=True)
    for statistic in (sensitivity_summary, seed_vs_config_variance, tunability):
        pd.testing.assert_frame_equal(statistic(table), statistic(study_table))
    pd.testing.assert_frame_equal(divergence_table(table), divergence_table(study_table))
