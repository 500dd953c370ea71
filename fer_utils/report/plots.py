"""Figures shared by the notebooks. Each returns its matplotlib Figure and can save it."""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from ..data.fer2013 import FERArrays
from ..evaluation.evaluate import confident_mistakes
from ..labels import EMOTIONS


def save(fig, path: Path | str | None) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120, bbox_inches="tight")


def class_distribution(arrays: FERArrays, path=None):
    """Images per class, one bar colour per split."""
    rows = [(EMOTIONS[label], split) for label, split in zip(arrays.labels, arrays.splits)]
    classes, splits = zip(*rows)
    fig, ax = plt.subplots(figsize=(9, 4))
    sns.countplot(x=list(classes), hue=list(splits), order=EMOTIONS, ax=ax)
    ax.set(xlabel="", ylabel="images", title="FER2013 class distribution per split")
    for container in ax.containers:
        ax.bar_label(container, fontsize=7)
    save(fig, path)
    return fig


def sample_grid(arrays: FERArrays, per_class: int = 8, seed: int = 0, path=None):
    """A row of random faces per class."""
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(len(EMOTIONS), per_class, figsize=(per_class * 1.1, len(EMOTIONS) * 1.2))
    for label, row in enumerate(axes):
        pool = np.flatnonzero(arrays.labels == label)
        picks = rng.choice(pool, size=min(per_class, len(pool)), replace=False)
        for ax in row:
            ax.axis("off")
        for ax, i in zip(row, picks):
            ax.imshow(arrays.images[i], cmap="gray", vmin=0, vmax=255)
        row[0].set_title(EMOTIONS[label], loc="left", fontsize=9)
    save(fig, path)
    return fig


def mean_faces(arrays: FERArrays, path=None):
    """The average face of each class."""
    fig, axes = plt.subplots(1, len(EMOTIONS), figsize=(len(EMOTIONS) * 1.6, 2))
    for label, ax in enumerate(axes):
        ax.imshow(arrays.images[arrays.labels == label].mean(axis=0), cmap="gray")
        ax.set_title(EMOTIONS[label], fontsize=9)
        ax.axis("off")
    save(fig, path)
    return fig


