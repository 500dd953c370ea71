"""The tracker's full-frame searches in a process of their own: the loop goes on while one runs, and what it finds
is adopted when it comes back. The futures here are completed by the tests, never by a clock."""

import os
from concurrent.futures import Future
from functools import partial

import numpy as np
import pytest
from test_detectors import portrait
from test_realtime import RecordingClassifier, face_frame

from fer_utils import realtime
from fer_utils.realtime.background import BackgroundSearch
from fer_utils.realtime.detectors import make_detector
from fer_utils.realtime.recognizer import DEFAULT_DETECTOR, TUNED_HAAR
from fer_utils.realtime.searches import ENLARGED_HEIGHTS

LEFT, RIGHT = (40, 140), (440, 140)
SIDE = 160


class Counting(realtime.FaceDetector):
    """The tuned Haar cascades, counting their full-frame searches."""

    full = 0

    def detect(self, gray):
        self.full += 1
        return super().detect(gray)


class ManualBackground:
    """Stands in for ``BackgroundSearch``: keeps each frame it is sent, and searches it when the test says."""

    def __init__(self):
        self.detector, self.sent = realtime.FaceDetector(), []

    def submit(self, frame) -> Future:
        future = Future()
        self.sent.append((frame, future))
        return future

    def finish(self) -> None:
        frame, future = self.sent[-1]
        future.set_result((self.detector.detect(frame).astype(float), 0.25))


def boxes_near(found, corner) -> list:
    return [box for _, box in found if realtime.iou(box, (*corner, SIDE, SIDE)) > 0.5]


def test_the_loop_goes_on_while_a_background_search_runs_and_adopts_the_new_faces_it_finds():
    detector, background = Counting(), ManualBackground()
    tracker = realtime.FaceTracker(detector, redetect_every=5, background=background)
    one, two = face_frame((LEFT,), side=SIDE), face_frame((LEFT, RIGHT), side=SIDE)
    [(first, _)] = tracker(one)
    assert detector.full == 1 and len(background.sent) == 1, "with nothing followed the loop searches the frame " \
                                                             "itself, and the background search too"
    background.finish()
    assert [face_id for face_id, _ in tracker(one)] == [first], "the face the loop found is not adopted twice"
    for _ in range(12):  # a second face has come in; the search that would find it is still running
        found = tracker(two)
        assert [face_id for face_id, _ in found] == [first]
    assert detector.full == 1 and len(background.sent) == 2, "one background search at a time, none in the loop"
    background.finish()
    found = tracker(two)
    assert boxes_near(found, LEFT) and boxes_near(found, RIGHT), "the new face is adopted, found near where it was"
    assert len({face_id for face_id, _ in found}) == 2 and tracker.background_seconds == 2 * 0.25
    for _ in range(5):
        assert len(tracker(two)) == 2
    assert len(background.sent) == 3, "the next search is sent once the last one has come back"
    background.finish()
    assert len(tracker(two)) == 2, "a face already tracked is not adopted twice"


class NowhereNear(realtime.FaceDetector):
    """The tuned Haar cascades, whose search near a face finds nothing."""

    def detect_near(self, gray, box, *args, **kwargs):
        return None


def test_a_face_of_the_background_search_that_is_not_found_near_where_it_was_is_not_followed():
    background = ManualBackground()
    tracker = realtime.FaceTracker(realtime.FaceDetector(), redetect_every=2, background=background)
    tracker(face_frame((LEFT,), side=SIDE))
    two = face_frame((LEFT, RIGHT), side=SIDE)
    while not background.sent:
        tracker(two)
    tracker.detector = NowhereNear()  # the face has gone, or the detector no longer sees it
    background.finish()
    assert not boxes_near(tracker(two), RIGHT), "a face gone meanwhile would be followed onto the background"


def test_a_face_lost_while_others_are_tracked_is_searched_for_in_the_loop_at_once():
    detector, background = Counting(), ManualBackground()
    tracker = realtime.FaceTracker(detector, redetect_every=15, background=background)
    tracker(face_frame((LEFT, RIGHT), side=SIDE))
    moved = face_frame((LEFT, (RIGHT[0], 300)), side=SIDE)  # the right face jumps beyond its neighbourhood
    tracker(moved)
    assert tracker.lost and detector.full == 1
    found = tracker(moved)
    assert detector.full == 2 and len(background.sent) == 1, "searched in the loop, not sent to wait on the " \
                                                              "background (sent only with the first frame)"
    assert boxes_near(found, LEFT) and boxes_near(found, (RIGHT[0], 300))


