"""Batched preprocessing and augmentation as tensor ops on the training device (no per-image PIL work), and the
test-time views.

Faces stay uint8 (N,48,48) on the device. One ``grid_sample`` per batch applies a random flip, rotation, translation
and zoom and produces the model's input: the whole face resized, or a random crop of it when the model trains on
crops. Random erasing and normalisation follow. ``model_cfg`` is the dict a checkpoint records
(``models.model_config``).
"""

import math

import torch
import torch.nn.functional as F

TTA_MODES = ("none", "flip", "ten-crop")


def _to_float(faces: torch.Tensor) -> torch.Tensor:
    """uint8 (N,H,W) to float (N,1,H,W) in [0, 1]."""
    return faces.unsqueeze(1).float().div_(255.0)


def normalise(x: torch.Tensor, model_cfg: dict) -> torch.Tensor:
    x = (x - model_cfg["mean"]) / model_cfg["std"]
    return x.expand(-1, model_cfg["in_channels"], -1, -1) if model_cfg["in_channels"] > 1 else x


def centre_crop(faces: torch.Tensor, side: int) -> torch.Tensor:
    top, left = (faces.shape[-2] - side) // 2, (faces.shape[-1] - side) // 2
    return faces[..., top:top + side, left:left + side]


def preprocess(faces: torch.Tensor, model_cfg: dict) -> torch.Tensor:
    """What the model sees at evaluation: the centre crop (for models trained on crops) or the face resized to the
    input size, normalised."""
    size = model_cfg["input_size"]
    if model_cfg.get("crop") and faces.shape[-1] > size:
        faces = centre_crop(faces, size)
    x = _to_float(faces)
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return normalise(x, model_cfg)


def augment(faces: torch.Tensor, model_cfg: dict, generator: torch.Generator | None = None, flip: float = 0.5,
            rotation: float = 10.0, translate: float = 0.1, scale: float = 0.0, erasing: float = 0.0,
            size: int | None = None) -> torch.Tensor:
    """Training view of a uint8 batch: random flip (probability), rotation (degrees), translation (fraction of the
    side, like a random crop with padding), zoom (+-fraction), a random crop of the model's input size when
    ``model_cfg["crop"]``, random erasing (probability), then normalisation. ``size``: the side of the output when
    it differs from the model's input size (progressive resizing)."""
    n, device, size = faces.shape[0], faces.device, size or model_cfg["input_size"]
    window = model_cfg["input_size"] / faces.shape[-1] if model_cfg.get("crop") else 1.0  # the crop's share of the face

    def uniform(low, high):
        return torch.rand(n, generator=generator, device=device) * (high - low) + low

    angle = uniform(-rotation, rotation) * (math.pi / 180)
    zoom = window / uniform(1 - scale, 1 + scale)
    mirror = torch.where(torch.rand(n, generator=generator, device=device) < flip, -1.0, 1.0)
    cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
    shift = 2 * translate + 1 - window  # grid units: the face spans [-1, 1]
    theta = torch.stack([
        torch.stack([cos * mirror, -sin, uniform(-shift, shift)], 1),
        torch.stack([sin * mirror, cos, uniform(-shift, shift)], 1),
    ], 1)
    grid = F.affine_grid(theta, [n, 1, size, size], align_corners=False)
    x = F.grid_sample(_to_float(faces), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    x = normalise(x, {**model_cfg, "in_channels": 1})
    if erasing > 0:
        x = random_erase(x, erasing, generator)
    return x.expand(-1, model_cfg["in_channels"], -1, -1) if model_cfg["in_channels"] > 1 else x


def random_erase(x: torch.Tensor, probability: float, generator: torch.Generator | None = None,
                 area: tuple[float, float] = (0.02, 0.2)) -> torch.Tensor:
    """Set one random rectangle per image (with the given probability) to zero, the normalised mean."""
    n, _, h, w = x.shape
    device = x.device

    def rand():
        return torch.rand(n, generator=generator, device=device)

    fraction = area[0] + rand() * (area[1] - area[0])
    aspect = torch.exp((rand() - 0.5) * 2 * math.log(2))  # between 1/2 and 2, log-uniform
    side_h = ((fraction * aspect).sqrt() * h).clamp(1, h)
    side_w = ((fraction / aspect).sqrt() * w).clamp(1, w)
    top, left = rand() * (h - side_h), rand() * (w - side_w)
    rows = torch.arange(h, device=device).view(1, h, 1)
    cols = torch.arange(w, device=device).view(1, 1, w)
    inside = ((rows >= top.view(-1, 1, 1)) & (rows < (top + side_h).view(-1, 1, 1))
              & (cols >= left.view(-1, 1, 1)) & (cols < (left + side_w).view(-1, 1, 1)))
    inside &= (rand() < probability).view(-1, 1, 1)
    return x.masked_fill(inside.unsqueeze(1), 0.0)


def best_views(accuracy: dict) -> str:
    """The test-time views with the highest (validation) accuracy; a tie goes to fewer views."""
    return max(TTA_MODES, key=lambda mode: (accuracy[mode], -TTA_MODES.index(mode)))


def tta_views(faces: torch.Tensor, tta: str = "none", model_cfg: dict | None = None) -> list[torch.Tensor]:
    """Test-time views of a uint8 batch: the faces; plus their mirror images; or ten crops (the four corners and the
    centre, each also mirrored). The crops have the model's input size for models trained on crops, else 90 % of
    the side, which ``preprocess`` resizes back to the model's input."""
    if tta == "none":
        return [faces]
    if tta == "flip":
        return [faces, faces.flip(-1)]
    if tta == "ten-crop":
        side = faces.shape[-1]
        crop = model_cfg["input_size"] if model_cfg and model_cfg.get("crop") else round(side * 0.9)
        far, mid = side - crop, (side - crop) // 2
        crops = [faces[..., top:top + crop, left:left + crop]
                 for top, left in ((0, 0), (0, far), (far, 0), (far, far), (mid, mid))]
        return crops + [c.flip(-1) for c in crops]
    raise ValueError(f"tta must be one of {', '.join(TTA_MODES)}; got {tta!r}")


@torch.no_grad()
def batched_logits(model: torch.nn.Module, faces: torch.Tensor, model_cfg: dict, tta: str = "none",
                   batch_size: int = 512, bf16: bool = False, channels_last: bool = False) -> torch.Tensor:
    """Float logits (N, classes) of uint8 faces on the model's device, averaged over the test-time views."""
    out = []
    for start in range(0, len(faces), batch_size):
        views = []
        for view in tta_views(faces[start:start + batch_size], tta, model_cfg):
            x = preprocess(view, model_cfg)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(faces.device.type, dtype=torch.bfloat16, enabled=bf16):
                views.append(model(x).float())
        out.append(torch.stack(views).mean(0))
    return torch.cat(out) if out else torch.zeros((0, model_cfg["num_classes"]), device=faces.device)
