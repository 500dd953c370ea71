"""The demo's loop (fer_utils.realtime): faces found, followed, classified, smoothed and drawn, on frames built from
the committed FER2013 sample faces."""

import cv2
import numpy as np
import pytest
from conftest import SAMPLE_DIR
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fer_utils import EMOTIONS, realtime
from fer_utils.model.classifier import load_classifier
from fer_utils.realtime import video
from fer_utils.realtime.detectors import search, search_near
from fer_utils.realtime.video import make_demo_video, run_video, score_against_truth
from fer_utils.report import plots


class RecordingClassifier:
    """Stands in for FERClassifier: records each batch and answers with fixed probabilities."""

    def __init__(self, probs=None):
        self.calls = []
        self.probs = np.asarray(probs if probs is not None else np.eye(7)[3], np.float32)

    def predict_proba(self, faces):
        self.calls.append(np.asarray(faces))
        return np.tile(self.probs, (len(faces), 1))


class CountingClassifier(RecordingClassifier):
    """Answers each call with other probabilities (one-hot on the call's number), so a kept answer can be told."""

    def predict_proba(self, faces):
        self.calls.append(np.asarray(faces))
        return np.tile(np.eye(7, dtype=np.float32)[len(self.calls) % 7], (len(faces), 1))


class CountingDetector:
    """libfacedetection, recording the width of every image it is asked to search."""

    def __init__(self):
        self.detector, self.widths = realtime.make_detector("libfacedetection"), []

    def __call__(self, image):
        self.widths.append(image.shape[1])
        return self.detector(image)


def detectable_face(side: int = 200) -> np.ndarray:
    """The first committed sample face that libfacedetection finds, in the whole frame and near its box (78 of the 84
    are), enlarged to ``side`` px."""
    detector = realtime.make_detector("libfacedetection")
    for path in sorted(SAMPLE_DIR.rglob("*.jpg")):
        face = cv2.resize(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), (side, side), interpolation=cv2.INTER_CUBIC)
        frame = np.full((480, 640), 128, np.uint8)
        frame[140:140 + side, 220:220 + side] = face
        boxes = detector(frame).boxes
        if len(boxes) and search_near(detector, frame, tuple(int(v) for v in boxes[0])) is not None:
            return face
    pytest.fail("libfacedetection finds none of the committed sample faces")


def face_frame(positions=((220, 140),), side=200, width=640, height=480) -> np.ndarray:
    """A mid-grey frame with an enlarged FER2013 face at each position."""
    face = detectable_face(side)
    frame = np.full((height, width), 128, np.uint8)
    for x, y in positions:
        frame[y:y + side, x:x + side] = face
    return frame


def moving_face_frames(steps: int, start=(60, 120), step=(8, 3), side=160, blank=()):
    """640x480 frames with one face moving by ``step`` pixels a frame; frames whose index is in ``blank`` are empty."""
    face = detectable_face(side)
    for t in range(steps):
        frame = np.full((480, 640), 128, np.uint8)
        x, y = start[0] + step[0] * t, start[1] + step[1] * t
        if t not in blank:
            frame[y:y + side, x:x + side] = face
        yield frame, (x, y, side, side)


def test_a_face_is_found_where_it_is_and_nothing_in_a_blank_frame():
    for name in realtime.DETECTORS:
        detector = realtime.make_detector(name)
        found = []
        for path in sorted(SAMPLE_DIR.rglob("*.jpg"))[:20]:
            frame = np.full((480, 640), 128, np.uint8)
            frame[140:340, 220:420] = cv2.resize(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), (200, 200))
            found += [box for box in detector(frame).boxes]
        assert len(found) >= 10, f"{name} finds {len(found)} of 20 sample faces"
        assert all(realtime.iou(box, (220, 140, 200, 200)) > 0.3 for box in found), f"{name} boxes a face elsewhere"
        assert len(detector(np.full((480, 640), 128, np.uint8))) == 0, name


def test_all_faces_of_a_frame_go_to_the_model_in_one_call():
    classifier = RecordingClassifier()
    results = realtime.EmotionRecognizer(classifier, smoothing=0)(face_frame([(20, 140), (420, 140)]))
    assert len(results) == 2 and len(classifier.calls) == 1 and classifier.calls[0].shape == (2, 48, 48)
    assert {r.label for r in results} == {"happy"}
    assert realtime.EmotionRecognizer(classifier)(np.full((480, 640), 128, np.uint8)) == []
    assert len(classifier.calls) == 1  # no face, no model call


