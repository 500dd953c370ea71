"""The live-camera widgets without a browser: the kernel camera's threading and Stop, the browser camera's
kernel side (a JPEG in, boxes and labels out), and the notebook's camera choice."""

import asyncio
import threading

import cv2
import numpy as np
import pytest
from test_realtime import RecordingClassifier, face_frame

from fer_utils import EMOTIONS, realtime
from fer_utils.realtime import widgets
from fer_utils.realtime.video import make_demo_video


@pytest.fixture
def face_video(tmp_path):
    faces = np.stack([cv2.resize(face_frame()[140:340, 220:420], (48, 48))] * 3)
    path = tmp_path / "faces.mp4"
    make_demo_video(faces, np.array([3, 3, 3]), path, seconds=2.0)
    return path


@pytest.fixture
def recorded_captures(monkeypatch):
    """cv2.VideoCapture, recording the thread of every call: opening, reading and releasing."""
    calls = []

    real = cv2.VideoCapture

    class RecordingCapture:  # a wrapper: subclasses of OpenCV's classes can crash when garbage-collected
        def __init__(self, *args):
            calls.append(("open", threading.current_thread()))
            self.capture = real(*args)

        def isOpened(self):
            return self.capture.isOpened()

        def get(self, prop):
            return self.capture.get(prop)

        def read(self):
            calls.append(("read", threading.current_thread()))
            return self.capture.read()

        def release(self):
            calls.append(("release", threading.current_thread()))
            return self.capture.release()

    monkeypatch.setattr(cv2, "VideoCapture", RecordingCapture)
    return calls


def test_kernel_camera_opens_reads_and_releases_on_the_main_thread(face_video, recorded_captures):
    camera = widgets.KernelCamera(RecordingClassifier(), str(face_video))
    assert camera.image.layout.display == "none", "no (broken) image before the first frame"

    async def press_start():
        camera.start.value = True
        await camera.task

    asyncio.run(press_start())
    kinds = [kind for kind, _ in recorded_captures]
    assert kinds[0] == "open" and kinds[-1] == "release" and kinds.count("read") > 10
    assert {thread for _, thread in recorded_captures} == {threading.main_thread()}
    assert camera.image.layout.display is None and camera.image.value[:2] == b"\xff\xd8", "a JPEG frame is shown"
    assert camera.start.value is False and "released" in camera.status.value


def test_kernel_camera_stop_ends_the_loop_and_releases_the_capture(face_video, recorded_captures):
    classifier = RecordingClassifier()
    camera = widgets.KernelCamera(classifier, str(face_video))

    async def start_then_stop():
        camera.start.value = True
        while sum(kind == "read" for kind, _ in recorded_captures) < 3:  # other tasks (this one) run while frames show
            await asyncio.sleep(0.001)
        camera.start.value = False
        await asyncio.wait_for(camera.task, 5)

    asyncio.run(start_then_stop())
    reads = sum(kind == "read" for kind, _ in recorded_captures)
    assert reads < 10, f"Stop must end the loop at once, but {reads} frames of 30 were read"
    assert recorded_captures[-1][0] == "release"
    assert camera.start.description == "Start"


def test_kernel_camera_reports_a_camera_that_cannot_open():
    camera = widgets.KernelCamera(RecordingClassifier(), "missing.mp4")

    async def press_start():
        camera.start.value = True
        await camera.task

    asyncio.run(press_start())
    assert "does not exist" in camera.status.value and camera.start.value is False


def test_browser_camera_answers_a_jpeg_frame_with_labelled_boxes():
    probs = np.linspace(1, 2, 7)
    classifier = RecordingClassifier(probs / probs.sum())
    widget = widgets.BrowserCamera(realtime.EmotionRecognizer(classifier, smoothing=0.0))
    sent = []
    widget.send = lambda content, buffers=None: sent.append(content)
    jpeg = cv2.imencode(".jpg", face_frame())[1].tobytes()
    widget._on_message(widget, {"type": "frame", "id": 7, "width": 640, "height": 480}, [memoryview(jpeg)])
    [answer] = sent
    assert answer["type"] == "result" and answer["id"] == 7 and (answer["width"], answer["height"]) == (640, 480)
    [face] = answer["faces"]
    x, y, w, h = face["box"]
    assert abs(x + w / 2 - 320) < 40 and abs(y + h / 2 - 240) < 40
    assert face["label"] == EMOTIONS[6] and face["probs"] == pytest.approx(probs / probs.sum(), abs=1e-6)
    widget._on_message(widget, {"type": "frame", "id": 8}, [memoryview(b"not a jpeg")])
    assert sent[-1]["faces"] == [] and "not a JPEG" in sent[-1]["error"]


def test_browser_camera_smoothing_reaches_the_recognizer_and_is_checked():
    widget = widgets.BrowserCamera(realtime.EmotionRecognizer(RecordingClassifier()),
                                   smoothing=0.3)
    assert widget.recognizer.smoothing == 0.3
    widget.smoothing = 0.8
    assert widget.recognizer.smoothing == 0.8
    with pytest.raises(Exception, match=r"smoothing must be in \[0, 1\)"):
        widget.smoothing = 1.5


def test_live_camera_picks_the_widget_from_the_camera_parameter(face_video):
    classifier = RecordingClassifier()
    assert isinstance(widgets.live_camera(classifier, "browser"), widgets.BrowserCamera)
    assert "camera 0" in widgets.live_camera(classifier, "0").children[-1].value
    assert "faces.mp4" in widgets.live_camera(classifier, str(face_video)).children[-1].value
    with pytest.raises(realtime.SourceError, match="give 'browser', a camera index"):
        widgets.live_camera(classifier, "webcam")