def pixel_histogram(arrays: FERArrays, path=None):
    """Pixel intensity distribution per split, and per-image mean brightness."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2))
    for split in np.unique(arrays.splits):
        images = arrays.images[arrays.splits == split]
        left.hist(images.ravel(), bins=64, density=True, histtype="step", label=split)
        right.hist(images.reshape(len(images), -1).mean(axis=1), bins=50, density=True, histtype="step", label=split)
    left.set(title="pixel intensities", xlabel="value")
    right.set(title="mean brightness per image", xlabel="mean value")
    left.legend()
    save(fig, path)
    return fig


def faces(images, titles=(), columns: int = 8, path=None):
    """A grid of faces with optional titles."""
    rows = max(1, -(-len(images) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.2, rows * 1.35), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, image, title in zip(axes.ravel(), images, list(titles) + [""] * len(images)):
        ax.imshow(image, cmap="gray", vmin=0, vmax=255)
        ax.set_title(title, fontsize=7)
    save(fig, path)
    return fig


def blank_images(arrays: FERArrays, blanks: list[dict], shown: int = 16, path=None):
    """The first ``shown`` blank images that the audit found (``audit.blank_images``), with split and pixel std."""
    index = {name: i for i, name in enumerate(arrays.names)}
    return faces([arrays.images[index[b["name"]]] for b in blanks[:shown]],
                 [f"{b['split']}\nstd {b['std']}" for b in blanks[:shown]], path=path)


def cross_split_pairs(arrays: FERArrays, pairs: list[dict], shown: int = 8, path=None):
    """Test images beside the training images they copy (the audit's ``cross_split_duplicates``), with labels;
    None when there are none."""
    if not pairs:
        return None
    index = {name: i for i, name in enumerate(arrays.names)}
    members = [(side, member) for pair in pairs[:shown]
               for side, member in (("test", pair["test"]), ("train", pair["train"][0]))]
    return faces([arrays.images[index[member["name"]]] for _, member in members],
                 [f"{side}: {EMOTIONS[member['label']]}" for side, member in members], path=path)


def mistake_galleries(images: np.ndarray, labels: np.ndarray, probs: np.ndarray, confusions: list, columns: int,
                       folder: Path) -> list:
    """One gallery per confusion (true, predicted, count): the faces of the true class given most confidently to
    the predicted one, saved as 04-mistakes-<true>-as-<predicted>.png in ``folder``."""
    figures = []
    for true, predicted, count in confusions:
        chosen = confident_mistakes(labels, probs, true, predicted, columns)
        if len(chosen):
            fig = faces(images[chosen], [f"{probs[i, predicted]:.2f}" for i in chosen], columns=columns,
                        path=Path(folder) / f"04-mistakes-{EMOTIONS[true]}-as-{EMOTIONS[predicted]}.png")
            fig.suptitle(f"true {EMOTIONS[true]}, predicted {EMOTIONS[predicted]} ({count} such mistakes)", y=1.05)
            figures.append(fig)
    return figures


def shares(values: dict[str, float], title: str, path=None):
    """Horizontal bars of shares (0 to 1), each labelled with its percentage."""
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(values) + 0.8))
    bars = ax.barh(list(values)[::-1], list(values.values())[::-1], color="tab:blue")
    ax.bar_label(bars, labels=[f"{v:.1%}" for v in list(values.values())[::-1]], padding=3, fontsize=8)
    ax.set(xlim=(0, 1), title=title)
    save(fig, path)
    return fig


def learning_curves(history: list[dict], path=None):
    """Loss and accuracy per epoch, train against validation, and the learning rate."""
    epochs = [h["epoch"] for h in history]
    fig, (loss_ax, acc_ax, lr_ax) = plt.subplots(1, 3, figsize=(13, 3.4))
    for key, label in (("train", "train (augmented)"), ("val", "validation")):
        loss_ax.plot(epochs, [h[f"{key}_loss"] for h in history], marker=".", label=label)
        acc_ax.plot(epochs, [h[f"{key}_acc"] for h in history], marker=".", label=label)
    best = max(history, key=lambda h: h["val_acc"])
    acc_ax.axvline(best["epoch"], color="grey", ls=":", lw=1)
    acc_ax.annotate(f"best {best['val_acc']:.3f}", (best["epoch"], best["val_acc"]), fontsize=8,
                    xytext=(4, -12), textcoords="offset points")
    lr_ax.plot(epochs, [h["lr"] for h in history], marker=".")
    loss_ax.set(title="loss", xlabel="epoch")
    acc_ax.set(title="accuracy", xlabel="epoch")
    lr_ax.set(title="learning rate (end of epoch)", xlabel="epoch")
    loss_ax.legend()
    fig.tight_layout()
    save(fig, path)
    return fig


def confusion_matrices(matrix: np.ndarray, axes_labels: tuple[str, str] = ("true", "predicted"),
                       title: str = "confusion matrix", path=None):
    """Seaborn heatmaps of a confusion matrix, in counts and normalised per row; ``axes_labels``: (rows, columns)."""
    fig, axes = plt.subplots(1, 2, figsize=(14, 5.5))
    normalised = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    for ax, data, fmt, kind in ((axes[0], matrix, "d", "counts"), (axes[1], normalised, ".2f", "row-normalised")):
        sns.heatmap(data, annot=True, fmt=fmt, cmap="Blues", xticklabels=EMOTIONS, yticklabels=EMOTIONS, ax=ax,
                    cbar=False, square=True)
        ax.set(xlabel=axes_labels[1], ylabel=axes_labels[0], title=f"{title} ({kind})")
    fig.tight_layout()
    save(fig, path)
    return fig


def confusion_panels(matrices: dict[str, np.ndarray], path=None):
    """Row-normalised confusion matrices side by side, one per named image set (true classes down, predicted across)."""
    fig, axes = plt.subplots(1, len(matrices), figsize=(5.2 * len(matrices), 5), squeeze=False)
    for ax, (name, matrix) in zip(axes[0], matrices.items()):
        matrix = np.asarray(matrix)
        sns.heatmap(matrix / np.maximum(matrix.sum(1, keepdims=True), 1), annot=True, fmt=".2f", cmap="Blues",
                    xticklabels=EMOTIONS, yticklabels=EMOTIONS, ax=ax, cbar=False, square=True, vmin=0, vmax=1)
        ax.set(xlabel="predicted", ylabel="true", title=f"{name} ({matrix.sum():,} faces)")
    fig.tight_layout()
    save(fig, path)
    return fig


def f1_against(ours: dict, original: dict, path=None):
    """Per-class F1, ours beside the original study's."""
    rows = [(name, source, table["per_class"][name]["f1"])
            for source, table in (("original", original), ("ours", ours)) for name in EMOTIONS]
    names, sources, values = zip(*rows)
    fig, ax = plt.subplots(figsize=(9, 3.8))
    sns.barplot(x=list(names), y=list(values), hue=list(sources), ax=ax)
    for container in ax.containers:
        ax.bar_label(container, fmt="%.2f", fontsize=7)
    ax.set(ylim=(0, 1), ylabel="F1", title="per-class F1: this study against the original")
    save(fig, path)
    return fig


def reliability_diagrams(curves: dict, path=None):
    """Reliability diagrams: {title: (confidence, accuracy, ece)}."""
    fig, axes = plt.subplots(1, len(curves), figsize=(4.2 * len(curves), 4), squeeze=False)
    for ax, (title, (confidence, accuracy, ece)) in zip(axes[0], curves.items()):
        ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
        ax.plot(confidence, accuracy, marker="o")
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="accuracy", title=f"{title}: ECE {ece:.3f}")
    fig.tight_layout()
    save(fig, path)
    return fig


