"""A trained checkpoint as a classifier: ``load_classifier(path).predict_proba(faces)``, with the test-time views
the checkpoint chose, in onnxruntime on a CPU where it is installed, else PyTorch; ``fast_classifier`` gives one view
a face for the demo's loop, in int8 where that keeps fp32's labels.

    python -m fer_utils.model.classifier --output fer2013-resnet18.onnx   # the shipped model as ONNX, checked
"""

import argparse
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

from ..data.fer2013 import IMAGE_SIZE, load_arrays
from ..device import pick_device
from ..labels import EMOTIONS
from ..paths import DATA_DIR, RUNS_DIR, SHIPPED_CHECKPOINT
from ..provenance import file_sha256
from ..scores import softmax
from .checkpoint import CheckpointError, load_checkpoint
from .engines import CALIBRATION_FACES, TOLERANCE, OnnxForward, TorchForward, int8_forward, onnx_forward
from .logit_cache import LogitCache
from .network import build_model
from .views import mean_of_views, preprocess, view_logits, view_names

ENGINES = ("auto", "torch")  # auto: onnxruntime on a CPU where it is installed and matches PyTorch, else torch
CACHE = DATA_DIR / "cache"  # the exported networks, and the logits under logits/
PRECISIONS = ("int8", "fp32")  # the demo's: int8 first, 2.2x fp32's speed a face at batch 1 with 67.25 % test
# accuracy against fp32's 67.15 % (benchmarks/classifier_precision.py, models/classifier-precision.json)


def default_checkpoint() -> Path:
    """The shipped checkpoint if there is one, else the newest best.pt under runs/."""
    if SHIPPED_CHECKPOINT.is_file():
        return SHIPPED_CHECKPOINT
    trained = sorted(RUNS_DIR.glob("*/best.pt"), key=lambda p: p.stat().st_mtime)
    if not trained:
        raise CheckpointError(
            f"No checkpoint found: neither {SHIPPED_CHECKPOINT} nor any runs/*/best.pt. "
            "Train one with notebook 02 or `python -m fer_utils.training.train --profile cpu`."
        )
    return trained[-1]


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
    """A ResNet18 and its preprocessing, batched on one device. Predictions average the test-time views that the
    checkpoint chose on validation (``tta``), unless a call names others. ``forward`` runs the network (PyTorch, or
    onnxruntime; ``fer_utils.model.engines``); with a ``cache``, the logits of each image set and view are
    computed once."""

    def __init__(self, model: torch.nn.Module, model_cfg: dict, device: torch.device, checkpoint: dict, path: Path,
                 forward=None, cache: LogitCache | None = None):
        self.model = model.eval()
        self.model_cfg = model_cfg
        self.device = device
        self.checkpoint_path = path
        self.provenance = checkpoint.get("provenance", {})
        self.config = checkpoint.get("config", {})
        self.tta = checkpoint.get("tta", "none")
        self.tta_val_acc = checkpoint.get("tta_val_acc", {})
        self.classes = EMOTIONS
        self.forward = forward or TorchForward(self.model)
        self.cache = cache

    def view_logits(self, faces, views, batch_size: int = 512, cache: bool = True) -> dict[str, np.ndarray]:
        """{view: logits (N,7)} for the named views (``fer_utils.model.views.VIEWS``), from the cache where it has
        them."""
        faces = to_faces(faces)
        cache = self.cache if cache else None
        found = cache.load(faces, views) if cache else {}
        missing = [view for view in views if view not in found]
        if missing:
            computed = view_logits(self.forward, torch.from_numpy(faces).to(self.device), self.model_cfg, missing,
                                   batch_size)
            computed = {view: logits.cpu().numpy() for view, logits in computed.items()}
            if cache:
                cache.save(faces, computed)
            found.update(computed)
        return found

    def logits(self, faces, tta: str | None = None, batch_size: int = 512, cache: bool = True) -> np.ndarray:
        """Logits (N,7), averaged over the test-time views (``tta``: none, flip or ten-crop; default: the
        checkpoint's)."""
        views = view_names(self.tta if tta is None else tta)
        return mean_of_views(self.view_logits(faces, views, batch_size, cache), views).numpy()

    def predict_proba(self, faces, tta: str | None = None, batch_size: int = 512, cache: bool = True) -> np.ndarray:
        """Probabilities (N,7), float32, in ``fer_utils.EMOTIONS`` order."""
        return softmax(self.logits(faces, tta, batch_size, cache))  # float32, as the logits

    def __repr__(self) -> str:
        cfg = self.model_cfg
        return (f"FERClassifier({self.checkpoint_path}, resnet18 stem={cfg['stem']}, input {cfg['input_size']}px "
                f"x {cfg['in_channels']}ch, test-time views {self.tta}, "
                f"device={self.device}, {self.forward.name}{', logits cached' if self.cache else ''})")


