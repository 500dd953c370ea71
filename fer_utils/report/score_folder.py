"""Score a model on your own labelled faces: a folder with one subfolder per emotion, as many datasets ship.

    python -m fer_utils.report.score_folder FOLDER --out OUT        (or: make score-folder FOLDER=... OUT=...)

Subfolder names map to the seven classes in any case (anger/angry, disgusted/disgust, fearful/fear, happiness/happy,
neutral, sadness/sad, surprised/surprise); other subfolders (contempt, unknown) are counted and left out. A 48x48
image is classified as it is, as FER2013's faces are. Any other image goes through the demo's face detector
(libfacedetection, with the demo's enlarged search for small faces) and its largest face, cropped as the demo crops
it, is classified. The model's scores come from the evaluation stage: ``evaluate.report`` with the default call
(the checkpoint's test-time views) and with one view. ``OUT`` gets ``scores.json``, the confusion matrices and a
gallery of the most confident mistakes; nothing is written where the folder cannot be scored.
"""

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..data.fer2013 import IMAGE_SIZE, IMAGE_SUFFIXES
from ..evaluation.evaluate import confusion, report
from ..labels import EMOTIONS
from ..model.classifier import load_classifier
from ..realtime.crops import crop_face
from ..realtime.detectors import make_detector, search
from . import plots

ALIASES = {"anger": "angry", "disgusted": "disgust", "fearful": "fear", "happiness": "happy", "sadness": "sad",
           "surprised": "surprise", **{name: name for name in EMOTIONS}}
UPSCALE = 2  # the demo's enlarged search for photos (EmotionRecognizer's "still" mode)


class FolderError(ValueError):
    """The folder cannot be scored; the message says why and what the command expects."""


def list_folder(folder: Path | str) -> tuple[list[tuple[Path, int]], dict[str, int]]:
    """(image, label) for every image in the subfolders named after one of the seven classes, in a fixed order, and
    the number of images in each other subfolder, which are left out."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FolderError(f"{folder} is not a folder. Expected a folder with one subfolder per emotion, e.g. "
                          f"{folder}/happy/*.jpg.")
    images, left_out = [], {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        files = sorted(p for p in sub.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if sub.name.lower() in ALIASES:
            images += [(path, EMOTIONS.index(ALIASES[sub.name.lower()])) for path in files]
        else:
            left_out[sub.name] = len(files)
    if not images:
        found = ", ".join(sorted(left_out)) or "no subfolders"
        raise FolderError(f"{folder} has no images in a subfolder named after an emotion (found: {found}). Name the "
                          f"subfolders after the classes: {', '.join(sorted(ALIASES))}, in any case.")
    return images, left_out


def read_faces(images: list[tuple[Path, int]], detector=None, progress: bool = True) -> dict:
    """Each image's 48x48 gray face: the image itself where it is 48x48, else the largest face the detector finds.
    Returns the faces and labels of the images with one, and the images with no face found or unreadable."""
    faces, labels, kept, no_face, unreadable = [], [], [], [], []
    for path, label in tqdm(images, desc="faces", disable=not progress):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            unreadable.append(str(path))
            continue
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if gray.shape == (IMAGE_SIZE, IMAGE_SIZE):
            face = gray
        else:
            detector = detector or make_detector()
            boxes = search(detector, image, UPSCALE).boxes
            if not len(boxes):
                no_face.append(str(path))
                continue
            face = crop_face(gray, boxes[np.argmax(boxes[:, 2] * boxes[:, 3])])
        faces.append(face)
        labels.append(label)
        kept.append(str(path))
    return {"faces": np.array(faces, np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE), "labels": np.array(labels, int),
            "paths": kept, "no_face": no_face, "unreadable": unreadable}


def score(classifier, read: dict) -> tuple[dict, np.ndarray]:
    """The scores of ``read`` (``read_faces``) with the default call and with one view, and the default call's
    probabilities."""
    probs = classifier.predict_proba(read["faces"], cache=False)
    one_view = classifier.predict_proba(read["faces"], tta="none", cache=False).argmax(1)
    ours, single = report(read["labels"], probs.argmax(1)), report(read["labels"], one_view)
    scored = len(read["labels"])
    return {"images": scored + len(read["no_face"]) + len(read["unreadable"]), "scored": scored,
            "no_face": len(read["no_face"]), "unreadable": len(read["unreadable"]),
            "accuracy": ours["accuracy"], "accuracy_one_view": single["accuracy"], "macro_f1": ours["macro_f1"],
            "macro_f1_one_view": single["macro_f1"], "per_class": ours["per_class"],
            "per_class_one_view": single["per_class"], "tta": classifier.tta,
            "confusion_matrix": confusion(read["labels"], probs.argmax(1)).tolist(),
            "confusion_matrix_one_view": confusion(read["labels"], one_view).tolist(),
            "no_face_images": read["no_face"], "unreadable_images": read["unreadable"],
            "checkpoint": str(classifier.checkpoint_path)}, probs


def write(out: Path | str, scores: dict, read: dict, probs: np.ndarray, shown: int = 16) -> Path:
    """``scores.json``, the confusion matrices (default call and one view) and the most confident mistakes."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scores.json").write_text(json.dumps(scores, indent=1) + "\n")
    for key, title in (("confusion_matrix", f"default call ({scores['tta']})"), ("confusion_matrix_one_view",
                                                                             "one view")):
        plots.confusion_matrices(np.array(scores[key]), title=title, path=out / f"{key.replace('_', '-')}.png")
    predicted = probs.argmax(1)
    wrong = np.flatnonzero(predicted != read["labels"])
    worst = wrong[np.argsort(-probs[wrong].max(1))][:shown]
    titles = [f"{t}\n{Path(read['paths'][i]).name[:14]}" for t, i in
              zip(plots.true_and_predicted(read["labels"][worst], predicted[worst]), worst)]
    plots.faces(read["faces"][worst], titles, columns=8, path=out / "confident-mistakes.png")
    return out / "scores.json"


