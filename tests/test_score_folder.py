"""Scoring a labelled folder of faces: real 48-px faces scored as the evaluation scores them, photos that need the
detector, and the clear errors that write nothing."""

import json
import zipfile

import cv2
import numpy as np
import pytest
from conftest import SAMPLE_DIR

from fer_utils.data import ferplus
from fer_utils.data.fer2013 import load_arrays
from fer_utils.evaluation.evaluate import report
from fer_utils.labels import EMOTIONS
from fer_utils.model.classifier import load_classifier
from fer_utils.paths import ROOT, SHIPPED_CHECKPOINT
from fer_utils.realtime.footage import make_clip
from fer_utils.report import score_folder as sf

FERPLUS_ZIP = ROOT.parent / "shared" / "data" / "ferplus" / "ferplus-images.zip"
FOLDER_NAMES = {"angry": "Anger", "disgust": "disgusted", "fear": "FEARFUL", "happy": "happiness", "neutral": "neutral",
                "sad": "Sadness", "surprise": "surprised"}  # the names other datasets use, in any case


def ferplus_test_folder(folder, per_class: int = 6, contempt: int = 3):
    """FER+'s lossless PrivateTest PNGs, sorted into subfolders by their FER+ majority under other datasets' names,
    and a few of its contempt faces."""
    usages, names, votes = ferplus.read_votes()
    crowd = ferplus.majority(votes)
    kept = {}
    with zipfile.ZipFile(FERPLUS_ZIP) as zf:
        for row in np.flatnonzero(usages == "PrivateTest"):
            label, contempt_face = crowd[row], crowd[row] == ferplus.OUTSIDE and np.argmax(votes[row]) == 7
            sub = FOLDER_NAMES[EMOTIONS[label]] if label >= 0 else "contempt" if contempt_face else None
            limit = contempt if sub == "contempt" else per_class
            if sub and names[row] and kept.get(sub, 0) < limit:
                (folder / sub).mkdir(parents=True, exist_ok=True)
                (folder / sub / names[row]).write_bytes(zf.read(f"data/FER2013Test/{names[row]}"))
                kept[sub] = kept.get(sub, 0) + 1
    return folder, kept


@pytest.fixture(scope="module")
def classifier():
    return load_classifier(SHIPPED_CHECKPOINT, "cpu", engine="auto")


@pytest.mark.skipif(not FERPLUS_ZIP.exists(), reason=f"FER+'s images are not at {FERPLUS_ZIP}")
def test_real_48px_faces_are_scored_as_the_evaluation_scores_them(tmp_path, classifier):
    folder, kept = ferplus_test_folder(tmp_path / "ferplus")
    scores = sf.score_folder(folder, tmp_path / "out", classifier=classifier, progress=False)
    images, labels = sf.list_folder(folder)[0], []
    faces = np.stack([cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) for path, label in images])
    labels = np.array([label for _, label in images])
    expected = report(labels, classifier.predict_proba(faces).argmax(1))
    assert scores["scored"] == len(labels) == sum(n for sub, n in kept.items() if sub != "contempt")
    assert scores["left_out"] == {"contempt": kept["contempt"]} and scores["no_face"] == 0
    assert scores["accuracy"] == pytest.approx(expected["accuracy"])
    for name in EMOTIONS:
        assert scores["per_class"][name] == pytest.approx(expected["per_class"][name])
    assert scores["accuracy_one_view"] == pytest.approx(
        report(labels, classifier.predict_proba(faces, tta="none").argmax(1))["accuracy"])
    written = json.loads((tmp_path / "out" / "scores.json").read_text())
    assert {"images", "scored", "no_face", "accuracy", "accuracy_one_view", "macro_f1", "per_class"} <= set(written)
    for figure in ("confusion-matrix.png", "confusion-matrix-one-view.png", "confident-mistakes.png"):
        assert cv2.imread(str(tmp_path / "out" / figure)) is not None


def test_photos_go_through_the_detector_and_their_faces_are_scored(tmp_path, classifier):
    test = load_arrays(SAMPLE_DIR, verbose=False).split("test").per_class(2)
    clip = make_clip(test.images, test.labels, size=(320, 240), frames=len(test), min_side=90, max_side=180,
                     empty=(0, 0), switch_every=1, seed=1)
    for t, (frame, truth) in enumerate(zip(clip.frames, clip.truth)):
        path = tmp_path / "photos" / EMOTIONS[truth[0]["label"]] / f"photo{t:02d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), frame)
    scores = sf.score_folder(tmp_path / "photos", tmp_path / "out", classifier=classifier, progress=False)
    assert scores["images"] == len(clip.frames)
    assert scores["scored"] >= 0.8 * len(clip.frames)  # the demo finds most of these faces
    assert scores["scored"] + scores["no_face"] == len(clip.frames)
    assert sum(sum(row) for row in scores["confusion_matrix"]) == scores["scored"]
    assert scores["accuracy"] > 1 / 7  # the faces found are faces the model reads, not backdrop


def test_a_missing_or_empty_folder_is_a_clear_error_and_nothing_is_written(tmp_path):
    with pytest.raises(sf.FolderError, match="is not a folder"):
        sf.score_folder(tmp_path / "absent", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(sf.FolderError, match="no images in a subfolder named after an emotion .found: no subfolders"):
        sf.score_folder(tmp_path / "empty", tmp_path / "out")
    (tmp_path / "other" / "cats").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "other" / "cats" / "a.png"), np.zeros((48, 48), np.uint8))
    with pytest.raises(sf.FolderError, match="found: cats.*Name the subfolders after the classes"):
        sf.score_folder(tmp_path / "other", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_no_face_anywhere_is_an_error_and_unreadable_files_are_reported(tmp_path, capsys):
    (tmp_path / "faces" / "happy").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "faces" / "happy" / "wall.png"), np.full((200, 300, 3), 128, np.uint8))
    (tmp_path / "faces" / "happy" / "broken.jpg").write_bytes(b"not an image")
    with pytest.raises(sf.FolderError, match="no face was found in any of the 2 images .*1 unreadable"):
        sf.score_folder(tmp_path / "faces", tmp_path / "out", progress=False)
    assert "broken.jpg: not a readable image" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()


def test_the_command_says_what_is_wrong_and_exits_2(tmp_path, capsys):
    assert sf.main([str(tmp_path / "absent"), "--out", str(tmp_path / "out")]) == 2
    assert "error:" in capsys.readouterr().err


def test_the_notebooks_folders_are_scored_and_set_beside_fer2013(tmp_path, classifier):
    test = load_arrays(SAMPLE_DIR, verbose=False).split("test")
    for i in range(len(test)):
        path = tmp_path / "lab" / EMOTIONS[test.labels[i]] / f"face{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), test.images[i])
    assert sf.score_folders(" ; ", tmp_path / "out", classifier) == {}  # the parameter left empty: nothing
    scores = sf.score_folders(f"{tmp_path / 'lab'};", tmp_path / "out", classifier)
    assert list(scores) == ["lab"] and (tmp_path / "out" / "lab" / "scores.json").exists()
    table, matrices = sf.beside(scores, "FER2013 test", {"accuracy": 0.5, "scored": 9}, np.eye(7, dtype=int))
    assert list(table.index) == ["FER2013 test", "lab"] and list(table.columns) == ["accuracy", "scored"]
    assert table.loc["lab", "scored"] == len(test) and matrices["lab"].sum() == len(test)
