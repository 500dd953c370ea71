"""The overlay: each face's box, label, confidence and probability bars, and the frame rate."""

import cv2
import numpy as np

from ..labels import EMOTIONS
from .recognizer import FaceResult
from .sources import to_bgr


def draw(frame, results: list[FaceResult], fps: float | None = None, show_probs: bool = True) -> np.ndarray:
    """The frame (as BGR) with each face's box, label and confidence, small probability bars, and an FPS counter."""
    canvas = to_bgr(frame)
    h, w = canvas.shape[:2]
    font = cv2.FONT_HERSHEY_SIMPLEX
    for face in results:
        x, y, bw, bh = face.box
        x0, y0 = int(np.clip(x, 0, w - 1)), int(np.clip(y, 0, h - 1))
        x1, y1 = int(np.clip(x + bw, 0, w - 1)), int(np.clip(y + bh, 0, h - 1))
        cv2.rectangle(canvas, (x0, y0), (x1, y1), (0, 220, 0), 2)
        text = f"{face.label} {face.confidence:.0%}"
        cv2.putText(canvas, text, (x0, max(y0 - 6, 12)), font, 0.5, (0, 220, 0), 1, cv2.LINE_AA)
        if show_probs:
            bar_x = x1 + 4 if x1 + 90 < w else max(x0 - 90, 0)
            for k, (name, p) in enumerate(zip(EMOTIONS, face.probs)):
                top = y0 + k * 12
                if top + 10 >= h:
                    break
                cv2.rectangle(canvas, (bar_x, top), (bar_x + int(40 * p), top + 9), (0, 180, 255), -1)
                cv2.putText(canvas, name[:3], (bar_x + 44, top + 9), font, 0.3, (255, 255, 255), 1, cv2.LINE_AA)
    if fps is not None:
        cv2.putText(canvas, f"{fps:.0f} FPS", (6, 16), font, 0.5, (0, 255, 255), 1, cv2.LINE_AA)
    return canvas