def test_a_background_search_that_fails_is_reported_and_the_loop_searches_itself(capsys):
    detector, background = Counting(), ManualBackground()
    tracker = realtime.FaceTracker(detector, redetect_every=3, background=background)
    frame = face_frame((LEFT,), side=SIDE)
    while not background.sent:
        assert len(tracker(frame)) == 1
    background.sent[-1][1].set_exception(RuntimeError("worker gone"))
    for _ in range(4):
        assert len(tracker(frame)) == 1
    assert "background search failed" in capsys.readouterr().out and tracker.background is None
    assert detector.full == 2, "the next full search runs in the loop"


def test_the_worker_process_finds_what_the_detector_finds_in_the_loop():
    search = BackgroundSearch(partial(make_detector, "haar"))
    frame = face_frame((LEFT, RIGHT), side=SIDE)
    try:
        boxes, seconds = search.submit(frame).result(timeout=120)
    finally:
        search.close()
    np.testing.assert_array_equal(boxes, make_detector("haar")(frame).boxes)
    assert len(boxes) == 2 and seconds > 0


def test_the_recogniser_searches_in_the_background_only_where_told_with_a_named_detector_and_tracking():
    classifier = RecordingClassifier()
    assert realtime.EmotionRecognizer(classifier, detector=TUNED_HAAR).background is None
    assert realtime.EmotionRecognizer(classifier, detector=DEFAULT_DETECTOR, mode="detect").background is None
    with pytest.raises(ValueError, match="background search needs mode 'track' and a detector named in"):
        realtime.EmotionRecognizer(classifier, detector=TUNED_HAAR, background=True)
    image, _ = portrait()  # libfacedetection needs a face in context, not FER2013's tight crop
    one, two = np.hstack([image, np.full_like(image, 128)]), np.hstack([image, image])
    assert realtime.EmotionRecognizer.for_source(classifier, "clip.mp4").background is None, "same every time"
    if (os.cpu_count() or 1) < 2:
        assert realtime.EmotionRecognizer(classifier, detector=DEFAULT_DETECTOR, background=None).background is None
    recognizer = realtime.EmotionRecognizer(classifier, detector=DEFAULT_DETECTOR, background=True)
    assert recognizer.detector.detector.threads == 1, "the loop's own searches leave the other core to the worker"
    assert recognizer.detector.upscale == 1, "the loop's own full searches do not stop it for the enlarged search"
    try:
        assert len(recognizer(one)) == 1
        recognizer.tracker.pending.result(timeout=120)  # sent with the first frame, nothing followed yet
        assert len(recognizer(one)) == 1
        while recognizer.tracker.pending is None:
            recognizer(two)
        recognizer.tracker.pending.result(timeout=120)
        assert len(recognizer(two)) == 2 and recognizer.tracker.background_seconds > 0
    finally:
        recognizer.close()


def test_libfacedetection_searches_with_the_threads_it_is_told_and_sets_them_back():
    image, _ = portrait()
    detector = make_detector("libfacedetection", threads=1)
    search, during = detector.detect_rgb, []

    def recording(*args):
        during.append([lib.omp_get_max_threads() for lib in detector.openmp])
        return search(*args)

    detector.detect_rgb = recording
    before = [lib.omp_get_max_threads() for lib in detector.openmp]
    assert len(detector(image)) == 1 and during == [[1] * len(detector.openmp)]
    assert [lib.omp_get_max_threads() for lib in detector.openmp] == before, "PyTorch's threads are left as they were"
    detector.threads = None
    assert len(detector(image)) == 1 and during[-1] == before


def test_a_camera_s_recogniser_tracks_with_full_searches_at_the_frame_s_own_size_in_the_loop():
    for recognizer in (realtime.EmotionRecognizer.for_source(RecordingClassifier(), 0),
                       realtime.EmotionRecognizer.for_camera(RecordingClassifier())):
        assert recognizer.mode == "track" and recognizer.background is None
        assert recognizer.detector.name == DEFAULT_DETECTOR and recognizer.detector.upscale == 1
    video = realtime.EmotionRecognizer.for_source(RecordingClassifier(), "clip.mp4")
    assert video.detector.upscale == video.detector.detector.upscale > 1, "a video file's searches stay enlarged"
    assert video.tracker.small_face == ENLARGED_HEIGHTS[1], "... where a small face is, or none is followed"
