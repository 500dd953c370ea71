"""Lighting and pose perturbations of uint8 faces (N,48,48) for robustness curves.

Each function takes a strength in its documented range, returns uint8 faces of the same shape, and is the identity
at strength 0.
"""

import cv2
import numpy as np


def brightness(faces: np.ndarray, delta: float) -> np.ndarray:
    """Add ``delta`` (-1..1, a fraction of full scale) to every pixel."""
    return np.clip(faces.astype(np.float32) + delta * 255, 0, 255).round().astype(np.uint8)


def contrast(faces: np.ndarray, factor: float) -> np.ndarray:
    """Scale each face's deviations from its mean by ``1 + factor`` (factor -1..1; -1 gives a flat face)."""
    x = faces.astype(np.float32)
    mean = x.mean(axis=(1, 2), keepdims=True)
    return np.clip(mean + (x - mean) * (1 + factor), 0, 255).round().astype(np.uint8)


def gamma(faces: np.ndarray, log2_gamma: float) -> np.ndarray:
    """Gamma curve with exponent ``2 ** log2_gamma`` (-2..2; positive darkens, negative brightens)."""
    table = np.clip(255 * (np.arange(256) / 255) ** (2.0 ** log2_gamma), 0, 255).round().astype(np.uint8)
    return table[faces]


def blur(faces: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with standard deviation ``sigma`` pixels (0..4)."""
    if sigma <= 0:
        return faces.copy()
    return np.stack([cv2.GaussianBlur(face, (0, 0), sigma) for face in faces])


def noise(faces: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """Add Gaussian noise of standard deviation ``sigma`` (0..0.5, a fraction of full scale)."""
    if sigma <= 0:
        return faces.copy()
    rng = np.random.default_rng(seed)
    return np.clip(faces + rng.normal(0, sigma * 255, faces.shape), 0, 255).round().astype(np.uint8)


def _warp(faces: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    size = faces.shape[2], faces.shape[1]
    return np.stack([cv2.warpAffine(face, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                     for face in faces])


def rotation(faces: np.ndarray, degrees: float) -> np.ndarray:
    """In-plane rotation about the centre by ``degrees`` (-45..45), borders replicated."""
    if degrees == 0:
        return faces.copy()
    h, w = faces.shape[1:]
    return _warp(faces, cv2.getRotationMatrix2D((w / 2 - 0.5, h / 2 - 0.5), degrees, 1.0))


def shift(faces: np.ndarray, fraction: float) -> np.ndarray:
    """Horizontal shift by ``fraction`` of the width (-0.5..0.5), a proxy for a turned head, borders replicated."""
    if fraction == 0:
        return faces.copy()
    return _warp(faces, np.float32([[1, 0, fraction * faces.shape[2]], [0, 1, 0]]))


# Rows of the eye and mouth bands in FER2013's 48x48 framing (measured on the class mean faces).
REGIONS = {"eyes": (14, 26), "mouth": (32, 44)}


def occlusion(faces: np.ndarray, amount: float, region: str = "eyes") -> np.ndarray:
    """Cover ``amount`` (0..1) of the width of the eye or mouth band, centred, with mid-grey."""
    out = faces.copy()
    if amount <= 0:
        return out
    top, bottom = (int(round(r * faces.shape[1] / 48)) for r in REGIONS[region])
    width = int(round(amount * faces.shape[2]))
    left = (faces.shape[2] - width) // 2
    out[:, top:bottom, left:left + width] = 128
    return out


# name: (function, strengths for the robustness curves, keyword arguments, unit of the strength)
PERTURBATIONS = {
    "brightness": (brightness, [-0.6, -0.4, -0.2, 0.0, 0.2, 0.4, 0.6], {}, "added, fraction of full scale"),
    "contrast": (contrast, [-0.8, -0.6, -0.4, -0.2, 0.0, 0.5, 1.0], {}, "change of contrast"),
    "gamma": (gamma, [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0], {}, "log2 gamma (+ darker)"),
    "blur": (blur, [0.0, 0.5, 1.0, 1.5, 2.0, 3.0], {}, "Gaussian sigma, pixels"),
    "noise": (noise, [0.0, 0.05, 0.1, 0.15, 0.2, 0.3], {}, "noise sigma, fraction of full scale"),
    "rotation": (rotation, [-40, -30, -20, -10, 0, 10, 20, 30, 40], {}, "degrees"),
    "shift": (shift, [-0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3], {}, "fraction of the width"),
    "occlude eyes": (occlusion, [0.0, 0.25, 0.5, 0.75, 1.0], {"region": "eyes"}, "fraction of the width covered"),
    "occlude mouth": (occlusion, [0.0, 0.25, 0.5, 0.75, 1.0], {"region": "mouth"}, "fraction of the width covered"),
}


def strongest(faces: np.ndarray) -> np.ndarray:
    """``faces`` under each perturbation at its largest strength, in ``PERTURBATIONS`` order (for a figure)."""
    return np.concatenate([function(faces, strengths[-1], **kwargs)
                           for function, strengths, kwargs, _ in PERTURBATIONS.values()])


def units() -> dict[str, str]:
    """The unit of each perturbation's strength, by name."""
    return {name: unit for name, (*_, unit) in PERTURBATIONS.items()}