def score_folder(folder: Path | str, out: Path | str | None = None, checkpoint: str | None = None,
                 device: str = "auto", progress: bool = True, classifier=None) -> dict:
    """List, read and score ``folder``; write the results to ``out`` where given. Raises ``FolderError``, having
    written nothing, where the folder holds no usable images or no face is found in any."""
    images, left_out = list_folder(folder)
    for name, count in left_out.items():
        print(f"left out {name}/ ({count} images): not one of the seven classes")
    read = read_faces(images, progress=progress)
    for path in read["unreadable"]:
        print(f"skipped {path}: not a readable image")
    if not len(read["labels"]):
        raise FolderError(f"no face was found in any of the {len(images)} images of {folder}"
                          + (f" ({len(read['unreadable'])} unreadable)" if read["unreadable"] else "")
                          + ": give photos with a visible face, or 48x48 face crops. Nothing was written.")
    classifier = classifier or load_classifier(checkpoint, device, engine="auto")
    scores, probs = score(classifier, read)
    scores["left_out"] = left_out
    if out is not None:
        write(out, scores, read, probs)
    return scores


def score_folders(folders: str, out: Path, classifier) -> dict[str, dict]:
    """Notebook 03's ``folders`` parameter: each of the ";"-separated folders scored into ``out``/<its name>/."""
    paths = [Path(folder.strip()).expanduser() for folder in folders.split(";") if folder.strip()]
    return {path.name: score_folder(path, out / path.name, classifier=classifier) for path in paths}


def beside(folder_scores: dict[str, dict], name: str, scores: dict, matrix) -> tuple[pd.DataFrame, dict]:
    """The folders' scores in a table under another image set's (``name``: its ``scores`` and confusion ``matrix``),
    and all their confusion matrices by name."""
    table = pd.DataFrame({name: scores, **folder_scores}).T[list(scores)]
    matrices = {key: np.array(folder["confusion_matrix"]) for key, folder in folder_scores.items()}
    return table, {name: np.asarray(matrix), **matrices}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="a folder with one subfolder of images per emotion")
    parser.add_argument("--out", type=Path, required=True, help="where scores.json and the figures go")
    parser.add_argument("--checkpoint", help="the checkpoint to score (default: the shipped model)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    try:
        scores = score_folder(args.folder, args.out, args.checkpoint, args.device)
    except FolderError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{scores['scored']:,} of {scores['images']:,} images scored ({scores['no_face']} without a face found, "
          f"{scores['unreadable']} unreadable): accuracy {scores['accuracy']:.2%} with the default call "
          f"({scores['tta']}), {scores['accuracy_one_view']:.2%} with one view; macro F1 {scores['macro_f1']:.3f}. "
          f"Wrote {args.out / 'scores.json'} and the figures.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
