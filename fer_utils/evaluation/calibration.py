"""Calibration: expected calibration error, reliability curves, and temperature scaling fitted on validation."""

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import minimize_scalar
from sklearn.calibration import calibration_curve

from ..scores import softmax


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE of the top prediction: the support-weighted gap between confidence and accuracy over equal-width bins."""
    confidence = probs.max(1)
    correct = probs.argmax(1) == labels
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            ece += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(ece)


def reliability(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> tuple[np.ndarray, np.ndarray]:
    """(mean confidence, accuracy) per bin of the top prediction, from scikit-learn's calibration_curve."""
    correct = (probs.argmax(1) == labels).astype(int)
    accuracy, confidence = calibration_curve(correct, probs.max(1), n_bins=bins, strategy="uniform")
    return confidence, accuracy


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    return float(F.cross_entropy(torch.as_tensor(logits, dtype=torch.float64) / temperature,
                                 torch.as_tensor(labels)).item())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises the NLL of ``logits`` (fit it on the validation split, never on test)."""
    return float(minimize_scalar(lambda t: nll(logits, labels, t), bounds=(0.05, 20), method="bounded").x)


def temperature_scaling(val_logits: np.ndarray, val_labels: np.ndarray, test_logits: np.ndarray,
                        test_labels: np.ndarray) -> dict:
    """The temperature fitted on validation, and the test ECE and NLL before and after applying it."""
    temperature = fit_temperature(val_logits, val_labels)
    return {"temperature": temperature,
            "ece_raw": expected_calibration_error(softmax(test_logits), test_labels),
            "ece_scaled": expected_calibration_error(softmax(test_logits, temperature), test_labels),
            "nll_raw": nll(test_logits, test_labels), "nll_scaled": nll(test_logits, test_labels, temperature)}


def reliability_before_after(logits: np.ndarray, labels: np.ndarray, scaling: dict) -> dict:
    """{title: (confidence, accuracy, ece)} of the raw and the temperature-scaled probabilities (for
    ``plots.reliability_diagrams``)."""
    scaled = f"temperature {scaling['temperature']:.2f}"
    return {"raw": (*reliability(softmax(logits), labels), scaling["ece_raw"]),
            scaled: (*reliability(softmax(logits, scaling["temperature"]), labels), scaling["ece_scaled"])}
