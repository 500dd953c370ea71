"""The classifier's onnxruntime twin for realtime use on a CPU: the same network and preprocessing, one view per
face, exported once per checkpoint (cached by its hash), checked against PyTorch, and quantised to int8 where that
keeps fp32's labels."""

from pathlib import Path

import numpy as np

from ..data.fer2013 import load_arrays
from ..paths import DATA_DIR
from ..provenance import file_sha256
from ..scores import softmax
from .classifier import FERClassifier, SingleView, to_faces
from .engines import TOLERANCE
from .export import difference_from_pytorch, export, quantize_int8, run_exported

PRECISIONS = ("int8", "fp32")
MIN_INT8_AGREEMENT = 0.97  # the int8 model must give fp32's label on this share of held-out training faces
CALIBRATION_FACES = 512  # training faces that set int8's activation ranges; as many more are held out to check it


class OnnxClassifier:
    """Single-view ``predict_proba`` through onnxruntime, in fp32 or int8 (benchmarks/classifier_precision.py
    measures both against PyTorch). For realtime use, where one view per face is what a frame affords."""

    def __init__(self, classifier: FERClassifier, path: Path, precision: str = "fp32", threads: int = 1):
        import onnxruntime

        self.classifier, self.path, self.precision = classifier, path, precision
        # In the demo's loop a detector, the tracker and decoding run between two calls. onnxruntime's threads spin
        # after each call by default and take the cores those need; a second thread gained nothing end to end, even
        # on a crowd of five faces a frame (docs/experiments.md): one thread, and none left spinning
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def predict_proba(self, faces) -> np.ndarray:
        return softmax(self.session.run(None, {"faces": to_faces(faces)})[0])

    def __repr__(self) -> str:
        return f"OnnxClassifier({Path(self.classifier.checkpoint_path).name}, onnxruntime {self.precision}, one view)"


def fast_classifier(classifier: FERClassifier, cache_dir: Path | str | None = None, precision: str = "int8",
                    data_dir: str | None = None):
    """A single-view classifier for realtime use: the onnxruntime twin of a CPU classifier, else the PyTorch
    classifier asked for one view, when onnxruntime is missing or the model runs on a GPU.

    ``precision`` "int8" (the default) quantises the twin, calibrated on ``CALIBRATION_FACES`` FER2013 training
    faces. Where FER2013 is not at hand to calibrate on, or the int8 labels agree with fp32 on fewer than
    ``MIN_INT8_AGREEMENT`` of held-out training faces, the fp32 twin is used, and a line says why."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    if classifier.device.type != "cpu":
        return SingleView(classifier)
    try:
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        return SingleView(classifier)
    stem = Path(cache_dir or DATA_DIR / "cache") / f"model-{file_sha256(classifier.checkpoint_path)[:16]}"
    path = stem.with_suffix(".onnx")
    if not path.exists():
        tmp = path.with_suffix(".tmp.onnx")
        export(classifier.model, classifier.model_cfg, "onnx", tmp)
        faces = np.random.default_rng(0).integers(0, 256, (32, 48, 48), dtype=np.uint8)
        if difference_from_pytorch(classifier, tmp, faces) > TOLERANCE:
            tmp.unlink()
            return SingleView(classifier)
        tmp.replace(path)
    if precision == "fp32":
        return OnnxClassifier(classifier, path)
    quantized = Path(f"{stem}-int8-7bit.onnx")  # 7-bit weights (quantize_int8): older 8-bit verdicts do not apply
    if not quantized.exists():
        rejected = rejected_file(quantized)
        problem = rejected.read_text() if rejected.exists() else quantize(path, quantized, data_dir)
        if problem:
            print(f"realtime classifier in fp32: {problem}")
            return OnnxClassifier(classifier, path)
    return OnnxClassifier(classifier, quantized, "int8")


def rejected_file(quantized: Path) -> Path:
    """Where the reason an int8 twin was rejected is kept, beside where it would have been."""
    return quantized.with_suffix(".rejected")


def quantize(fp32_path: Path, output: Path, data_dir: str | None) -> str:
    """Write the int8 twin to ``output``; return why not, if it cannot be made or disagrees with fp32."""
    try:
        train = load_arrays(data_dir, verbose=False).split("train")
    except Exception as err:  # FER2013 is not at hand: nothing to calibrate on
        return f"no FER2013 training faces to calibrate int8 on ({type(err).__name__})"
    chosen = np.random.default_rng(0).permutation(len(train))[:2 * CALIBRATION_FACES]
    calibration, held_out = train.images[chosen[:CALIBRATION_FACES]], train.images[chosen[CALIBRATION_FACES:]]
    tmp = output.with_suffix(".tmp.onnx")
    quantize_int8(fp32_path, tmp, calibration)
    agreement = float((run_exported(tmp, held_out).argmax(1) == run_exported(fp32_path, held_out).argmax(1)).mean())
    if agreement < MIN_INT8_AGREEMENT:
        tmp.unlink()
        problem = f"int8 agrees with fp32 on only {agreement:.1%} of {len(held_out)} held-out training faces"
        rejected_file(output).write_text(problem)  # this checkpoint's verdict, so it is not measured at every start
        return problem
    tmp.replace(output)
    return ""
