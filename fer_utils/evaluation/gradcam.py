"""Grad-CAM (Selvaraju et al., 2017) over the last residual stage, with forward and backward hooks."""

import numpy as np
import torch
import torch.nn.functional as F

from ..model.classifier import FERClassifier, to_faces
from ..model.views import preprocess


def gradcam(classifier: FERClassifier, faces, classes=None) -> np.ndarray:
    """Heatmaps (N,48,48) in [0, 1] of where the model looks for ``classes`` (default: its own prediction)."""
    faces = to_faces(faces)
    model, cfg = classifier.model, classifier.model_cfg
    layer = model.layer4
    store = {}
    hooks = [layer.register_forward_hook(lambda m, i, out: store.__setitem__("act", out)),
             layer.register_full_backward_hook(lambda m, gin, gout: store.__setitem__("grad", gout[0]))]
    try:
        x = preprocess(torch.from_numpy(faces).to(classifier.device), cfg).requires_grad_(True)
        logits = model(x)
        target = logits.argmax(1) if classes is None else torch.as_tensor(classes, device=logits.device)
        model.zero_grad()
        logits.gather(1, target.view(-1, 1)).sum().backward()
    finally:
        for hook in hooks:
            hook.remove()
    weights = store["grad"].mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * store["act"]).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=faces.shape[1:], mode="bilinear", align_corners=False)[:, 0]
    peak = cam.flatten(1).max(1).values.clamp_min(1e-12).view(-1, 1, 1)
    return (cam / peak).detach().cpu().numpy()
