"""The two levers toward 70 %: self-distillation from a teacher checkpoint's probabilities, and a refit on all the
training images once the recipe and views are fixed on the validation split."""

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import QUICK

from fer_utils.data.fer2013 import load_arrays
from fer_utils.data.splits import training_split
from fer_utils.model import classifier as classifier_module
from fer_utils.model.checkpoint import load_checkpoint
from fer_utils.model.classifier import load_classifier
from fer_utils.provenance import file_sha256
from fer_utils.report.benchmark_results import render_levers
from fer_utils.training import levers, train
from fer_utils.training.config import ConfigError, TrainConfig, training_config


def test_distillation_and_refit_options_are_checked():
    with pytest.raises(ConfigError, match="needs both a teacher checkpoint and a distill share"):
        TrainConfig(distill=0.5)
    with pytest.raises(ConfigError, match="needs both a teacher checkpoint and a distill share"):
        TrainConfig(teacher="models/fer2013-resnet18.pt")
    with pytest.raises(ConfigError, match="must lie in"):
        TrainConfig(teacher="t.pt", distill=1.5)
    with pytest.raises(ConfigError, match="need pipeline=fast"):
        TrainConfig(teacher="t.pt", distill=0.5, pipeline="torchvision")
    with pytest.raises(ConfigError, match="need pipeline=fast"):
        TrainConfig(labels="ferplus", pipeline="torchvision")
    with pytest.raises(ConfigError, match="set tta to the views"):
        TrainConfig(val_fraction=0.0)
    assert TrainConfig(val_fraction=0.0, tta="ten-crop").val_fraction == 0


def test_the_targets_mix_the_labels_with_the_teachers_probabilities(tiny_run, tiny_data):
    config = TrainConfig(teacher=str(tiny_run["best_checkpoint"]), distill=0.25)
    train_split = load_arrays(tiny_data, verbose=False).split("train")
    targets = train.training_targets(config, train_split, torch.device("cpu")).numpy()
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


def test_the_levers_table_gives_each_runs_accuracies_and_the_best_by_validation(tiny_run, tiny_data, tmp_path,
                                                                                monkeypatch):
    monkeypatch.setattr(classifier_module, "LOGITS_CACHE", tmp_path / "logits")
    refit = train.train("smoke", {**QUICK, "epochs": 1, "val_fraction": 0.0, "tta": "flip",
                                  "data_dir": str(tiny_data)}, tmp_path / "runs", progress=False)
    rows = [levers.lever_row(run["run_dir"], engine="torch") for run in (tiny_run, refit)]
    test = load_arrays(tiny_data, verbose=False).split("test")
    recipe = load_classifier(tiny_run["best_checkpoint"], "cpu")
    assert rows[0]["test_one_view"] == pytest.approx(float((recipe.predict_proba(test.images, tta="none").argmax(1)
                                                              == test.labels).mean()))
    assert rows[0]["val_views"] == tiny_run["tta_val_acc"][tiny_run["tta"]] and not rows[0]["refit"]
    assert rows[1]["refit"] and rows[1]["val_one_view"] is None and rows[1]["views"] == "flip"
    assert rows[1]["epochs"] == 1 and rows[1]["minutes"] >= 0
    result = {"machine": "a CPU", "runs": rows, "best_by_validation": levers.best_by_validation(rows)}
    assert result["best_by_validation"] == rows[0]["run"]
    table = "\n".join(render_levers(result))
    assert f"| {rows[1]['run']} | – | train + validation | 1 |" in table and "70 %." in table
    told = train.train("smoke", {**QUICK, "epochs": 1, "tta": "flip", "data_dir": str(tiny_data)},
                       tmp_path / "runs", progress=False)
    assert told["tta_val_acc"] == {}  # views told, not chosen: training scored only one view on validation
    val = training_split(load_arrays(tiny_data, verbose=False), told["config"]).val
    told_model = load_classifier(told["best_checkpoint"], "cpu")
    assert levers.lever_row(told["run_dir"], engine="torch")["val_views"] == pytest.approx(
        float((told_model.predict_proba(val.images, tta="flip").argmax(1) == val.labels).mean()))
    with pytest.raises(SystemExit, match="not a finished run"):
        levers.lever_row(tmp_path / "nothing")
    with pytest.raises(SystemExit, match="a refit alone"):
        levers.best_by_validation(rows[1:])


@pytest.mark.parametrize("profile, changed", [("cpu-distill", {"teacher", "distill"}),
                                              ("cpu-refit", {"val_fraction", "tta"}),
                                              ("cpu-distill-refit", {"teacher", "distill", "val_fraction", "tta"})])
def test_a_lever_profile_is_the_cpu_recipe_with_only_its_lever_changed(profile, changed):
    recipe = training_config("cpu").as_dict()
    lever = training_config(profile).as_dict()
    assert {key for key, value in lever.items() if recipe[key] != value} - {"profile"} == changed
