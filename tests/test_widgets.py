"""The live-camera widget without a browser: the browser camera's kernel side (a JPEG in, boxes and labels out), and
its settings."""

import cv2
import numpy as np
import pytest
from test_realtime import RecordingClassifier, face_frame

from fer_utils import EMOTIONS, realtime
from fer_utils.realtime import widgets


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


def test_the_live_demo_is_the_browser_camera_on_a_cameras_loop():
    widget = widgets.live_camera(RecordingClassifier(), smoothing=0.4, show_probs=False)
    assert isinstance(widget, widgets.BrowserCamera) and widget.recognizer.smoothing == 0.4
    assert widget.show_probs is False and widget.recognizer.search_width == 800  # EmotionRecognizer.for_camera
