"""Tests for ssvi.metrics against hand-computed values and independent references."""

from __future__ import annotations

import math

import pytest
import torch

from ssvi.metrics import (
    PROB_FLOOR,
    accuracy,
    brier,
    classification_metrics,
    ece,
    max_probability,
    nll,
    ood_detection,
    predictive_entropy,
)

# Four examples: two correct (confidence 0.9, 0.7), two wrong (confidence 0.8, 0.6).
PROBS = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]], dtype=torch.float64)
LABELS = torch.tensor([0, 1, 1, 0])


def _ece_reference(probs: torch.Tensor, labels: torch.Tensor, n_bins: int) -> float:
    """Loop over bins (lower, upper] as in Guo et al.'s reference code."""
    conf, pred = probs.max(dim=1)
    correct = (pred == labels).double()
    total = 0.0
    for k in range(n_bins):
        lower, upper = k / n_bins, (k + 1) / n_bins
        in_bin = (conf > lower) & (conf <= upper)
        if in_bin.any():
            weight = in_bin.double().mean().item()
            total += weight * abs(correct[in_bin].mean().item() - conf[in_bin].mean().item())
    return total


def test_hand_computed_small_case() -> None:
    assert accuracy(PROBS, LABELS) == 0.5
    expected_nll = -(math.log(0.9) + math.log(0.2) + math.log(0.7) + math.log(0.4)) / 4
    assert nll(PROBS, LABELS) == pytest.approx(expected_nll, abs=1e-15)
    # (0.01 + 0.01) + (0.64 + 0.64) + (0.09 + 0.09) + (0.36 + 0.36) = 2.2
    assert brier(PROBS, LABELS) == pytest.approx(2.2 / 4, abs=1e-15)
    # 15 bins: every example in its own bin, so ECE = mean |correct - confidence|.
    assert ece(PROBS, LABELS) == pytest.approx((0.1 + 0.8 + 0.3 + 0.6) / 4, abs=1e-15)


def test_ece_edges_fall_into_lower_bin() -> None:
    # 5 bins with edges 0.2, 0.4, 0.6, 0.8: confidences 0.8 and 0.6 lie exactly on edges.
    # Bins (0.8, 1]: {0.9 right}; (0.6, 0.8]: {0.8 wrong, 0.7 right}; (0.4, 0.6]: {0.6 wrong}.
    # ECE = 1/4 * 0.1 + 2/4 * |0.5 - 0.75| + 1/4 * 0.6 = 0.025 + 0.125 + 0.15 = 0.3
    # (with edges in the upper bin it would be 0.25).
    assert ece(PROBS, LABELS, n_bins=5) == pytest.approx(0.3, abs=1e-15)


def test_ece_edges_default_bins() -> None:
    # 0.4 = 6/15 is an edge of the default 15 bins; 0.4 + 1e-7 is just above it.
    probs = torch.tensor([[0.4, 0.3, 0.3], [0.4 + 1e-7, 0.3, 0.3 - 1e-7]], dtype=torch.float64)
    labels = torch.tensor([0, 1])
    # Separate bins: (|1 - 0.4| + |0 - 0.4000001|) / 2. Same bin would give about 0.1.
    assert ece(probs, labels) == pytest.approx((0.6 + 0.4 + 1e-7) / 2, abs=1e-12)
    # 1/3 = 5/15 is an edge, too: confidence 1/3 (right) shares bin (4/15, 5/15] with 0.3
    # (wrong): ECE = |0.5 - (1/3 + 0.3) / 2|. In separate bins it would be (2/3 + 0.3) / 2.
    probs = torch.tensor([[1 / 3, 1 / 3, 1 / 3, 0.0], [0.3, 0.3, 0.2, 0.2]], dtype=torch.float64)
    expected = abs(0.5 - (1 / 3 + 0.3) / 2)
    assert ece(probs, torch.tensor([0, 1])) == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize("n_bins", [1, 4, 10, 15])
def test_ece_matches_loop_reference(n_bins: int) -> None:
    gen = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(500, 10, generator=gen, dtype=torch.float64)
    probs = logits.softmax(dim=1)
    labels = torch.randint(0, 10, (500,), generator=gen)
    expected = _ece_reference(probs, labels, n_bins)
    assert ece(probs, labels, n_bins=n_bins) == pytest.approx(expected, abs=1e-12)


def test_perfect_predictor() -> None:
    labels = torch.tensor([2, 0, 1, 1, 3])
    probs = torch.nn.functional.one_hot(labels, 4).double()
    metrics = classification_metrics(probs, labels)
    assert metrics == {"accuracy": 1.0, "nll": 0.0, "ece": 0.0, "brier": 0.0}
    assert torch.equal(predictive_entropy(probs), torch.zeros(5, dtype=torch.float64))
    assert torch.equal(max_probability(probs), torch.ones(5, dtype=torch.float64))


