"""The overlay: each face's box, label, confidence and probability bars, sized by its face, and the frame rate."""

import cv2
import numpy as np

from ..labels import EMOTIONS
from .recognizer import FaceResult
from .sources import to_bgr

FONT = cv2.FONT_HERSHEY_SIMPLEX


def draw(frame, results: list[FaceResult], fps: float | None = None, show_probs: bool = True) -> np.ndarray:
    """The frame (as BGR) with each face's box, label and confidence, probability bars beside it, and the frame rate.
    Text and bars scale with the face's box (a label is about a sixth of the box high, at least 12 px), and stay
    inside the image."""
    canvas = to_bgr(frame)
    h, w = canvas.shape[:2]
    for face in results:
        x, y, bw, bh = face.box
        x0, y0 = int(np.clip(x, 0, w - 1)), int(np.clip(y, 0, h - 1))
        x1, y1 = int(np.clip(x + bw, 0, w - 1)), int(np.clip(y + bh, 0, h - 1))
        scale = max(bh / 6, 12) / 22  # FONT is 22 px high at scale 1
        thick = max(int(round(scale * 2)), 1)
        cv2.rectangle(canvas, (x0, y0), (x1, y1), (0, 220, 0), thick)
        text = f"{face.label} {face.confidence:.0%}"
        (tw, th), base = cv2.getTextSize(text, FONT, scale, thick)
        tx = int(np.clip(x0, 0, max(w - tw, 0)))
        ty = y0 - base - 2 if y0 - th - base - 2 >= 0 else min(y1 + th + 2, h - base)  # above the box, else below
        cv2.putText(canvas, text, (tx, ty), FONT, scale, (0, 220, 0), thick, cv2.LINE_AA)
        if show_probs:
            row = max(bh // len(EMOTIONS), 8)  # the bars fill the box's height
            bar_scale = row * 0.8 / 22
            width = 4 * row
            label_w = cv2.getTextSize("sur", FONT, bar_scale, 1)[0][0]
            bar_x = x1 + 4 if x1 + 8 + width + label_w < w else max(x0 - 8 - width - label_w, 0)
            for k, (name, p) in enumerate(zip(EMOTIONS, face.probs)):
                top = y0 + k * row
                if top + row > h:
                    break
                cv2.rectangle(canvas, (bar_x, top), (bar_x + int(width * p), top + row - 2), (0, 180, 255), -1)
                cv2.putText(canvas, name[:3], (bar_x + width + 4, top + row - 3), FONT, bar_scale, (255, 255, 255))
    if fps is not None:
        scale = max(h / 480, 1) * 0.5
        cv2.putText(canvas, f"{fps:.0f} FPS", (6, int(20 * scale / 0.5)), FONT, scale, (0, 255, 255), 1, cv2.LINE_AA)
    return canvas
