"""Figures shared by the notebooks. Each returns its matplotlib Figure and can save it."""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from . import EMOTIONS
from .data import FERArrays


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
