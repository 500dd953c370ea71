"""fer-study: facial emotion recognition on FER2013, from data to live demo."""

from .labels import EMOTIONS

__version__ = "0.1.0"
__all__ = ["EMOTIONS", "load_classifier"]


def load_classifier(path=None, device="auto"):
    """Load a trained checkpoint as a classifier with ``predict_proba(faces)``."""
    from .classifier import load_classifier as _load

    return _load(path, device)
