"""Evaluation metrics for probabilistic classifiers.

Every function takes predictive probabilities ``probs`` of shape ``[N, C]`` (each row sums to 1,
e.g. the Bayesian model average of K softmax outputs) and, where needed, integer ``labels`` of
shape ``[N]``. Scalar metrics are returned as Python floats so they can go straight into a result
row. The computations run in float64 whatever the input dtype, so the value of a metric does not
depend on whether the model was evaluated in float32 or float64 (apart from the inputs' rounding).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "PROB_FLOOR",
    "accuracy",
    "brier",
    "classification_metrics",
    "ece",
    "max_probability",
    "nll",
    "ood_detection",
    "predictive_entropy",
]

# Probabilities are clamped here before the log in `nll`: a predictor that puts exactly zero
# mass on the true class (float32 softmax underflows for logit gaps above ~104) then costs
# -log(1e-12) ~ 27.6 nats for that example instead of an infinite mean. The floor is a fixed
# number rather than the dtype's smallest normal so float32 and float64 inputs agree.
PROB_FLOOR = 1e-12


def _check_probs(probs: Tensor) -> Tensor:
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] == 0:
        raise ValueError(f"probs must have shape [N, C] with N, C > 0, got {tuple(probs.shape)}")
    return probs.detach().to(torch.float64)


def _check(probs: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    p = _check_probs(probs)
    if labels.shape != (p.shape[0],):
        raise ValueError(
            f"labels must have shape [N] = [{p.shape[0]}] to match probs, got {tuple(labels.shape)}"
        )
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ValueError(f"labels must be an integer tensor, got {labels.dtype}")
    y = labels.detach().to(device=p.device, dtype=torch.long)
    if bool(((y < 0) | (y >= p.shape[1])).any()):
        raise ValueError(f"labels must lie in [0, {p.shape[1] - 1}]")
    return p, y


def accuracy(probs: Tensor, labels: Tensor) -> float:
    """Fraction of examples whose most probable class is the label.

    Args:
        probs: predictive probabilities ``[N, C]``.
        labels: integer class labels ``[N]``.

    Returns:
        Accuracy in [0, 1]. Ties go to the lowest class index (``torch.argmax``).
    """
    p, y = _check(probs, labels)
    return (p.argmax(dim=1) == y).double().mean().item()


def nll(probs: Tensor, labels: Tensor) -> float:
    """Mean negative log-likelihood of the labels, ``-mean_i log p_i[y_i]``.

    Args:
        probs: predictive probabilities ``[N, C]``.
        labels: integer class labels ``[N]``.

    Returns:
        Mean NLL in nats. Probabilities are clamped at ``PROB_FLOOR`` first, so a zero
        probability on the true class gives a large finite value rather than ``inf``.
    """
    p, y = _check(probs, labels)
    p_true = p.gather(1, y[:, None]).squeeze(1)
    return (-p_true.clamp_min(PROB_FLOOR).log()).mean().item()


def ece(probs: Tensor, labels: Tensor, n_bins: int = 15) -> float:
    """Top-label expected calibration error (Guo et al., 2017).

    The confidence of an example is its maximum probability. Examples are grouped into
    ``n_bins`` equal-width bins ``(k/n_bins, (k+1)/n_bins]`` of confidence (closed on the right,
    so a confidence exactly on an edge falls into the lower bin), and
    ``ECE = sum_b |B_b| / N * |accuracy(B_b) - mean confidence(B_b)|``. The edges are exact in
    float64: a float32 confidence that prints as an edge (``float32(0.4)`` is 0.4000000060)
    lies just above it and falls into the upper bin; torchmetrics computes float32 edges and
    closes its bins on the left, so such a confidence can land one bin apart there.

    Args:
        probs: predictive probabilities ``[N, C]``.
        labels: integer class labels ``[N]``.
        n_bins: number of equal-width confidence bins on (0, 1].

    Returns:
        ECE in [0, 1].
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    p, y = _check(probs, labels)
    confidence, prediction = p.max(dim=1)
    correct = (prediction == y).double()
    # k / n_bins in float64 is correctly rounded, so an edge equals the literal a user would
    # write (0.4 == 6 / 15); linspace does not guarantee that.
    inner_edges = torch.arange(1, n_bins, dtype=torch.float64, device=p.device) / n_bins
    # right=False: index i such that edge[i-1] < c <= edge[i], i.e. bins closed on the right.
    bin_index = torch.bucketize(confidence, inner_edges, right=False)
    conf_sum = torch.zeros(n_bins, dtype=torch.float64, device=p.device)
    conf_sum.index_add_(0, bin_index, confidence)
    correct_sum = torch.zeros(n_bins, dtype=torch.float64, device=p.device)
    correct_sum.index_add_(0, bin_index, correct)
    # |B_b|/N * |acc_b - conf_b| = |correct_sum_b - conf_sum_b| / N; empty bins contribute 0.
    return ((correct_sum - conf_sum).abs().sum() / p.shape[0]).item()


