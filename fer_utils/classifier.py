"""A trained checkpoint as a classifier: ``load_classifier(path).predict_proba(faces)``."""

import json
from pathlib import Path

import cv2
import numpy as np
import torch

from . import EMOTIONS
from .augment import preprocess, tta_views
from .checkpoint import CheckpointError, load_checkpoint
from .data import IMAGE_SIZE
from .device import pick_device
from .models import build_model
from .paths import MODELS_DIR, REPORTS_DIR, RUNS_DIR

REFERENCE_CHECKPOINT = MODELS_DIR / "fer2013-resnet18.pt"


def default_checkpoint() -> Path:
    """The project's reference checkpoint if there is one, else the newest best.pt under runs/."""
    if REFERENCE_CHECKPOINT.is_file():
        return REFERENCE_CHECKPOINT
    trained = sorted(RUNS_DIR.glob("*/best.pt"), key=lambda p: p.stat().st_mtime)
    if not trained:
        raise CheckpointError(
            f"No checkpoint found: neither {REFERENCE_CHECKPOINT} nor any runs/*/best.pt. "
            "Train one with notebook 02 or `python -m fer_utils.train --profile cpu`."
        )
    return trained[-1]


def balanced_runs() -> list[Path]:
    """Trained checkpoints under runs/ that used class-balanced loss or sampling, oldest first."""
    return [p for p in sorted(RUNS_DIR.glob("*/best.pt"), key=lambda p: p.stat().st_mtime)
            if load_checkpoint(p).get("config", {}).get("balance", "none") != "none"]


def resolve_checkpoint(checkpoint: str | Path | None = None) -> Path:
    """The checkpoint the notebooks evaluate: the one named; else the one notebook 02 just trained (its
    reports/training.json); else ``default_checkpoint()``."""
    if checkpoint:
        return Path(checkpoint)
    trained = REPORTS_DIR / "training.json"
    if trained.is_file():
        return Path(json.loads(trained.read_text())["best_checkpoint"])
    return default_checkpoint()


def to_faces(faces) -> np.ndarray:
    """A uint8 array (N,48,48), from such an array or from a list of grayscale/BGR/BGRA crops of any size."""
    if isinstance(faces, np.ndarray) and faces.ndim == 3 and faces.dtype == np.uint8:
        crops = list(faces) if faces.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) else None
        if crops is None:
            return faces
    elif isinstance(faces, (list, tuple)):
        crops = list(faces)
    else:
        raise TypeError("faces must be a uint8 array (N,48,48) or a list of face crops (H,W), (H,W,3) or (H,W,4)")
    out = np.empty((len(crops), IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    for i, crop in enumerate(crops):
        crop = np.asarray(crop)
        if crop.ndim == 3 and crop.shape[2] in (3, 4):
            crop = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY if crop.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
        if crop.ndim != 2 or crop.size == 0:
            raise ValueError(f"face {i} has shape {crop.shape}; expected (H,W), (H,W,3) or (H,W,4)")
        if crop.dtype != np.uint8:
            crop = np.clip(crop, 0, 255).astype(np.uint8)
        shrinking = crop.shape[0] > IMAGE_SIZE or crop.shape[1] > IMAGE_SIZE
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        out[i] = cv2.resize(crop, (IMAGE_SIZE, IMAGE_SIZE), interpolation=interpolation)
    return out


class FERClassifier:
    """A ResNet18 and its preprocessing, batched on one device."""

    def __init__(self, model: torch.nn.Module, model_cfg: dict, device: torch.device, checkpoint: dict, path: Path):
        self.model = model.eval()
        self.model_cfg = model_cfg
        self.device = device
        self.checkpoint_path = path
        self.history = checkpoint.get("history", [])
        self.provenance = checkpoint.get("provenance", {})
        self.config = checkpoint.get("config", {})
        self.classes = EMOTIONS

    @torch.no_grad()
    def logits(self, faces, tta: str = "none", batch_size: int = 512) -> np.ndarray:
        """Logits (N,7), averaged over the test-time views (``tta``: none, flip or ten-crop)."""
        faces = to_faces(faces)
        cfg = self.model_cfg
        out = []
        for start in range(0, len(faces), batch_size):
            batch = torch.from_numpy(faces[start:start + batch_size]).to(self.device)
            views = [self.model(preprocess(view, cfg["input_size"], cfg["mean"], cfg["std"], cfg["in_channels"]))
                     for view in tta_views(batch, tta)]
            out.append(torch.stack(views).float().mean(0).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, len(EMOTIONS)), np.float32)

    def predict_proba(self, faces, tta: str = "none", batch_size: int = 512) -> np.ndarray:
        """Probabilities (N,7), float32, in ``fer_utils.EMOTIONS`` order."""
        logits = torch.from_numpy(self.logits(faces, tta, batch_size))
        return torch.softmax(logits, dim=1).numpy().astype(np.float32)

    def predict(self, faces, tta: str = "none") -> list[str]:
        return [EMOTIONS[i] for i in self.predict_proba(faces, tta).argmax(1)]

    def __repr__(self) -> str:
        cfg = self.model_cfg
        return (f"FERClassifier({self.checkpoint_path}, resnet18 stem={cfg['stem']}, input {cfg['input_size']}px x "
                f"{cfg['in_channels']}ch, device={self.device})")


def load_classifier(path: Path | str | None = None, device: str = "auto") -> FERClassifier:
    """Load a fer-study checkpoint (default: ``default_checkpoint()``) onto a device."""
    path = Path(path) if path else default_checkpoint()
    checkpoint = load_checkpoint(path)
    cfg = checkpoint["model"]
    model, _ = build_model(cfg["stem"], cfg["in_channels"])
    try:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v
                               for k, v in checkpoint["state_dict"].items()})
    except RuntimeError as err:
        raise CheckpointError(f"{path}: its weights do not fit a ResNet18 with stem {cfg['stem']!r} "
                              f"and {cfg['in_channels']} channel(s): {str(err)[:300]}") from err
    target = pick_device(device, verbose=False)
    return FERClassifier(model.to(target), cfg, target, checkpoint, path)
