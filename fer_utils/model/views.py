"""What the model sees at evaluation: uint8 faces to its normalised input, the test-time views (flip, ten crops), and
batched logits averaged over the views.
``model_cfg`` is the dict a checkpoint records (``models.model_config``)."""

import torch
import torch.nn.functional as F

from .engines import TorchForward

TTA_MODES = ("none", "flip", "ten-crop")


def to_float(faces: torch.Tensor) -> torch.Tensor:
    """uint8 (N,H,W) to float (N,1,H,W) in [0, 1]."""
    return faces.unsqueeze(1).float().div_(255.0)


def normalise(x: torch.Tensor, model_cfg: dict) -> torch.Tensor:
    x = (x - model_cfg["mean"]) / model_cfg["std"]
    return x.expand(-1, model_cfg["in_channels"], -1, -1) if model_cfg["in_channels"] > 1 else x


def preprocess(faces: torch.Tensor, model_cfg: dict) -> torch.Tensor:
    """What the model sees at evaluation: the face resized to the input size, normalised."""
    size = model_cfg["input_size"]
    x = to_float(faces)
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return normalise(x, model_cfg)


def best_views(accuracy: dict) -> str:
    """The test-time views with the highest (validation) accuracy; a tie goes to fewer views."""
    return max(TTA_MODES, key=lambda mode: (accuracy[mode], -TTA_MODES.index(mode)))


CORNERS = {"top-left": (0, 0), "top-right": (0, 1), "bottom-left": (1, 0), "bottom-right": (1, 1),
           "centre": (0.5, 0.5)}  # where each of the ten crops sits, as a share of the room the crop leaves
VIEWS = {"none": ("face",), "flip": ("face", "face mirrored"),
         "ten-crop": (*CORNERS, *(f"{name} mirrored" for name in CORNERS))}  # the views each mode averages


def view(faces: torch.Tensor, name: str) -> torch.Tensor:
    """One named view of a uint8 batch: the faces, a crop of 90 % of the side (which ``preprocess`` resizes back to
    the model's input), or either mirrored."""
    base, mirrored = name.removesuffix(" mirrored"), name.endswith(" mirrored")
    if base != "face":
        side = faces.shape[-1]
        crop = round(side * 0.9)
        top, left = (int((side - crop) * share) for share in CORNERS[base])
        faces = faces[..., top:top + crop, left:left + crop]
    return faces.flip(-1) if mirrored else faces


def view_names(tta: str) -> tuple[str, ...]:
    if tta not in VIEWS:
        raise ValueError(f"tta must be one of {', '.join(TTA_MODES)}; got {tta!r}")
    return VIEWS[tta]


def view_logits(forward, faces: torch.Tensor, model_cfg: dict, names, batch_size: int = 512) -> dict:
    """{view name: float logits (N, classes)} of uint8 faces; all the views of a batch go through ``forward`` (a
    callable from normalised input to logits, ``fer_utils.model.engines``) in one pass of about ``batch_size``
    images."""
    names = list(names)
    step = max(1, batch_size // len(names))
    parts = {name: [] for name in names}
    for start in range(0, len(faces), step):
        chunk = faces[start:start + step]
        logits = forward(torch.cat([preprocess(view(chunk, name), model_cfg) for name in names]))
        for name, part in zip(names, logits.split(len(chunk))):
            parts[name].append(part)
    empty = torch.zeros((0, model_cfg["num_classes"]), device=faces.device)
    return {name: torch.cat(part) if part else empty for name, part in parts.items()}


def mean_of_views(per_view: dict, names) -> torch.Tensor:
    """The logits averaged over the named views."""
    return torch.stack([torch.as_tensor(per_view[name]) for name in names]).mean(0)


def batched_logits(model: torch.nn.Module, faces: torch.Tensor, model_cfg: dict, tta: str = "none",
                   batch_size: int = 512, bf16: bool = False, channels_last: bool = False) -> torch.Tensor:
    """Float logits (N, classes) of uint8 faces on the model's device, averaged over the test-time views, in
    PyTorch."""
    names = view_names(tta)
    forward = TorchForward(model, bf16, channels_last)
    return mean_of_views(view_logits(forward, faces, model_cfg, names, batch_size), names)
