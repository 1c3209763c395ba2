"""Analysis of study results: how sensitive SSVI is to its hyperparameters versus dense VI.

Reads the results table written by ``studies`` (docs/results-table.md) with pandas; never
imports torch, ray or ssvi. Typical use::

    from analysis import load_results, verdicts, write_report
    df = load_results("results/local-robustness")
    verdicts(df)                  # one row per verdict, with intervals and Holm's correction
    write_report(df, "report/")   # or: python -m analysis.report RESULTS --out DIR
"""

from analysis._curves import plot_marginal_effects, plot_oat_curves, plot_tuning_curves
from analysis._forest import plot_forest
from analysis._importance import NotEnoughTrialsError, importance
from analysis._load import ResultsTableError, load_results, prepare_results, score_at_chance
from analysis._plots import plot_accuracy_vs_flops, plot_ecdf, plot_heatmaps, plot_importance
from analysis._pool import Pooled, PoolError, pool
from analysis._range_report import plot_working_ranges
from analysis._ranges import working_ranges
from analysis._report import write_report
from analysis._schema import METRICS, Metric
from analysis._stats import (
    divergence_table,
    marginal_effects,
    seed_vs_config_variance,
    sensitivity_summary,
    tunability,
)
from analysis._style import save_figure
from analysis._tuning import near_best, tuning_curves
from analysis._verdicts import sentence, verdicts

__all__ = [
    "METRICS",
    "Metric",
    "NotEnoughTrialsError",
    "PoolError",
    "Pooled",
    "ResultsTableError",
    "divergence_table",
    "importance",
    "load_results",
    "marginal_effects",
    "near_best",
    "plot_accuracy_vs_flops",
    "plot_ecdf",
    "plot_forest",
    "plot_heatmaps",
    "plot_importance",
    "plot_marginal_effects",
    "plot_oat_curves",
    "plot_tuning_curves",
    "plot_working_ranges",
    "pool",
    "prepare_results",
    "save_figure",
    "score_at_chance",
    "seed_vs_config_variance",
    "sentence",
    "sensitivity_summary",
    "tunability",
    "tuning_curves",
    "verdicts",
    "working_ranges",
    "write_report",
]
