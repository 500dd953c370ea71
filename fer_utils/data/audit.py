"""Data audit: blank images and exact pixel duplicates, within train and across train/test."""

import hashlib
from collections import defaultdict

import numpy as np

from ..labels import EMOTIONS
from .fer2013 import FERArrays, pixel_stats

BLANK_STD = 3.0  # pixel standard deviation (0-255) below which an image counts as blank or near-constant


def pixel_stds(arrays: FERArrays) -> np.ndarray:
    return arrays.images.reshape(len(arrays), -1).std(axis=1)


def blank_images(arrays: FERArrays, max_std: float = BLANK_STD) -> list[dict]:
    """Images whose pixels barely vary: blank frames rather than faces."""
    stds = pixel_stds(arrays)
    return [
        {"name": str(arrays.names[i]), "split": str(arrays.splits[i]), "std": round(float(stds[i]), 2)}
        for i in np.flatnonzero(stds < max_std)
    ]


def duplicate_groups(arrays: FERArrays) -> list[np.ndarray]:
    """Groups (index arrays) of two or more images with identical pixels."""
    groups = defaultdict(list)
    for i, image in enumerate(arrays.images):
        groups[hashlib.blake2b(image.tobytes(), digest_size=16).digest()].append(i)
    return [np.array(g) for g in groups.values() if len(g) > 1]


def noisy_training_images(arrays: FERArrays) -> np.ndarray:
    """A mask of the blank images and of the members of duplicate groups whose copies disagree on the label."""
    noisy = pixel_stds(arrays) < BLANK_STD
    for group in duplicate_groups(arrays):
        if len(set(arrays.labels[group])) > 1:
            noisy[group] = True
    return noisy


def split_groups(arrays: FERArrays):
    """Duplicates within train (index arrays), and (train members, test members) of groups that cross the split."""
    is_train = arrays.splits == "train"
    within_train, cross_split = [], []
    for group in duplicate_groups(arrays):
        train_members, test_members = group[is_train[group]], group[~is_train[group]]
        if len(train_members) > 1:
            within_train.append(train_members)
        if len(train_members) and len(test_members):
            cross_split.append((train_members, test_members))
    return within_train, cross_split


def audit(arrays: FERArrays) -> dict:
    """Blank images, duplicates within train, and test images that are pixel copies of training images."""
    within_train, cross_split = split_groups(arrays)
    leaked = [int(i) for _, test in cross_split for i in test]

    def describe(i):
        return {"name": str(arrays.names[i]), "label": int(arrays.labels[i])}

    return {
        "blank_images": blank_images(arrays),
        "train_duplicate_groups": len(within_train),
        "train_duplicate_images": int(sum(len(g) for g in within_train)),
        "train_duplicates_conflicting_labels": int(sum(len(set(arrays.labels[g])) > 1 for g in within_train)),
        "test_copies_of_train": len(leaked),
        "test_copies_of_train_conflicting_labels": int(
            sum(bool((arrays.labels[train] != arrays.labels[t]).any()) for train, test in cross_split for t in test)
        ),
        "cross_split_duplicates": [
            {"test": describe(t), "train": [describe(tr) for tr in train]} for train, test in cross_split for t in test
        ],
        "leaked_test_indices": leaked,
    }


def leak_free_mask(arrays: FERArrays) -> np.ndarray:
    """True for each test image that is not a pixel copy of a training image (False for train images)."""
    leaked = np.zeros(len(arrays), bool)
    for _, test in split_groups(arrays)[1]:
        leaked[test] = True
    return (arrays.splits != "train") & ~leaked


def summary(arrays: FERArrays) -> dict:
    """What notebook 01 writes to reports/data_summary.json: counts, pixel statistics and the audit."""
    counts = {
        split: {name: int(((arrays.splits == split) & (arrays.labels == i)).sum()) for i, name in enumerate(EMOTIONS)}
        for split in ("train", "PublicTest", "PrivateTest")
    }
    for per_class in counts.values():
        per_class["total"] = sum(per_class.values())
    mean, std = pixel_stats(arrays.split("train").images)
    found = audit(arrays)
    found.pop("leaked_test_indices")
    return {"data_hash": arrays.data_hash, "images": len(arrays), "counts": counts,
            "train_pixel_mean": round(mean, 4), "train_pixel_std": round(std, 4), **found}
