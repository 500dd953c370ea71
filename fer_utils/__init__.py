"""fer-study: facial emotion recognition on FER2013, from data to live demo.

The package's stages, in the order the data flows and each importing only those before it: the base modules
(``labels``, ``paths``, ``device``, ``scores``, ``provenance``), then ``data``, ``model``, ``evaluation``,
``training``, ``realtime`` and ``report``. The public API: ``load_classifier``, ``EMOTIONS``, ``EmotionRecognizer``.
"""

from .labels import EMOTIONS

__version__ = "0.1.0"
__all__ = ["EMOTIONS", "EmotionRecognizer", "load_classifier"]


def load_classifier(path=None, device="auto"):
    """Load a trained checkpoint as a classifier with ``predict_proba(faces)``."""
    from .model.classifier import load_classifier as _load

    return _load(path, device)


def __getattr__(name: str):
    """``fer_utils.EmotionRecognizer``, imported on first use (the realtime stage loads OpenCV and a detector)."""
    if name == "EmotionRecognizer":
        from .realtime.recognizer import EmotionRecognizer

        return EmotionRecognizer
    raise AttributeError(f"module 'fer_utils' has no attribute {name!r}")
