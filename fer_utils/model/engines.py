"""What runs a network's forward pass at evaluation: PyTorch on the model's device, or, on a CPU, onnxruntime on the
same network exported once per checkpoint (benchmarks/evaluation_time.py measures both, and their accuracy)."""

import inspect
import tempfile
from pathlib import Path

import numpy as np
import torch

TOLERANCE = 1e-4  # the largest logit difference from PyTorch that an exported model may have


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
    """The network in onnxruntime (fp32, CPU): normalised input (N,C,H,W) to logits."""

    name = "onnxruntime"

    def __init__(self, path: Path):
        import onnxruntime

        self.path = path
        self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.session.run(None, {"input": x.cpu().numpy()})[0])


def export_onnx(module: torch.nn.Module, example: torch.Tensor, output: Path, input_name: str) -> Path:
    """``module`` as one ONNX file (the weights inside) with a dynamic batch, written to ``output``."""
    import onnx

    argument = next(iter(inspect.signature(module.forward).parameters))
    batch = torch.export.Dim("batch", min=1)
    with tempfile.TemporaryDirectory() as folder, torch.no_grad():
        exported = Path(folder) / "model.onnx"  # the exporter may put the weights in a file beside it
        torch.onnx.export(module, (example,), str(exported), input_names=[input_name], output_names=["logits"],
                          dynamic_shapes={argument: {0: batch}}, dynamo=True, verbose=False)
        onnx.save(onnx.load(str(exported)), str(output))
    return Path(output)


def export_network(model: torch.nn.Module, input_shape: tuple, output: Path) -> Path:
    """The bare network (normalised input to logits) as ONNX, written to ``output``."""
    return export_onnx(model.cpu().eval(), torch.zeros(2, *input_shape), output, "input")


def onnx_forward(model: torch.nn.Module, input_shape: tuple, path: Path) -> OnnxForward | None:
    """onnxruntime on ``model`` exported to ``path`` (made once, kept only if its logits match PyTorch's to
    ``TOLERANCE``); None where onnxruntime or the exporter is missing or the export does not match."""
    try:
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        return None
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.onnx")
        export_network(model, input_shape, tmp)
        x = torch.from_numpy(np.random.default_rng(0).standard_normal((16, *input_shape), dtype=np.float32))
        with torch.no_grad():
            difference = (OnnxForward(tmp)(x) - model(x)).abs().max().item()
        if difference > TOLERANCE:
            print(f"evaluating in PyTorch: the ONNX export differs from it by {difference:.1e} (> {TOLERANCE:g})")
            tmp.unlink()
            return None
        tmp.replace(path)
    return OnnxForward(path)
