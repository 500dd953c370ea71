"""Training augmentation as batched tensor ops on the training device (no per-image PIL work).

Faces stay uint8 (N,48,48) on the device. One ``grid_sample`` per batch applies a random flip, rotation, translation
and zoom and produces the model's input. Random erasing and normalisation follow; mixup mixes the batch after that.
``model_cfg`` is the dict a checkpoint records (``models.model_config``).
"""

import math

import torch
import torch.nn.functional as F

from ..model.views import normalise, to_float


def augment(faces: torch.Tensor, model_cfg: dict, generator: torch.Generator | None = None, flip: float = 0.5,
            rotation: float = 10.0, translate: float = 0.1, scale: float = 0.0, erasing: float = 0.0,
            size: int | None = None) -> torch.Tensor:
    """Training view of a uint8 batch: random flip (probability), rotation (degrees), translation (fraction of the
    side, like a random crop with padding), zoom (+-fraction), random erasing (probability), then normalisation.
    ``size``: the side of the output when it differs from the model's input size (progressive resizing)."""
    n, device, size = faces.shape[0], faces.device, size or model_cfg["input_size"]

    def uniform(low, high):
        return torch.rand(n, generator=generator, device=device) * (high - low) + low

    angle = uniform(-rotation, rotation) * (math.pi / 180)
    zoom = 1 / uniform(1 - scale, 1 + scale)
    mirror = torch.where(torch.rand(n, generator=generator, device=device) < flip, -1.0, 1.0)
    cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
    shift = 2 * translate  # grid units: the face spans [-1, 1]
    theta = torch.stack([
        torch.stack([cos * mirror, -sin, uniform(-shift, shift)], 1),
        torch.stack([sin * mirror, cos, uniform(-shift, shift)], 1),
    ], 1)
    grid = F.affine_grid(theta, [n, 1, size, size], align_corners=False)
    x = F.grid_sample(to_float(faces), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
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


def mix(x: torch.Tensor, y: torch.Tensor, mixup: float, generator: torch.Generator):
    """Mixup with Beta(alpha, alpha) where ``mixup`` (alpha) is above 0: returns the mixed batch, both label sets and
    the share ``lam`` of the first."""
    if mixup <= 0:
        return x, y, y, 1.0
    lam = float(torch.distributions.Beta(mixup, mixup).sample())
    perm = torch.randperm(len(y), generator=generator, device=generator.device).to(x.device)
    return lam * x + (1 - lam) * x[perm], y, y[perm], lam
