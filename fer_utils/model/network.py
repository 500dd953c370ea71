"""ResNet18 for FER2013: the ImageNet stem or a stem suited to 48x48 faces, 1 or 3 input channels."""

import warnings

import torch
from torch import nn
from torchvision.models import ResNet18_Weights, resnet18

from ..labels import EMOTIONS

STEMS = ("imagenet", "fer", "fer-nopool")  # 7x7/2 + max-pool; 3x3/1 + max-pool; 3x3/1 without max-pool


class WeightsUnavailable(RuntimeError):
    """The ImageNet weights could not be loaded (usually: no internet and nothing in the torch cache)."""


def imagenet_state_dict() -> dict:
    """torchvision's ResNet18 IMAGENET1K_V1 weights, from the torch hub cache ($TORCH_HOME) or downloaded there."""
    try:
        return ResNet18_Weights.IMAGENET1K_V1.get_state_dict(progress=False)
    except Exception as err:  # URLError, OSError, a corrupt file: all mean "not available here"
        raise WeightsUnavailable(
            f"ImageNet weights for ResNet18 are unavailable ({type(err).__name__}: {err}). Download them once with "
            f"internet access, or place {ResNet18_Weights.IMAGENET1K_V1.url.rsplit('/', 1)[-1]} in "
            f"{torch.hub.get_dir()}/checkpoints/."
        ) from err


def build_model(stem: str = "fer", in_channels: int = 1, weights: str | None = None,
                num_classes: int = len(EMOTIONS)) -> tuple[nn.Module, str]:
    """A ResNet18 with a ``num_classes`` head, and how it was initialised ("imagenet" or "random ...").

    ``weights="imagenet"`` loads the ImageNet weights (conv1 summed over RGB for one channel; kept random for the
    FER stems, whose conv1 has another shape). Where they are unavailable, it warns and starts from random weights,
    and the returned string says so.
    """
    if stem not in STEMS:
        raise ValueError(f"stem must be one of {STEMS}, got {stem!r}")
    model = resnet18(num_classes=1000 if weights else num_classes)
    init = "random"
    if weights == "imagenet":
        try:
            model.load_state_dict(imagenet_state_dict())
            init = "imagenet"
        except WeightsUnavailable as err:
            warnings.warn(f"{err} Falling back to random initialisation.", stacklevel=2)
            init = "random (imagenet weights unavailable)"
        model.fc = nn.Linear(model.fc.in_features, num_classes)
    elif weights is not None:
        raise ValueError(f"weights must be None or 'imagenet', got {weights!r}")

    if stem == "imagenet":
        if in_channels != 3:
            conv = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
            with torch.no_grad():
                conv.weight.copy_(model.conv1.weight.sum(dim=1, keepdim=True).repeat(1, in_channels, 1, 1))
            model.conv1 = conv
    else:
        model.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
        nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
        if stem == "fer-nopool":
            model.maxpool = nn.Identity()
    return model, init


def model_config(stem: str, in_channels: int, input_size: int, mean: float, std: float) -> dict:
    """What a checkpoint records to rebuild the model and its preprocessing."""
    return {"arch": "resnet18", "stem": stem, "in_channels": in_channels, "input_size": input_size,
            "num_classes": len(EMOTIONS), "mean": mean, "std": std}
