"""FER2013's labels against FER+'s ten annotators (``fer_utils.data.ferplus``): how often the two agree, the model's
accuracy on each, and how much of what FER2013's labels call the model's errors the crowd labels as the model does.
Only images with a FER+ majority among the seven classes count, as in FER+'s own evaluation."""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from ..data.fer2013 import FERArrays, load_arrays
from ..data.ferplus import NO_LABEL, OUTSIDE, VOTE_COLUMNS, FERPlusMissing, majority, votes_for
from ..data.splits import training_split
from ..labels import EMOTIONS
from ..model.classifier import load_classifier
from ..paths import MODELS_DIR, ROOT, SHIPPED_CHECKPOINT
from ..provenance import git_commit
from ..scores import accuracy

SPLITS = ("PublicTest", "PrivateTest", "combined")  # the test subsets FER+ is scored on (``evaluate.test_subsets``,
# without leak_free: FER+'s figures compare with FER+'s own, which has no such subset)
VERDICTS = {"sides with the model": "model", "sides with FER2013's label": "label", "names a third class": "third",
            "split, no majority": "split", "contempt, unknown or not a face": "outside"}


def crowd_votes(arrays: FERArrays) -> tuple[np.ndarray | None, str]:
    """The ten FER+ votes of each image, or None and one line that says why there are none."""
    try:
        return votes_for(arrays), ""
    except FERPlusMissing as err:
        return None, f"FER+ votes are not available for these images ({err}); the FER+ figures are left out."


def _share(mask: np.ndarray) -> float:
    return float(mask.mean()) if len(mask) else 0.0


def scores(labels: np.ndarray, crowd: np.ndarray, predicted: np.ndarray, subsets: dict[str, np.ndarray]) -> dict:
    """The ``ferplus`` object of metrics.json: per split, the model's accuracy against the FER+ majority and against
    FER2013's labels on the same images, how often the two label sets agree, and the share of the model's FER2013
    errors on which FER+ gives the model's answer; macro F1 against FER+ on both splits."""
    out = {key: {} for key in ("accuracy", "accuracy_fer2013_labels", "label_agreement",
                               "errors_ferplus_agrees_with_model", "n_images", "errors")}
    for name in SPLITS:
        has = subsets[name] & (crowd >= 0)
        wrong = has & (predicted != labels)
        out["accuracy"][name] = accuracy(predicted[has], crowd[has])
        out["accuracy_fer2013_labels"][name] = accuracy(predicted[has], labels[has])
        out["label_agreement"][name] = _share(labels[has] == crowd[has])
        out["errors_ferplus_agrees_with_model"][name] = _share(crowd[wrong] == predicted[wrong])
        out["n_images"][name], out["errors"][name] = int(has.sum()), int(wrong.sum())
    has = subsets["combined"] & (crowd >= 0)
    out["macro_f1"] = float(f1_score(crowd[has], predicted[has], labels=range(len(EMOTIONS)), average="macro",
                                     zero_division=0))
    return out