def robustness_curves(curves: dict, baseline: float, units: dict | None = None, path=None):
    """Accuracy against perturbation strength: {name: (strengths, accuracies)}, with {name: unit} as x labels."""
    columns = 3
    rows = -(-len(curves) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3 * rows), squeeze=False)
    for ax in axes.ravel()[len(curves):]:
        ax.axis("off")
    for ax, (name, (strengths, accuracies)) in zip(axes.ravel(), curves.items()):
        ax.plot(strengths, accuracies, marker="o")
        ax.axhline(baseline, color="grey", ls=":", lw=1)
        ax.set(title=name, ylim=(0, 1), ylabel="accuracy", xlabel=(units or {}).get(name, "strength"))
    fig.tight_layout()
    save(fig, path)
    return fig


def true_and_predicted(labels, predicted) -> list[str]:
    """Titles "true→predicted" for faces."""
    return [f"{EMOTIONS[t]}→{EMOTIONS[p]}" for t, p in zip(labels, predicted)]


def heatmap_overlays(faces_, heatmaps, titles, columns: int = 7, path=None):
    """Faces with their Grad-CAM heatmaps laid over them."""
    rows = max(1, -(-len(faces_) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.5, rows * 1.7), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, face, heat, title in zip(axes.ravel(), faces_, heatmaps, titles):
        ax.imshow(face, cmap="gray", vmin=0, vmax=255)
        ax.imshow(heat, cmap="jet", alpha=0.4, vmin=0, vmax=1)
        ax.set_title(title, fontsize=7)
    save(fig, path)
    return fig


def recall_against_support(recall: dict, support: dict, path=None):
    """Per-class recall against the number of training images of the class."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for name in EMOTIONS:
        ax.scatter(support[name], recall[name])
        ax.annotate(name, (support[name], recall[name]), fontsize=8, xytext=(4, 2), textcoords="offset points")
    ax.set(xscale="log", xlabel="training images (log)", ylabel="test recall", ylim=(0, 1),
           title="recall against training support")
    save(fig, path)
    return fig


def emotion_timeline(timeline, tracks: int = 3, path=None):
    """Probabilities over time, stacked, for the longest-lived tracked faces of a video."""
    import pandas as pd

    timeline = pd.DataFrame(timeline)
    longest = timeline["track"].value_counts().index[:tracks] if len(timeline) else []
    fig, axes = plt.subplots(max(len(longest), 1), 1, figsize=(10, 2.2 * max(len(longest), 1)), squeeze=False)
    if not len(longest):
        axes[0, 0].text(0.5, 0.5, "no faces found", ha="center", va="center")
    for ax, track in zip(axes[:, 0], longest):
        rows = timeline[timeline["track"] == track].sort_values("time")
        ax.stackplot(rows["time"], *[rows[f"p_{e}"] for e in EMOTIONS], labels=EMOTIONS, alpha=0.85)
        ax.set(ylim=(0, 1), xlim=(timeline["time"].min(), timeline["time"].max()), ylabel=f"face {track}")
    axes[0, 0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    axes[-1, 0].set_xlabel("time (s)")
    fig.suptitle("emotion probabilities over time, per tracked face")
    fig.tight_layout()
    save(fig, path)
    return fig


def recall_by_variant(recalls: dict, path=None):
    """Per-class recall of several models side by side (``recalls``: name -> {emotion: recall})."""
    import pandas as pd

    rows = [(name, emotion, value) for name, per_class in recalls.items() for emotion, value in per_class.items()]
    frame = pd.DataFrame(rows, columns=["model", "emotion", "recall"])
    fig, ax = plt.subplots(figsize=(9, 3.8))
    sns.barplot(frame, x="emotion", y="recall", hue="model", order=EMOTIONS, ax=ax)
    ax.set(xlabel="", ylim=(0, 1), title="validation recall per class")
    ax.legend(fontsize=8, ncols=len(recalls))
    save(fig, path)
    return fig


def sweep_effects(trials, params: list[str], objective: str, path=None):
    """The objective of each trial against each swept option (pruned trials at their last reported value)."""
    fig, axes = plt.subplots(1, len(params), figsize=(3.2 * len(params), 3), sharey=True, squeeze=False)
    for ax, param in zip(axes[0], params):
        sns.scatterplot(trials, x=param, y=objective, hue="state", hue_order=["complete", "pruned"], ax=ax,
                        legend=ax is axes[0, -1])
        if param in ("lr", "weight_decay"):
            ax.set_xscale("log")
    fig.suptitle(f"{objective} per trial against each option")
    fig.tight_layout()
    save(fig, path)
    return fig