def brier(probs: Tensor, labels: Tensor) -> float:
    """Multi-class Brier score, ``mean_i sum_c (p_ic - 1[y_i = c])^2``.

    Args:
        probs: predictive probabilities ``[N, C]``.
        labels: integer class labels ``[N]``.

    Returns:
        Brier score in [0, 2]; 0 for a perfect, confident predictor and ``1 - 1/C`` for the
        uniform predictor.
    """
    p, y = _check(probs, labels)
    onehot = torch.nn.functional.one_hot(y, p.shape[1]).double()
    return (p - onehot).square().sum(dim=1).mean().item()


def predictive_entropy(probs: Tensor) -> Tensor:
    """Entropy of each predictive distribution, ``-sum_c p_c log p_c`` (with 0 log 0 = 0).

    Args:
        probs: predictive probabilities ``[N, C]``.

    Returns:
        Float64 tensor ``[N]`` of entropies in nats, in [0, log C].
    """
    p = _check_probs(probs)
    return -torch.special.xlogy(p, p).sum(dim=1)


def max_probability(probs: Tensor) -> Tensor:
    """Confidence of each prediction, the largest class probability.

    Args:
        probs: predictive probabilities ``[N, C]``.

    Returns:
        Float64 tensor ``[N]`` with values in [1/C, 1].
    """
    return _check_probs(probs).max(dim=1).values


def _detection_scores(in_scores: Tensor, out_scores: Tensor) -> dict[str, float]:
    # here, not at the top: training needs only torch (benchmarks/gpu.py on a bare GPU machine)
    from sklearn.metrics import average_precision_score, roc_auc_score

    # OOD is the positive class: a good score is higher on out-of-distribution inputs.
    scores = torch.cat([in_scores, out_scores]).cpu().numpy()
    is_ood = torch.cat([torch.zeros(len(in_scores)), torch.ones(len(out_scores))]).numpy()
    return {
        "auroc": float(roc_auc_score(is_ood, scores)),
        "aupr": float(average_precision_score(is_ood, scores)),
    }


def ood_detection(in_probs: Tensor, out_probs: Tensor) -> dict[str, float]:
    """How well predictive uncertainty separates in-distribution from OOD inputs.

    OOD inputs are the positive class. Two scores are evaluated: the predictive entropy (higher
    means more likely OOD) and the negative maximum probability. AUPR is scikit-learn's
    average precision, so its chance level is the fraction of OOD inputs.

    Args:
        in_probs: predictive probabilities ``[N_in, C]`` on in-distribution test inputs.
        out_probs: predictive probabilities ``[N_out, C]`` on out-of-distribution inputs.

    Returns:
        ``{"ood_auroc", "ood_aupr"}`` (entropy score) and
        ``{"ood_auroc_maxprob", "ood_aupr_maxprob"}`` (negative max-probability score).
    """
    if in_probs.ndim != 2 or out_probs.ndim != 2 or in_probs.shape[1] != out_probs.shape[1]:
        raise ValueError(
            "in_probs and out_probs must be [N, C] with the same C, got "
            f"{tuple(in_probs.shape)} and {tuple(out_probs.shape)}"
        )
    entropy = _detection_scores(predictive_entropy(in_probs), predictive_entropy(out_probs))
    maxprob = _detection_scores(-max_probability(in_probs), -max_probability(out_probs))
    return {
        "ood_auroc": entropy["auroc"],
        "ood_aupr": entropy["aupr"],
        "ood_auroc_maxprob": maxprob["auroc"],
        "ood_aupr_maxprob": maxprob["aupr"],
    }


def classification_metrics(probs: Tensor, labels: Tensor, n_bins: int = 15) -> dict[str, float]:
    """The standard in-distribution metrics in one dict.

    Args:
        probs: predictive probabilities ``[N, C]``.
        labels: integer class labels ``[N]``.
        n_bins: number of ECE bins.

    Returns:
        ``{"accuracy", "nll", "ece", "brier"}`` as floats.
    """
    return {
        "accuracy": accuracy(probs, labels),
        "nll": nll(probs, labels),
        "ece": ece(probs, labels, n_bins=n_bins),
        "brier": brier(probs, labels),
    }