def test_a_followed_face_keeps_its_id_through_motion_with_few_whole_frame_searches():
    detector = CountingDetector()
    recognizer = realtime.EmotionRecognizer(RecordingClassifier(), detector=detector, search_every=10)
    ids = []
    for frame, true_box in moving_face_frames(30):
        [face] = recognizer(frame)
        assert realtime.iou(face.box, true_box) > 0.5, "the box follows the face"
        ids.append(face.track)
    assert set(ids) == {ids[0]}
    assert detector.widths.count(640) <= 3, "between whole-frame searches the face is followed near its box"


def test_a_face_that_leaves_takes_its_box_with_it_on_that_frame_and_comes_back_as_a_new_face():
    detector = CountingDetector()
    recognizer = realtime.EmotionRecognizer.for_camera(RecordingClassifier(), detector=detector)
    seen, searched = [], []
    for frame, _ in moving_face_frames(14, step=(4, 0), blank=range(6, 10)):
        before = detector.widths.count(640)
        seen.append([face.track for face in recognizer(frame)])
        searched.append(detector.widths.count(640) > before)
    first = seen[0][0]
    assert seen[:6] == [[first]] * 6 and seen[6:10] == [[]] * 4, "no box on any frame without the face"
    assert not searched[6], "the frame the face leaves is answered without a whole-frame search"
    assert all(searched[7:10]), "then every frame with no face is searched whole"
    assert seen[10] and seen[10] == seen[13] and seen[10][0] != first, "found again at once, as a new face"


def test_a_face_is_classified_when_new_and_then_every_few_frames():
    classifier = CountingClassifier()
    recognizer = realtime.EmotionRecognizer(classifier, smoothing=0, classify_every=3)
    classified, probs = [], []
    for frame, _ in moving_face_frames(12, step=(2, 0)):
        calls = len(classifier.calls)
        [face] = recognizer(frame)
        classified.append(len(classifier.calls) > calls)
        probs.append(face.probs)
    assert [t for t, done in enumerate(classified) if done] == [0, 3, 6, 9]
    for t in range(1, 12):
        if not classified[t]:
            np.testing.assert_array_equal(probs[t], probs[t - 1])  # between classifications the answer is kept
    with pytest.raises(ValueError, match="must be at least 1 frame"):
        realtime.EmotionRecognizer(classifier, classify_every=0)


def test_smoothing_weighs_the_past_by_frames_and_is_off_at_zero():
    frames = [frame for frame, _ in moving_face_frames(4, step=(1, 0))]
    recognizer = realtime.EmotionRecognizer(CountingClassifier(), smoothing=0.5, classify_every=3)
    probs = [recognizer(frame)[0].probs for frame in frames]
    first, second = np.eye(7, dtype=np.float32)[[1, 2]]  # the answers of the classifier's first and second calls
    np.testing.assert_allclose(probs[0], first)
    np.testing.assert_allclose(probs[3], 0.5 ** 3 * first + (1 - 0.5 ** 3) * second, atol=1e-6)
    off = realtime.EmotionRecognizer(CountingClassifier(), smoothing=0, classify_every=1)
    np.testing.assert_allclose([off(frame)[0].probs for frame in frames][3], np.eye(7)[4], atol=1e-6)
    with pytest.raises(ValueError, match="smoothing"):
        realtime.EmotionRecognizer(CountingClassifier(), smoothing=1.0)


def test_whole_frame_searches_are_enlarged_only_for_a_video_file_with_no_face_or_a_small_one():
    large, small = CountingDetector(), CountingDetector()
    for detector, side in ((large, 200), (small, 80)):
        recognizer = realtime.EmotionRecognizer(RecordingClassifier(), detector=detector, search_every=5)
        for _ in range(6):  # whole-frame searches on frames 0 and 5
            assert recognizer(face_frame(side=side))
    assert large.widths.count(1280) == 0 and large.widths.count(640) == 2, "a large face found: never enlarged"
    assert small.widths.count(1280) == 2, "a small face found or held: every whole-frame search enlarged"
    empty = CountingDetector()
    realtime.EmotionRecognizer(RecordingClassifier(), detector=empty)(np.full((480, 640), 128, np.uint8))
    assert empty.widths == [640, 1280], "no face found: the frame is searched enlarged too"
    camera = CountingDetector()
    recognizer = realtime.EmotionRecognizer.for_camera(RecordingClassifier(), detector=camera)
    recognizer(face_frame(positions=[(500, 300)], width=1280, height=720))
    assert max(camera.widths) == 800, "a camera's searches never enlarge, and shrink frames wider than 800 px"
    with pytest.raises(ValueError, match="upscale at least 1"):
        realtime.EmotionRecognizer(RecordingClassifier(), upscale=0.5)