def label_confusion(labels: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """Counts of (FER2013 label, FER+ majority) over the images with a majority among the seven."""
    has = crowd >= 0
    return np.bincount(labels[has] * len(EMOTIONS) + crowd[has],
                       minlength=len(EMOTIONS) ** 2).reshape(len(EMOTIONS), len(EMOTIONS))


def verdicts(labels: np.ndarray, crowd: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """What FER+ says of the model's errors on FER2013's labels (all of them, images without a majority included):
    the share of each verdict in ``VERDICTS``."""
    wrong = predicted != labels
    c, p, y = crowd[wrong], predicted[wrong], labels[wrong]
    masks = {"model": c == p, "label": c == y, "third": (c >= 0) & (c != p) & (c != y), "split": c == NO_LABEL,
             "outside": c == OUTSIDE}
    return {name: _share(masks[key]) for name, key in VERDICTS.items()}


def vote_titles(labels: np.ndarray, predicted: np.ndarray, votes: np.ndarray) -> list[str]:
    """Gallery titles: FER2013's label, the model's answer, and the votes (two or more) as column initials."""
    initials = [name[:2] if name != "NF" else "NF" for name in VOTE_COLUMNS]
    return [f"{EMOTIONS[y]}→{EMOTIONS[p]}\n" + " ".join(f"{initials[i]}{v[i]}" for i in np.argsort(-v) if v[i] > 1)
            for y, p, v in zip(labels, predicted, votes)]


def worst_against_votes(labels: np.ndarray, crowd: np.ndarray) -> dict[str, float]:
    """For a set of training faces (the highest-loss ones, or all of them): the share FER+ confirms, relabels,
    splits on, or calls contempt, unknown or not a face."""
    return {"FER+ confirms the label": _share(crowd == labels),
            "FER+ relabels": _share((crowd >= 0) & (crowd != labels)),
            "split, no majority": _share(crowd == NO_LABEL),
            "contempt, unknown or not a face": _share(crowd == OUTSIDE)}


def table(crowd_scores: dict) -> pd.DataFrame:
    """The ``scores`` per split, as notebook 03 shows them."""
    columns = {"n_images": "images with a FER+ majority", "label_agreement": "FER2013 label = FER+ majority",
               "accuracy_fer2013_labels": "accuracy on FER2013 labels", "accuracy": "accuracy on FER+ majority",
               "errors_ferplus_agrees_with_model": "FER2013 errors where FER+ gives the model's answer"}
    return pd.DataFrame({label: crowd_scores[key] for key, label in columns.items()}).round(4)


# --------------------------------------------------------------------------- a model trained on the votes, compared

TRAINING_JSON = MODELS_DIR / "ferplus-training.json"


def model_on_both_label_sets(classifier, arrays: FERArrays, crowd: np.ndarray) -> dict:
    """One checkpoint's accuracy with its default call on its validation split and on each test split, against
    FER2013's labels (all images) and against the FER+ majority (the images that have one), and macro F1 on both
    test splits; its training record beside them."""
    split = training_split(arrays, classifier.config)
    row_of = {name: i for i, name in enumerate(arrays.names)}
    out = {"checkpoint": str(classifier.checkpoint_path), "profile": classifier.provenance.get("profile"),
           "labels": classifier.config.get("labels", "fer2013"), "tta": classifier.tta,
           "trained_on": classifier.provenance.get("device"),
           "training_minutes": round((classifier.provenance.get("wall_s") or 0) / 60, 1)}
    for images, parts in ((split.val, {"validation": None}), (arrays.split("test"), {
            "PublicTest": "PublicTest", "PrivateTest": "PrivateTest", "combined test": None})):
        predicted_all = classifier.predict_proba(images.images).argmax(1)  # each image set once, its splits sliced
        crowd_all = crowd[[row_of[n] for n in images.names]]
        for name, split_name in parts.items():
            mask = np.ones(len(images), bool) if split_name is None else images.splits == split_name
            predicted, labels, theirs = predicted_all[mask], images.labels[mask], crowd_all[mask]
            has = theirs >= 0
            out[name] = {"fer2013": accuracy(predicted, labels), "ferplus": accuracy(predicted[has], theirs[has]),
                         "images": int(mask.sum()), "images_ferplus": int(has.sum())}
            if name == "combined test":
                out[name]["macro_f1_fer2013"] = float(f1_score(labels, predicted, average="macro"))
                out[name]["macro_f1_ferplus"] = float(f1_score(theirs[has], predicted[has], average="macro"))
    return out


def compare(checkpoints: list[str], data_dir: str | None = None) -> dict:
    """``model_on_both_label_sets`` for each checkpoint (the shipped one first), on the same images."""
    arrays = load_arrays(data_dir, verbose=False)
    crowd = majority(votes_for(arrays))
    models = [model_on_both_label_sets(load_classifier(path, "cpu", engine="auto", cache=True), arrays, crowd)
              for path in [str(SHIPPED_CHECKPOINT), *checkpoints]]
    return {"models": models, "data_hash": arrays.data_hash, "git_commit": git_commit()}


def comparison_table(record: dict) -> pd.DataFrame:
    """``compare``'s record as a table: a row per model, accuracy per part and label set."""
    rows = {}
    for model in record["models"]:
        name = f"{model['profile']} (trained on {model['labels']})"
        rows[name] = {f"{part}, {labels}": model[part][labels]
                      for part in ("validation", "PublicTest", "PrivateTest", "combined test")
                      for labels in ("fer2013", "ferplus")}
    return pd.DataFrame(rows).T.round(4)


def load_comparison(path: Path = TRAINING_JSON) -> dict | None:
    """``models/ferplus-training.json``, or None where it has not been written."""
    return json.loads(path.read_text()) if path.exists() else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Compare checkpoints with the shipped model on FER2013's labels "
                                     "and on FER+'s majority labels (validation and test, the default call).")
    parser.add_argument("checkpoints", nargs="+", help="e.g. runs/cpu-ferplus/best.pt")
    parser.add_argument("--data-dir", help="FER2013 folder (default: data/fer2013)")
    parser.add_argument("--write", action="store_true", help=f"write {TRAINING_JSON.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    record = compare(args.checkpoints, args.data_dir)
    print(comparison_table(record).T.to_string())
    if args.write:
        TRAINING_JSON.write_text(json.dumps(record, indent=1) + "\n")
        print(f"wrote {TRAINING_JSON}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