def load_classifier(path: Path | str | None = None, device: str = "auto", engine: str = "auto",
                    cache: bool = False) -> FERClassifier:
    """Load a fer-study checkpoint (default: ``default_checkpoint()``) onto a device. ``engine`` "auto" runs the
    network in onnxruntime on a CPU where that is installed; ``cache`` keeps the logits under data/cache/logits."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}")
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
    model = model.to(target).eval()
    classifier = FERClassifier(model, cfg, target, checkpoint, path)
    if engine == "auto":
        classifier.forward = cached_onnx(classifier) or classifier.forward
    if cache:
        classifier.cache = LogitCache(CACHE / "logits", file_sha256(path), classifier.forward.name)
    return classifier


def cached_onnx(classifier: FERClassifier, threads: int = 0) -> OnnxForward | None:
    """onnxruntime on the classifier's network in fp32, exported once into ``CACHE``; None on a GPU, or where
    onnxruntime is missing or the export does not match PyTorch."""
    if classifier.device.type != "cpu":
        return None
    cfg = classifier.model_cfg
    path = CACHE / f"network-{file_sha256(classifier.checkpoint_path)[:16]}.onnx"
    return onnx_forward(classifier.model, (cfg["in_channels"], cfg["input_size"], cfg["input_size"]), path, threads)


class SingleView:
    """A classifier that predicts from one view (no test-time views) through ``forward``, for the demo's loop."""

    def __init__(self, classifier: FERClassifier, forward=None):
        self.classifier, self.forward = classifier, forward or classifier.forward

    def predict_proba(self, faces) -> np.ndarray:
        x = preprocess(torch.from_numpy(to_faces(faces)).to(self.classifier.device), self.classifier.model_cfg)
        return softmax(self.forward(x).cpu().numpy())  # a frame's faces: never cached

    def __repr__(self) -> str:
        return f"{Path(self.classifier.checkpoint_path).name}, {self.forward.name}, one view"


def fast_classifier(classifier: FERClassifier, precision: str = "int8", data_dir: str | None = None) -> SingleView:
    """One view a face, for the demo's loop: on a CPU, onnxruntime on one thread, in ``precision``; else the
    classifier's own engine. int8 (the default) is calibrated on FER2013 training faces; where they are not at hand,
    or int8 does not keep fp32's labels (``engines.int8_forward``), it runs fp32, and a line says why."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    forward = cached_onnx(classifier, threads=1)
    if forward is not None and precision == "int8":
        quantized = int8_network(classifier, forward, data_dir)
        if isinstance(quantized, str):
            print(f"realtime classifier in fp32: {quantized}")
        else:
            forward = quantized
    return SingleView(classifier, forward)


def int8_network(classifier: FERClassifier, fp32: OnnxForward, data_dir: str | None) -> OnnxForward | str:
    """``engines.int8_forward`` calibrated on ``CALIBRATION_FACES`` FER2013 training faces and checked on as many
    others (or why not)."""

    def inputs():
        train = load_arrays(data_dir, verbose=False).split("train")
        chosen = np.random.default_rng(0).permutation(len(train))[:2 * CALIBRATION_FACES]
        faces = preprocess(torch.from_numpy(train.images[chosen]), classifier.model_cfg).numpy()
        return faces[:CALIBRATION_FACES], faces[CALIBRATION_FACES:]

    return int8_forward(fp32, inputs)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="default: the shipped model, else the newest run")
    parser.add_argument("--output", type=Path, required=True, help="where to write the .onnx file")
    args = parser.parse_args(argv)
    forward = cached_onnx(load_classifier(args.checkpoint, device="cpu"))
    if forward is None:
        print("no ONNX export: it needs onnxruntime and onnxscript (pip install -e '.[export]'), and an export "
              f"that matches PyTorch to {TOLERANCE:g}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(forward.path, args.output)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.1f} MB), its logits within {TOLERANCE:g} of "
          "PyTorch's; its input is normalised faces (fer_utils.model.views.preprocess)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
