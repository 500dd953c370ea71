"""The one train/validation split: what training learns from and selects on, and what evaluation reports as train
and validation accuracy. Every caller builds it from the same options, so they can never drift apart."""

from dataclasses import dataclass

import numpy as np

from .audit import noisy_training_images
from .fer2013 import FERArrays, train_val_indices


@dataclass
class TrainingSplit:
    """The training images (after ``max_per_class``), the indices training learns from (after ``clean``) and those
    it selects on, and how many ``clean`` left out."""

    train_all: FERArrays
    train_index: np.ndarray
    val_index: np.ndarray
    left_out: int

    @property
    def train(self) -> FERArrays:
        return self.train_all.subset(self.train_index)

    @property
    def val(self) -> FERArrays:
        return self.train_all.subset(self.val_index)


def training_split(arrays: FERArrays, options: dict) -> TrainingSplit:
    """The split that training options (``TrainConfig.as_dict()`` or a checkpoint's ``config``) give: a seeded,
    stratified ``val_fraction`` of the training images (after ``max_per_class``), with the noisy images left out of
    the rest when ``clean`` is set. Options a checkpoint predates take their defaults."""
    train_all = arrays.split("train")
    if options.get("max_per_class"):
        train_all = train_all.per_class(options["max_per_class"])
    train_index, val_index = train_val_indices(train_all.labels, options.get("val_fraction", 0.1),
                                               options.get("seed", 0))
    left_out = 0
    if options.get("clean"):
        noisy = noisy_training_images(train_all.subset(train_index))
        train_index, left_out = train_index[~noisy], int(noisy.sum())
    return TrainingSplit(train_all, train_index, val_index, left_out)
