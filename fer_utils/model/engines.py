"""What runs a network's forward pass: PyTorch on the model's device, or, on a CPU, onnxruntime on the same network,
exported once per checkpoint and precision into one cached file each (``network-<hash>.onnx``, and
``network-<hash>-int8.onnx`` for realtime use). Evaluation runs fp32; the demo's loop runs int8 where it keeps fp32's
labels (benchmarks/classifier_precision.py measures both against PyTorch).

An exported network takes normalised input (N,C,H,W), as ``fer_utils.model.views.preprocess`` makes it, and returns
logits (N,7) in ``fer_utils.EMOTIONS`` order.
"""

import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

TOLERANCE = 1e-4  # the largest logit difference from PyTorch that an exported model may have
MIN_INT8_AGREEMENT = 0.97  # the int8 network must give fp32's label on this share of held-out training faces: it
# lies between the 78.3 % of full-range int8 on a CPU without VNNI and the 99.2 % of the reduced range (int8_forward)
CALIBRATION_FACES = 512  # training faces that set int8's activation ranges (as many more are held out to check it);
# not tuned: with 512 the shipped int8 network agrees with fp32 on 99.2 % of held-out faces


class TorchForward:
    """The network in PyTorch, optionally in bf16 autocast and channels-last."""

    name = "torch"

    def __init__(self, model: torch.nn.Module, bf16: bool = False, channels_last: bool = False):
        self.model, self.bf16, self.channels_last = model, bf16, channels_last

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            return self.model(x).float()


class OnnxForward:
    """The network in onnxruntime on the CPU: normalised input (N,C,H,W) to logits. ``threads=1`` is for the demo's
    loop, where a detector, the tracker and decoding run between two calls: onnxruntime's threads spin after each
    call by default and take the cores those need, and a second thread gained nothing end to end, even on a crowd of
    five faces a frame (docs/realtime.md)."""

    def __init__(self, path: Path, threads: int = 0):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = Path(path)
        self.name = "onnxruntime int8" if self.path.stem.endswith("-int8") else "onnxruntime"
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.session.run(None, {"input": x.cpu().numpy()})[0])


def onnx_forward(model: torch.nn.Module, input_shape: tuple, path: Path, threads: int = 0) -> OnnxForward | None:
    """onnxruntime on ``model`` exported to ``path`` (made once, kept only if its logits match PyTorch's to
    ``TOLERANCE``); None where onnxruntime or the exporter is missing or the export does not match."""
    try:
        import onnx
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        return None
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.onnx")
        model = model.cpu().eval()
        with tempfile.TemporaryDirectory() as folder, torch.no_grad():
            exported = Path(folder) / "model.onnx"  # the exporter may put the weights in a file beside it
            torch.onnx.export(model, (torch.zeros(2, *input_shape),), str(exported), input_names=["input"],
                              output_names=["logits"], dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1)}},
                              dynamo=True, verbose=False)
            onnx.save(onnx.load(str(exported)), str(tmp))  # one file, the weights inside
        x = torch.from_numpy(np.random.default_rng(0).standard_normal((16, *input_shape), dtype=np.float32))
        with torch.no_grad():
            difference = (OnnxForward(tmp)(x) - model(x)).abs().max().item()
        if difference > TOLERANCE:
            print(f"running PyTorch: the ONNX export differs from it by {difference:.1e} (> {TOLERANCE:g})")
            tmp.unlink()
            return None
        tmp.replace(path)
    return OnnxForward(path, threads)


def int8_forward(fp32: OnnxForward, inputs) -> OnnxForward | str:
    """The int8 network beside ``fp32`` (made once), or why not: static QDQ quantisation by onnxruntime, weights per
    channel, activation ranges calibrated on the first of ``inputs()`` (normalised training faces, never test faces),
    kept only if it gives fp32's label on ``MIN_INT8_AGREEMENT`` of the second. A rejection is kept beside it, so it
    is not measured at every start. Weights use 7 of their 8 bits (``reduce_range``): on a CPU without VNNI,
    full-range int8 products saturate, and there the int8 network agreed with fp32 on 78.3 % of held-out training
    faces; with the reduced range, on 99.2 %."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    output = fp32.path.with_name(f"{fp32.path.stem}-int8.onnx")
    rejected = output.with_suffix(".rejected")
    if output.exists():
        return OnnxForward(output, threads=1)
    if rejected.exists():
        return rejected.read_text()
    try:
        calibration, held_out = inputs()
    except Exception as err:  # FER2013 is not at hand: nothing to calibrate on
        return f"no FER2013 training faces to calibrate int8 on ({type(err).__name__})"

    class Inputs(CalibrationDataReader):
        def __init__(self):
            self.batches = iter(calibration[i:i + 32] for i in range(0, len(calibration), 32))

        def get_next(self):
            batch = next(self.batches, None)
            return None if batch is None else {"input": batch}

    with tempfile.TemporaryDirectory() as folder:
        prepared, tmp = Path(folder) / "prepared.onnx", Path(folder) / "int8.onnx"
        quant_pre_process(str(fp32.path), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(tmp), Inputs(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, reduce_range=True)
        x = torch.from_numpy(held_out)
        agreement = float((OnnxForward(tmp)(x).argmax(1) == fp32(x).argmax(1)).float().mean())
        if agreement < MIN_INT8_AGREEMENT:
            rejected.write_text(f"int8 agrees with fp32 on only {agreement:.1%} of {len(held_out)} held-out "
                                "training faces")
            return rejected.read_text()
        shutil.move(tmp, output)
    return OnnxForward(output, threads=1)
