"""The two small computations that training, evaluation and the realtime path share."""

import numpy as np
import torch


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Probabilities over the last axis of ``logits`` divided by ``temperature``, in the logits' float type."""
    return torch.softmax(torch.as_tensor(logits) / temperature, dim=1).numpy()


def accuracy(predicted, labels) -> float:
    """The share of ``predicted`` labels (or of the argmax of scores (N, classes)) that equal ``labels``."""
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    if predicted.ndim == 2:
        predicted = predicted.argmax(1)
    return float((predicted == labels).mean()) if len(labels) else float("nan")
