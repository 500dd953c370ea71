"""The two levers toward 70 %: self-distillation from a teacher checkpoint's probabilities, and a refit on all the
training images once the recipe and views are fixed on the validation split."""

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import QUICK

from fer_utils import train
from fer_utils.checkpoint import load_checkpoint
from fer_utils.classifier import load_classifier
from fer_utils.config import ConfigError, TrainConfig
from fer_utils.data import load_arrays
from fer_utils.provenance import file_sha256
from fer_utils.splits import training_split


def test_distillation_and_refit_options_are_checked():
    with pytest.raises(ConfigError, match="needs both a teacher checkpoint and a distill share"):
        TrainConfig(distill=0.5)
    with pytest.raises(ConfigError, match="needs both a teacher checkpoint and a distill share"):
        TrainConfig(teacher="models/fer2013-resnet18.pt")
    with pytest.raises(ConfigError, match="must lie in"):
        TrainConfig(teacher="t.pt", distill=1.5)
    with pytest.raises(ConfigError, match="needs pipeline=fast"):
        TrainConfig(teacher="t.pt", distill=0.5, pipeline="torchvision")
    with pytest.raises(ConfigError, match="set tta to the views"):
        TrainConfig(val_fraction=0.0)
    assert TrainConfig(val_fraction=0.0, tta="ten-crop").val_fraction == 0


def test_the_targets_mix_the_labels_with_the_teachers_probabilities(tiny_run, tiny_data):
    config = TrainConfig(teacher=str(tiny_run["best_checkpoint"]), distill=0.25)
    train_split = load_arrays(tiny_data, verbose=False).split("train")
    targets = train.teacher_targets(config, train_split.images, train_split.labels, torch.device("cpu")).numpy()
    teacher = load_classifier(tiny_run["best_checkpoint"], "cpu").predict_proba(train_split.images)
    np.testing.assert_allclose(targets, 0.75 * np.eye(7)[train_split.labels] + 0.25 * teacher, atol=1e-5)
    np.testing.assert_allclose(targets.sum(1), 1, atol=1e-5)


def test_a_student_trains_on_the_teachers_targets_and_records_its_teacher(tiny_run, tiny_data, tmp_path):
    teacher = str(tiny_run["best_checkpoint"])
    result = train.train("smoke", {**QUICK, "epochs": 1, "teacher": teacher, "distill": 0.5,
                                   "data_dir": str(tiny_data)}, tmp_path, progress=False)
    assert result["info"]["teacher_sha256"] == file_sha256(teacher)
    assert load_checkpoint(result["best_checkpoint"])["config"]["distill"] == 0.5
    assert np.isfinite(result["history"][-1]["train_loss"])


def test_a_refit_trains_on_every_training_image_and_keeps_its_last_epoch(tiny_data, tmp_path):
    options = {**QUICK, "epochs": 2, "val_fraction": 0.0, "tta": "flip", "data_dir": str(tiny_data)}
    result = train.train("smoke", options, tmp_path, progress=False)
    split = training_split(load_arrays(tiny_data, verbose=False), load_checkpoint(result["best_checkpoint"])["config"])
    assert len(split.train_index) == len(split.train_all) and len(split.val_index) == 0  # the profile's every image
    assert result["info"]["train_images"] == len(split.train_all) and result["info"]["val_images"] == 0
    best, last = (load_checkpoint(Path(result["run_dir"]) / name) for name in ("best.pt", "last.pt"))
    assert best["epoch"] == last["epoch"] == 2 and best["tta"] == "flip"
