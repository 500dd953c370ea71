"""Evaluation: accuracy per test split and leak-free, the classification report beside the original study's
Table 1, confusion matrices, and the metrics.json that the README is filled from."""

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score

from ..data.audit import leak_free_mask
from ..data.fer2013 import FERArrays
from ..labels import EMOTIONS
from ..paths import ROOT
from ..provenance import file_sha256, git_commit
from ..scores import accuracy

# The original study's Table 1 (ResNet18, 10 epochs, Adam), on the 7,178 test images.
ORIGINAL = {
    "per_class": {
        "angry": {"precision": 0.655, "recall": 0.564, "f1": 0.606, "support": 958},
        "disgust": {"precision": 0.624, "recall": 0.658, "f1": 0.640, "support": 111},
        "fear": {"precision": 0.579, "recall": 0.474, "f1": 0.521, "support": 1024},
        "happy": {"precision": 0.862, "recall": 0.876, "f1": 0.869, "support": 1774},
        "neutral": {"precision": 0.600, "recall": 0.681, "f1": 0.638, "support": 1233},
        "sad": {"precision": 0.544, "recall": 0.574, "f1": 0.559, "support": 1247},
        "surprise": {"precision": 0.787, "recall": 0.833, "f1": 0.809, "support": 831},
    },
    "accuracy": 0.683, "macro_f1": 0.663, "weighted_f1": 0.680, "train_accuracy": 0.78, "support": 7178,
}

# The `fer` package's bundled model on the same 7,178 test images (TFLite, raw crops; selected on the test set).
PEER_FER_PACKAGE = {"accuracy": 0.6556, "macro_f1": 0.631}


def report(labels: np.ndarray, predicted: np.ndarray) -> dict:
    """Per-class precision, recall, F1 and support, with accuracy and macro/weighted averages (scikit-learn)."""
    raw = classification_report(labels, predicted, labels=range(len(EMOTIONS)), target_names=EMOTIONS,
                                output_dict=True, zero_division=0)
    per_class = {name: {"precision": raw[name]["precision"], "recall": raw[name]["recall"],
                        "f1": raw[name]["f1-score"], "support": int(raw[name]["support"])} for name in EMOTIONS}
    return {"per_class": per_class, "accuracy": accuracy_score(labels, predicted),
            "macro_f1": f1_score(labels, predicted, average="macro", zero_division=0),
            "weighted_f1": f1_score(labels, predicted, average="weighted", zero_division=0),
            "support": int(len(labels))}


def table_vs_original(ours: dict) -> pd.DataFrame:
    """Our classification report beside the original's Table 1, with the differences."""
    rows = []
    for name in EMOTIONS:
        row = {"class": name}
        for key in ("precision", "recall", "f1"):
            row[f"{key} (orig)"] = ORIGINAL["per_class"][name][key]
            row[f"{key} (ours)"] = ours["per_class"][name][key]
            row[f"{key} Δ"] = ours["per_class"][name][key] - ORIGINAL["per_class"][name][key]
        row["support"] = ours["per_class"][name]["support"]
        rows.append(row)
    for key, label in (("accuracy", "accuracy"), ("macro_f1", "macro avg F1"), ("weighted_f1", "weighted avg F1")):
        rows.append({"class": label, "f1 (orig)": ORIGINAL[key], "f1 (ours)": ours[key],
                     "f1 Δ": ours[key] - ORIGINAL[key], "support": ours["support"]})
    return pd.DataFrame(rows).set_index("class")


def style_vs_original(table: pd.DataFrame):
    """The table with its per-class differences coloured from red (worse) to green (better); empty cells stay blank."""
    deltas = [c for c in table.columns if c.endswith("Δ")]
    return table.style.format(precision=3, na_rep="").background_gradient(
        subset=pd.IndexSlice[list(EMOTIONS), deltas], cmap="RdYlGn", vmin=-0.15, vmax=0.15)


def accuracy_table(accuracies: dict, single_view: dict, tta: str) -> pd.DataFrame:
    """Accuracy per test split, with one view and with the test-time views ``tta``, and the images counted."""
    return pd.DataFrame({"one view": {k: v["accuracy"] for k, v in single_view.items()},
                         f"test-time views ({tta})": {k: v["accuracy"] for k, v in accuracies.items()},
                         "images": {k: v["n"] for k, v in accuracies.items()}}).round(4)


def test_subsets(arrays: FERArrays) -> dict[str, np.ndarray]:
    """Masks over the test images of ``arrays`` (in order): PublicTest, PrivateTest, both, and those that are not
    pixel copies of training images (``arrays`` must hold the train images too, which the leak check compares
    against). Compute them once per evaluation."""
    test = arrays.splits != "train"
    splits = arrays.splits[test]
    return {"PublicTest": splits == "PublicTest", "PrivateTest": splits == "PrivateTest",
            "combined": np.ones(len(splits), bool), "leak_free": leak_free_mask(arrays)[test]}


def split_accuracies(subsets: dict[str, np.ndarray], labels: np.ndarray, predicted: np.ndarray) -> dict:
    """Accuracy and image count on each of ``test_subsets``; ``labels`` and ``predicted`` cover the test images."""
    return {name: {"accuracy": accuracy(predicted[mask], labels[mask]), "n": int(mask.sum())}
            for name, mask in subsets.items()}


