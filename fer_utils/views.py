"""What the model sees at evaluation: uint8 faces to its normalised input (the whole face resized, or the centre crop
for models trained on crops), the test-time views (flip, ten crops), and batched logits averaged over the views.
``model_cfg`` is the dict a checkpoint records (``models.model_config``)."""

import torch
import torch.nn.functional as F

TTA_MODES = ("none", "flip", "ten-crop")


def to_float(faces: torch.Tensor) -> torch.Tensor:
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
    x = to_float(faces)
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return normalise(x, model_cfg)


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
