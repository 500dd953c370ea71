"""Batched preprocessing and augmentation as tensor ops on the training device (no per-image PIL work).

Faces stay uint8 (N,48,48) on the device. One ``grid_sample`` per batch applies a random flip, rotation and
translation and resizes to the model's input; random erasing and normalisation follow.
"""

import math

import torch
import torch.nn.functional as F


def _to_float(faces: torch.Tensor) -> torch.Tensor:
    """uint8 (N,H,W) to float (N,1,H,W) in [0, 1]."""
    return faces.unsqueeze(1).float().div_(255.0)


def normalise(x: torch.Tensor, mean: float, std: float, in_channels: int) -> torch.Tensor:
    x = (x - mean) / std
    return x.expand(-1, in_channels, -1, -1) if in_channels > 1 else x


def preprocess(faces: torch.Tensor, input_size: int, mean: float, std: float, in_channels: int) -> torch.Tensor:
    """What the model sees at evaluation: resize to ``input_size`` and normalise."""
    x = _to_float(faces)
    if x.shape[-1] != input_size or x.shape[-2] != input_size:
        x = F.interpolate(x, size=(input_size, input_size), mode="bilinear", align_corners=False, antialias=True)
    return normalise(x, mean, std, in_channels)


def augment(faces: torch.Tensor, input_size: int, mean: float, std: float, in_channels: int,
            generator: torch.Generator | None = None, flip: float = 0.5, rotation: float = 10.0,
            translate: float = 0.1, scale: float = 0.0, erasing: float = 0.0) -> torch.Tensor:
    """Training view of a uint8 batch: random flip (probability), rotation (degrees), translation (fraction of the
    side, like a random crop with padding), zoom (+-fraction), random erasing (probability), then normalisation."""
    n, device = faces.shape[0], faces.device

    def uniform(low, high):
        return torch.rand(n, generator=generator, device=device) * (high - low) + low

    angle = uniform(-rotation, rotation) * (math.pi / 180)
    zoom = 1.0 / uniform(1 - scale, 1 + scale)
    mirror = torch.where(torch.rand(n, generator=generator, device=device) < flip, -1.0, 1.0)
    cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
    theta = torch.stack([
        torch.stack([cos * mirror, -sin, uniform(-2 * translate, 2 * translate)], 1),
        torch.stack([sin * mirror, cos, uniform(-2 * translate, 2 * translate)], 1),
    ], 1)
    grid = F.affine_grid(theta, [n, 1, input_size, input_size], align_corners=False)
    x = F.grid_sample(_to_float(faces), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    x = normalise(x, mean, std, 1)
    if erasing > 0:
        x = random_erase(x, erasing, generator)
    return x.expand(-1, in_channels, -1, -1) if in_channels > 1 else x


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


TTA_MODES = ("none", "flip", "ten-crop")


def tta_views(faces: torch.Tensor, tta: str = "none") -> list[torch.Tensor]:
    """Test-time views of a uint8 batch: the faces; plus their mirror images; or ten crops (90 % of the side at the
    four corners and the centre, each also mirrored), which ``preprocess`` resizes back to the model's input."""
    if tta == "none":
        return [faces]
    if tta == "flip":
        return [faces, faces.flip(-1)]
    if tta == "ten-crop":
        side = faces.shape[-1]
        crop = round(side * 0.9)
        far, mid = side - crop, (side - crop) // 2
        crops = [faces[..., top:top + crop, left:left + crop]
                 for top, left in ((0, 0), (0, far), (far, 0), (far, far), (mid, mid))]
        return crops + [c.flip(-1) for c in crops]
    raise ValueError(f"tta must be one of {TTA_MODES}, got {tta!r}")