def test_small_faces_in_a_large_still_are_found():
    faces = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted(SAMPLE_DIR.rglob("*.jpg"))]
    detector = realtime.make_detector("libfacedetection")
    small = [cv2.resize(f, (40, 40), interpolation=cv2.INTER_AREA) for f in faces]
    detectable = [f for f in small if len(search(detector, np.pad(f, 60, constant_values=128), 2))]
    photo = np.full((1536, 2048), 128, np.uint8)
    placed = []
    for k, face in enumerate(detectable[:6]):
        x, y = 150 + 330 * k, 300 + 150 * (k % 3)
        photo[y:y + 40, x:x + 40] = face
        placed.append((x, y, 40, 40))
    assert len(placed) == 6
    recognizer = realtime.EmotionRecognizer.for_source(RecordingClassifier(), "group-photo.jpg")
    assert recognizer.mode == "still"
    boxes = [face.box for face in recognizer(photo)]
    found = sum(any(realtime.iou(box, truth) > 0.3 for box in boxes) for truth in placed)
    assert found >= 5, f"{found} of 6 faces 40 px high found in a 2048x1536 photo"
    assert len(boxes) <= 7, "no crowd of false faces on a plain background"
    at_own_size = search(detector, photo, 1)
    assert len(at_own_size) < found, "the frame's own size alone misses faces this small"


def test_the_mode_follows_the_source(tmp_path):
    (tmp_path / "photos").mkdir()
    for source, mode, upscale in [("photo.png", "still", 2), (str(tmp_path / "photos"), "still", 2),
                                  ("clip.mp4", "track", 2), ("0", "track", 1), (0, "track", 1)]:
        recognizer = realtime.EmotionRecognizer.for_source(RecordingClassifier(), source)
        assert (recognizer.mode, recognizer.upscale) == (mode, upscale), source
    with pytest.raises(ValueError, match="mode must be one of track, still"):
        realtime.EmotionRecognizer(RecordingClassifier(), mode="fast")


def test_the_overlay_draws_inside_the_frame_and_scales_with_the_face():
    frame = np.full((120, 160, 3), 50, np.uint8)
    faces = [realtime.FaceResult((-20, -20, 60, 60), np.eye(7, dtype=np.float32)[1], 0),
             realtime.FaceResult((130, 90, 80, 80), np.full(7, 1 / 7, np.float32), 1)]
    out = realtime.draw(frame, faces, fps=87.0)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert (out != frame).any() and np.array_equal(frame, np.full((120, 160, 3), 50, np.uint8))
    assert realtime.draw(np.zeros((1, 1), np.uint8), faces).shape == (1, 1, 3)

    def label_height(side: int, top: int) -> int:
        """Rows of green text drawn above (or below) a box of ``side`` px on a 1600x1200 photo, box lines left out."""
        photo = np.zeros((1200, 1600, 3), np.uint8)
        out = realtime.draw(photo, [realtime.FaceResult((600, top, side, side), np.eye(7)[3], 0)], show_probs=False)
        green = (out[:, :, 1] > 100) & (out[:, :, 0] < 50)
        green[top - 12:top + side + 12, 600 - 12:600 + side + 12] = False  # the box itself
        rows = np.flatnonzero(green.any(axis=1))
        return rows.max() - rows.min() + 1

    assert label_height(250, 400) >= 3 * label_height(60, 400), "the label grows with the face"
    assert label_height(250, 400) >= 30, "readable beside a 250-px face on a 1,600-px photo"
    assert label_height(250, 0) > 0, "a face at the top edge keeps its label inside the image"


@pytest.mark.parametrize("convert", [
    lambda g: g, lambda g: cv2.cvtColor(g, cv2.COLOR_GRAY2BGR), lambda g: cv2.cvtColor(g, cv2.COLOR_GRAY2BGRA),
    lambda g: g[:, :, None], lambda g: g.astype(np.float32) / 255,
], ids=["gray", "bgr", "bgra", "gray-1-channel", "float"])
def test_gray_bgr_and_bgra_frames_give_the_same_faces(convert):
    gray = face_frame()
    reference = realtime.EmotionRecognizer(RecordingClassifier(), smoothing=0)(gray)
    results = realtime.EmotionRecognizer(RecordingClassifier(), smoothing=0)(convert(gray))
    assert len(reference) == 1 and [r.box for r in results] == [r.box for r in reference]
    assert realtime.draw(convert(gray), results).shape == (480, 640, 3)


def test_bad_sources_raise_the_clear_error(tmp_path):
    with pytest.raises(realtime.SourceError, match="does not exist"):
        list(realtime.frames(tmp_path / "missing.mp4"))
    with pytest.raises(realtime.SourceError, match="(?s)camera permission.*video file"):
        list(realtime.frames(99))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    with pytest.raises(realtime.SourceError, match="cannot be opened as a video"):
        list(realtime.frames(broken))
    (tmp_path / "empty").mkdir()
    with pytest.raises(realtime.SourceError, match="holds no images"):
        list(realtime.frames(tmp_path / "empty"))
    with pytest.raises(ValueError, match="detector must be one of libfacedetection, haar"):
        realtime.make_detector("mtcnn")


