"""Analysis of study results: how sensitive SSVI is to its hyperparameters versus dense VI.

Reads the results table written by ``studies`` (docs/results-table.md) with pandas; never
imports torch, ray or ssvi. Typical use::

    from analysis import load_results, compare_methods, write_report
    df = load_results("results/digits-robustness")
    compare_methods(df, "accuracy")          # verdicts with bootstrap intervals
    write_report(df, "report/")              # or: python -m analysis.report RESULTS --out DIR
"""

from analysis._compare import compare_methods
from analysis._curves import plot_marginal_effects, plot_oat_curves
from analysis._importance import NotEnoughTrialsError, importance
from analysis._load import ResultsTableError, load_results, prepare_results
from analysis._plots import plot_accuracy_vs_flops, plot_ecdf, plot_heatmaps, plot_importance
from analysis._report import write_report
from analysis._schema import METRICS, Metric
from analysis._stats import (
    marginal_effects,
    seed_vs_config_variance,
    sensitivity_summary,
    tunability,
)
from analysis._style import save_figure

__all__ = [
    "METRICS",
    "Metric",
    "NotEnoughTrialsError",
    "ResultsTableError",
    "compare_methods",
    "importance",
    "load_results",
    "marginal_effects",
    "plot_accuracy_vs_flops",
    "plot_ecdf",
    "plot_heatmaps",
    "plot_importance",
    "plot_marginal_effects",
    "plot_oat_curves",
    "prepare_results",
    "save_figure",
    "seed_vs_config_variance",
    "sensitivity_summary",
    "tunability",
    "write_report",
]
