"""Live emotion recognition in JupyterLab with the browser's camera: ``BrowserCamera``, an anywidget whose ES module
takes the camera with getUserMedia in the page and sends downscaled JPEG frames, one at a time, to the kernel, which
answers with boxes, labels and probabilities that the page draws over the video. It works wherever the browser has a
camera, so also with a remote kernel (JupyterHub, a GPU server, a container). A camera on the kernel's machine, as
the original study read it, opens in a window from the command line (``python -m fer_utils.realtime.predict 0
--show``); the notebook widget that read one (``KernelCamera``) was removed on 2026-12-07.
"""

import time
from pathlib import Path

import anywidget
import cv2
import numpy as np
import traitlets

from ..labels import EMOTIONS
from . import DEFAULT_DETECTOR, SMOOTHING, EmotionRecognizer

STATIC = Path(__file__).parent / "static"


class BrowserCamera(anywidget.AnyWidget):
    """The camera of the browser that shows the notebook; recognition runs in the kernel, one frame in flight."""

    _esm = STATIC / "browser_camera.js"
    _css = STATIC / "browser_camera.css"
    emotions = traitlets.List(list(EMOTIONS)).tag(sync=True)
    smoothing = traitlets.Float(SMOOTHING).tag(sync=True)
    show_probs = traitlets.Bool(True).tag(sync=True)
    mirror = traitlets.Bool(True).tag(sync=True)
    frame_width = traitlets.Int(480).tag(sync=True)  # frames are downscaled to this width before they are sent
    jpeg_quality = traitlets.Float(0.8).tag(sync=True)
    # Written by the page: the camera's state and problem, and the measured speed.
    camera_state = traitlets.Unicode("off").tag(sync=True)
    problem = traitlets.Unicode("").tag(sync=True)
    analysed_fps = traitlets.Float(0.0).tag(sync=True)
    round_trip_ms = traitlets.Float(0.0).tag(sync=True)
    frames_analysed = traitlets.Int(0).tag(sync=True)

    def __init__(self, recognizer: EmotionRecognizer, **kwargs):
        self.recognizer = recognizer
        super().__init__(**kwargs)
        self.recognizer.smoothing = self.smoothing
        self.on_msg(self._on_message)

    @traitlets.validate("smoothing")
    def _check_smoothing(self, proposal):
        if not 0 <= proposal["value"] < 1:
            raise traitlets.TraitError(f"smoothing must be in [0, 1), got {proposal['value']}")
        return proposal["value"]

    @traitlets.observe("smoothing")
    def _set_smoothing(self, change):
        self.recognizer.smoothing = change["new"]

    def analyse(self, jpeg: bytes) -> dict:
        """Boxes, labels and probabilities for one JPEG frame, as the page draws them."""
        started = time.perf_counter()
        frame = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)  # the recogniser works in gray
        if frame is None:
            return {"faces": [], "kernel_ms": 0.0, "error": "the frame is not a JPEG image"}
        faces = [{"box": [int(v) for v in face.box], "label": face.label, "confidence": face.confidence,
                  "probs": [float(p) for p in face.probs], "track": face.track} for face in self.recognizer(frame)]
        return {"faces": faces, "width": frame.shape[1], "height": frame.shape[0],
                "kernel_ms": 1000 * (time.perf_counter() - started)}

    def _on_message(self, _, content, buffers):
        if content.get("type") == "frame" and buffers:
            self.send({"type": "result", "id": content["id"], **self.analyse(bytes(buffers[0]))})
        elif content.get("type") == "stopped":
            self.recognizer.reset()


def live_camera(classifier, smoothing: float = SMOOTHING, show_probs: bool = True, detector: str = DEFAULT_DETECTOR):
    """The live demo's widget: this browser's camera, recognised by a camera's loop with ``detector``."""
    return BrowserCamera(EmotionRecognizer.for_camera(classifier, smoothing, detector=detector), smoothing=smoothing,
                         show_probs=show_probs)