def test_image_and_folder_sources(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), face_frame())
    cv2.imwrite(str(tmp_path / "b.png"), np.full((40, 40), 9, np.uint8))
    assert len(list(realtime.frames(tmp_path))) == 2
    (t, frame), = realtime.frames(tmp_path / "a.png")
    assert frame.shape == (480, 640)


def test_headless_run_writes_video_timeline_and_plot(tmp_path, tiny_run):
    faces = np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted(SAMPLE_DIR.rglob("*.jpg"))])
    truth = make_demo_video(faces, np.arange(len(faces)) % 7, tmp_path / "demo.mp4", seconds=1, fps=15)
    assert truth["frame"].nunique() == 15 and truth["face"].nunique() == 3
    recognizer = realtime.EmotionRecognizer(load_classifier(tiny_run["best_checkpoint"], device="cpu"))
    result = run_video(recognizer, tmp_path / "demo.mp4", tmp_path / "out", "demo")
    assert result["frames"] == 15
    for key in ("video", "gif", "contact_sheet", "timeline"):
        assert result[key].stat().st_size > 100, key
    timeline = result["timeline_df"]
    assert len(timeline) > 0 and set(timeline["label"]) <= set(EMOTIONS)
    np.testing.assert_allclose(timeline[[f"p_{e}" for e in EMOTIONS]].sum(axis=1), 1, atol=1e-3)
    assert cv2.VideoCapture(str(result["video"])).get(cv2.CAP_PROP_FRAME_COUNT) == 15
    score = score_against_truth(timeline, truth)
    assert score["faces"] == len(truth) and score["recall"] > 0.5
    plots.emotion_timeline(timeline, path=tmp_path / "out" / "timeline.png")
    assert (tmp_path / "out" / "timeline.png").stat().st_size > 1000


frame_strategy = st.one_of(
    arrays(dtype=st.sampled_from([np.uint8, np.uint16, np.float32, np.float64, np.int32, np.int8, np.bool_]),
           shape=st.tuples(st.integers(0, 70), st.integers(0, 70)).map(tuple)),
    arrays(dtype=st.sampled_from([np.uint8, np.float32, np.int16]),
           shape=st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(0, 6))),
    arrays(dtype=np.uint8, shape=st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(0, 4),
                                           st.integers(0, 3))),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=frame_strategy)
@pytest.mark.parametrize("detector", list(realtime.DETECTORS))
def test_fuzzed_frames_work_or_raise_the_documented_error(detector, frame):
    recognizer = realtime.EmotionRecognizer(RecordingClassifier(), detector=detector, smoothing=0.5)
    try:
        results = recognizer(frame)
    except realtime.FrameError:
        return
    assert isinstance(results, list)
    realtime.draw(frame, results, fps=10.0)


def test_a_video_without_frames_is_a_clear_error_that_predict_reports(tmp_path, tiny_run, monkeypatch, capsys):
    from fer_utils.realtime import predict

    monkeypatch.setattr(video, "frames", lambda *args, **kwargs: iter(()))
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"")
    assert predict.main([str(clip), "--output", str(tmp_path / "out"), "--checkpoint", tiny_run["best_checkpoint"],
                         "--device", "cpu"]) == 2
    assert "clip.mp4 gave no frames: it is empty or cannot be decoded" in capsys.readouterr().err


@pytest.mark.parametrize("rate", [30, 12])
def test_the_annotated_video_keeps_the_source_frame_rate(tmp_path, rate):
    faces = np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted(SAMPLE_DIR.rglob("*.jpg"))][:3])
    make_demo_video(faces, np.arange(3), tmp_path / "clip.mp4", seconds=1, fps=rate)
    result = run_video(realtime.EmotionRecognizer(RecordingClassifier()), tmp_path / "clip.mp4", tmp_path / "out")
    written = cv2.VideoCapture(str(result["video"]))
    assert written.get(cv2.CAP_PROP_FPS) == pytest.approx(rate) and result["fps"] == pytest.approx(rate)
    assert written.get(cv2.CAP_PROP_FRAME_COUNT) == rate


def test_images_make_a_video_at_the_chosen_rate(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.png"), face_frame())
    recognizer = realtime.EmotionRecognizer.for_source(RecordingClassifier(), tmp_path)
    default = run_video(recognizer, tmp_path, tmp_path / "out", "default")
    assert cv2.VideoCapture(str(default["video"])).get(cv2.CAP_PROP_FPS) == pytest.approx(video.STILLS_FPS)
    chosen = run_video(recognizer, tmp_path, tmp_path / "out", "chosen", fps=5)
    assert cv2.VideoCapture(str(chosen["video"])).get(cv2.CAP_PROP_FPS) == pytest.approx(5)