@pytest.mark.parametrize("num_classes", [2, 10, 100])
def test_uniform_predictor(num_classes: int) -> None:
    labels = torch.arange(50) % num_classes
    probs = torch.full((50, num_classes), 1 / num_classes, dtype=torch.float64)
    assert nll(probs, labels) == pytest.approx(math.log(num_classes), abs=1e-12)
    assert brier(probs, labels) == pytest.approx(1 - 1 / num_classes, abs=1e-12)
    assert torch.allclose(
        predictive_entropy(probs), torch.full((50,), math.log(num_classes), dtype=torch.float64)
    )


def test_nll_zero_probability_is_finite() -> None:
    probs = torch.tensor([[1.0, 0.0], [0.5, 0.5]], dtype=torch.float64)
    labels = torch.tensor([1, 0])
    value = nll(probs, labels)
    assert math.isfinite(value)
    assert value == pytest.approx((-math.log(PROB_FLOOR) + math.log(2)) / 2, abs=1e-12)


def test_float32_input_agrees_with_float64() -> None:
    probs32 = PROBS.float()
    for fn in (accuracy, nll, brier):
        assert fn(probs32, LABELS) == pytest.approx(fn(PROBS, LABELS), abs=1e-6)
    assert ece(probs32, LABELS) == pytest.approx(ece(PROBS, LABELS), abs=1e-6)
    assert isinstance(nll(probs32, LABELS), float)


def test_input_validation() -> None:
    with pytest.raises(ValueError, match="shape"):
        accuracy(PROBS, LABELS[:3])
    with pytest.raises(ValueError, match="integer"):
        nll(PROBS, LABELS.double())
    with pytest.raises(ValueError, match="lie in"):
        brier(PROBS, torch.tensor([0, 1, 2, 0]))
    with pytest.raises(ValueError, match=r"\[N, C\]"):
        predictive_entropy(torch.ones(3))
    with pytest.raises(ValueError, match="n_bins"):
        ece(PROBS, LABELS, n_bins=0)


def test_ood_perfectly_separable() -> None:
    in_probs = torch.tensor([[0.97, 0.01, 0.02], [0.05, 0.9, 0.05], [0.0, 0.0, 1.0]])
    out_probs = torch.tensor([[0.4, 0.3, 0.3], [1 / 3, 1 / 3, 1 / 3]])
    result = ood_detection(in_probs.double(), out_probs.double())
    assert result == {
        "ood_auroc": 1.0,
        "ood_aupr": 1.0,
        "ood_auroc_maxprob": 1.0,
        "ood_aupr_maxprob": 1.0,
    }


def test_ood_hand_computed_ranking() -> None:
    # Binary predictions whose entropy and max probability both order the examples as
    # p_max = 0.95 (in) < 0.9 (out) < 0.8 (in) < 0.6 (out) in uncertainty.
    # OOD positives ranked by score: out(0.6) first, then in(0.8), then out(0.9), then in.
    # Pairs (out, in) with out more uncertain: (0.6, 0.8), (0.6, 0.95), (0.9, 0.95) -> 3 of 4.
    in_probs = torch.tensor([[0.95, 0.05], [0.2, 0.8]], dtype=torch.float64)
    out_probs = torch.tensor([[0.1, 0.9], [0.6, 0.4]], dtype=torch.float64)
    result = ood_detection(in_probs, out_probs)
    assert result["ood_auroc"] == pytest.approx(0.75)
    assert result["ood_auroc_maxprob"] == pytest.approx(0.75)
    # Average precision: precision 1 at the first positive, 2/3 at the second -> (1 + 2/3) / 2.
    assert result["ood_aupr"] == pytest.approx(5 / 6)
    assert result["ood_aupr_maxprob"] == pytest.approx(5 / 6)


def test_ood_identical_distributions_is_chance() -> None:
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(40_000, 10, generator=gen, dtype=torch.float64)
    probs = logits.softmax(dim=1)
    result = ood_detection(probs[:20_000], probs[20_000:])
    for key in ("ood_auroc", "ood_auroc_maxprob", "ood_aupr", "ood_aupr_maxprob"):
        assert result[key] == pytest.approx(0.5, abs=0.015), key


def test_ece_bins_are_closed_on_the_right_with_exact_float64_edges() -> None:
    # two examples: confidence 0.4 (correct) and 0.38 (wrong). In one bin (1/3, 0.4] the ECE is
    # |1 - 0.78| / 2; in two bins it is (0.6 + 0.38) / 2.
    def two(dtype: torch.dtype) -> float:
        top = torch.tensor([0.4, 0.38], dtype=dtype)
        rest = (1 - top) / 2
        probs = torch.stack([top, rest, rest], dim=1)  # three classes: the top one is class 0
        return ece(probs, torch.tensor([0, 1]), n_bins=15)

    assert two(torch.float64) == pytest.approx(0.11, abs=1e-12)  # 0.4 is the edge: lower bin
    assert two(torch.float32) == pytest.approx(0.49, abs=1e-6)  # float32(0.4) > 0.4: upper bin
