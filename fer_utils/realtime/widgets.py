"""Live emotion recognition in JupyterLab, with a camera in the browser or on the kernel's machine.

- ``BrowserCamera`` (the default): an anywidget whose ES module takes the camera with getUserMedia in the page and
  sends downscaled JPEG frames, one at a time, to the kernel, which answers with boxes, labels and probabilities that
  the page draws over the video. It works wherever the browser has a camera, so also with a remote kernel
  (JupyterHub, a GPU server, a container).
- ``KernelCamera``: the original study's way, ``cv2.VideoCapture`` on the kernel's machine (or a video file), read on
  the kernel's main thread as an asyncio task, which macOS's AVFoundation requires (opencv/opencv#14396).

``live_camera(classifier, camera)`` picks one from the notebook's ``camera`` parameter.
"""

import asyncio
import time
from pathlib import Path

import anywidget
import cv2
import ipywidgets as widgets
import numpy as np
import traitlets

from ..labels import EMOTIONS
from . import DEFAULT_DETECTOR, SMOOTHING, EmotionRecognizer, SourceError, draw, frames

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


class KernelCamera:
    """Start/stop controls over a camera on the kernel's machine (an index) or a video file, annotated frames shown
    in place. Frames are opened and read on the kernel's main thread, in an asyncio task that yields between frames,
    so Stop and other widgets keep responding. ``widget`` is what a notebook displays."""

    def __init__(self, classifier, source: int | str = 0, smoothing: float = SMOOTHING, show_probs: bool = True,
                 detector: str = DEFAULT_DETECTOR):
        self.classifier, self.source, self.detector = classifier, source, detector
        self.start = widgets.ToggleButton(description="Start", icon="play", value=False)
        self.strength = widgets.FloatSlider(value=smoothing, min=0.0, max=0.95, step=0.05, description="smoothing")
        self.probs = widgets.Checkbox(value=show_probs, description="show probabilities")
        # Hidden until the first frame arrives, so there is never a broken image.
        self.image = widgets.Image(format="jpeg", width=640, layout=widgets.Layout(display="none"))
        self.status = widgets.Label(f"stopped; press Start to open {self._name()} on the kernel's machine")
        self.task: asyncio.Task | None = None
        self.start.observe(self._toggle, names="value")
        self.widget = widgets.VBox([widgets.HBox([self.start, self.strength, self.probs]), self.image, self.status])

    def _name(self) -> str:
        return f"camera {self.source}" if isinstance(self.source, int) else str(self.source)

    def _toggle(self, change):
        self.start.description, self.start.icon = ("Stop", "stop") if change["new"] else ("Start", "play")
        if change["new"] and (self.task is None or self.task.done()):
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.start.value = False
                self.status.value = "no running event loop: use these controls in a Jupyter kernel"
                return
            self.task = loop.create_task(self.run())

    async def run(self) -> None:
        """Show annotated frames until Stop or the end of the source; the capture is released either way."""
        recognizer = EmotionRecognizer.for_source(self.classifier, self.source, smoothing=self.strength.value,
                                                  detector=self.detector)
        problem, count = None, 0
        try:
            for _, frame in frames(self.source):
                if not self.start.value:
                    break
                recognizer.smoothing = self.strength.value
                results = recognizer(frame)
                annotated = draw(frame, results, recognizer.fps, self.probs.value)
                self.image.value = cv2.imencode(".jpg", annotated)[1].tobytes()
                self.image.layout.display = None
                count += 1
                self.status.value = f"{self._name()}: {len(results)} face(s), {recognizer.fps:.0f} FPS"
                await asyncio.sleep(0.001)  # let the kernel handle Stop and other messages
        except SourceError as err:
            problem = str(err)
        finally:
            self.start.value = False
            self.status.value = problem or f"stopped after {count} frames; {self._name()} released"


def live_camera(classifier, camera: str = "browser", smoothing: float = SMOOTHING, show_probs: bool = True,
                detector: str = DEFAULT_DETECTOR):
    """The live demo's widget: ``camera`` "browser" reads this browser's camera; a number opens that camera on the
    kernel's machine; anything else is a video file played through the same controls. ``detector`` names the face
    detector (``EmotionRecognizer``)."""
    if camera == "browser":
        return BrowserCamera(EmotionRecognizer.for_camera(classifier, smoothing, detector=detector),
                             smoothing=smoothing, show_probs=show_probs)
    if camera.isdigit():
        return KernelCamera(classifier, int(camera), smoothing, show_probs, detector).widget
    if not Path(camera).is_file():
        raise SourceError(f"camera={camera!r}: give 'browser', a camera index such as '0', or a video file that exists")
    return KernelCamera(classifier, camera, smoothing, show_probs, detector).widget