def confusion(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    return confusion_matrix(labels, predicted, labels=range(len(EMOTIONS)))


def top_confusions(matrix: np.ndarray, k: int = 6) -> list[tuple[int, int, int]]:
    """The k most frequent (true, predicted, count) mistakes."""
    off = [(t, p, int(matrix[t, p])) for t in range(len(matrix)) for p in range(len(matrix)) if t != p]
    return sorted(off, key=lambda item: -item[2])[:k]


def metrics(classifier, ours: dict, accuracies: dict, single_view: dict, matrix: np.ndarray, train_acc: float,
            val_acc: float, tta: str, profile: str, data_hash: str, ferplus: dict | None = None) -> dict:
    """Everything notebook 03 reports, with provenance, as written to reports/metrics.json: accuracy with the
    classifier's test-time views (``tta``) and with one view (``single_view``), and against FER+'s majority labels
    (``label_noise.scores``) where the votes are at hand."""
    path = Path(classifier.checkpoint_path).resolve()
    trained = classifier.provenance
    return {
        "accuracy": {name: value["accuracy"] for name, value in accuracies.items()},
        "accuracy_single_view": {name: value["accuracy"] for name, value in single_view.items()},
        "n_images": {name: value["n"] for name, value in accuracies.items()},
        "macro_f1": ours["macro_f1"], "weighted_f1": ours["weighted_f1"],
        "per_class": ours["per_class"],
        "confusion_matrix": matrix.tolist(),
        "train_accuracy": train_acc, "val_accuracy": val_acc, "tta_val_accuracy": classifier.tta_val_acc,
        **({"ferplus": ferplus} if ferplus else {}),
        "original": ORIGINAL, "peer_fer_package": PEER_FER_PACKAGE,
        "provenance": {
            "checkpoint": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path),
            "checkpoint_sha256": file_sha256(path),
            "profile": profile, "training_profile": trained.get("profile"),
            "tta": tta, "evaluated_on": str(classifier.device), "trained_on": trained.get("device"),
            "training_wall_s": trained.get("wall_s"), "git_commit": git_commit(),
            "training_git_commit": trained.get("git_commit"), "data_hash": data_hash,
        },
    }


def confident_mistakes(labels: np.ndarray, probs: np.ndarray, true: int, predicted: int, k: int = 8) -> np.ndarray:
    """Indices of the k most confident predictions of ``predicted`` for faces labelled ``true``."""
    wrong = np.flatnonzero((labels == true) & (probs.argmax(1) == predicted))
    return wrong[np.argsort(-probs[wrong, predicted])][:k]


def robustness(classifier, faces: np.ndarray, labels: np.ndarray, perturbations: dict) -> dict:
    """Accuracy at each strength of each perturbation: {name: (strengths, accuracies)}."""
    from tqdm.auto import tqdm

    curves = {}
    for name, (function, strengths, kwargs, _) in tqdm(perturbations.items(), desc="perturbations"):
        accuracies = [accuracy(classifier.predict_proba(function(faces, s, **kwargs), tta="none"), labels)
                      for s in strengths]
        curves[name] = (list(strengths), accuracies)
    return curves


def per_sample_loss(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return -np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, 1))


def likely_mislabelled(classifier, faces: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` faces with the highest loss under the classifier (one view), most likely mislabelled first, and
    the classifier's probabilities for them."""
    probs = classifier.predict_proba(faces, tta="none")
    worst = np.argsort(-per_sample_loss(probs, labels))[:k]
    return worst, probs[worst]


def recalls(ours: dict) -> dict[str, float]:
    """The recall of each class in a ``report``."""
    return {name: ours["per_class"][name]["recall"] for name in EMOTIONS}


def recall_and_support(labels: np.ndarray, predicted: np.ndarray, train_labels: np.ndarray) -> tuple[dict, dict]:
    """Recall of each class on ``labels``, and the number of training images of each class."""
    return (recalls(report(labels, predicted)),
            {name: int((train_labels == i).sum()) for i, name in enumerate(EMOTIONS)})


def error_analysis_record(profile: str, accuracy_: float, calibration: dict, curves: dict, recall: dict,
                          support: dict, confusions: list[tuple[int, int, int]]) -> dict:
    """What notebook 04 writes to reports/error_analysis.json."""
    return {"profile": profile, "accuracy": accuracy_, "calibration": calibration, "robustness": curves,
            "recall": recall, "train_support": support,
            "confusions": [[EMOTIONS[t], EMOTIONS[p], n] for t, p, n in confusions]}


def gradcam_examples(labels: np.ndarray, probs: np.ndarray) -> tuple[list[int], list[int]]:
    """Per class, the most confident correct prediction and the most confident wrong one (indices)."""
    predicted = probs.argmax(1)
    confidence = probs.max(1)
    rows = {"correct": [], "wrong": []}
    for label in range(len(EMOTIONS)):
        for kind, mask in (("correct", predicted == label), ("wrong", predicted != label)):
            candidates = np.flatnonzero((labels == label) & mask)
            if len(candidates):
                rows[kind].append(int(candidates[np.argmax(confidence[candidates])]))
    return rows["correct"], rows["wrong"]
