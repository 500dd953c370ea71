import json
import os
import signal
import subprocess
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import KILL_AFTER_EPOCH, QUICK, TINY, TRAIN
from torchvision.models import resnet18

import fer_utils
from fer_utils.data.fer2013 import FERArrays
from fer_utils.data.splits import training_split
from fer_utils.model import network as models
from fer_utils.model import views
from fer_utils.model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from fer_utils.model.classifier import load_classifier, to_faces
from fer_utils.training import augment, loaders, schedule, train
from fer_utils.training.config import TrainConfig


@pytest.mark.parametrize("stem", models.STEMS)
@pytest.mark.parametrize("channels", [1, 3])
def test_model_output_shape(stem, channels):
    model, init = models.build_model(stem, channels)
    assert init == "random"
    assert model.eval()(torch.zeros(2, channels, 48, 48)).shape == (2, 7)
    assert model(torch.zeros(1, channels, 64, 64)).shape == (1, 7)


@pytest.fixture
def imagenet_cache(tmp_path, monkeypatch):
    """A torch hub cache holding a ResNet18 state dict under torchvision's IMAGENET1K_V1 file name."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    state = resnet18(num_classes=1000).state_dict()
    name = models.ResNet18_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[-1]
    (tmp_path / "torch" / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(state, tmp_path / "torch" / "hub" / "checkpoints" / name)
    return state


def test_imagenet_weights_load_from_the_torch_cache(imagenet_cache):
    model, init = models.build_model("imagenet", 1, weights="imagenet")
    assert init == "imagenet"
    torch.testing.assert_close(model.conv1.weight, imagenet_cache["conv1.weight"].sum(dim=1, keepdim=True))
    torch.testing.assert_close(model.layer4[1].conv2.weight, imagenet_cache["layer4.1.conv2.weight"])
    assert model.fc.out_features == 7
    three, _ = models.build_model("imagenet", 3, weights="imagenet")
    torch.testing.assert_close(three.conv1.weight, imagenet_cache["conv1.weight"])


@pytest.fixture
def offline(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))

    def refuse(*args, **kwargs):
        raise urllib.error.URLError("no internet in this test")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)


def test_missing_weights_fall_back_loudly_and_say_where_to_put_them(offline):
    with pytest.warns(UserWarning, match="ImageNet weights for ResNet18 are unavailable.*random initialisation"):
        model, init = models.build_model("imagenet", 3, weights="imagenet")
    assert init == "random (imagenet weights unavailable)" and model.fc.out_features == 7
    with pytest.raises(models.WeightsUnavailable, match="place resnet18-"):
        models.imagenet_state_dict()


def test_fallback_is_recorded_in_the_run(offline, tiny_data, tmp_path):
    with pytest.warns(UserWarning, match="unavailable"):
        result = train.train("smoke", {**QUICK, "epochs": 1, "weights": "imagenet", "data_dir": str(tiny_data)},
                             tmp_path, progress=False)
    assert result["info"]["init"] == "random (imagenet weights unavailable)"
    assert load_checkpoint(result["best_checkpoint"])["info"]["init"] == result["info"]["init"]


def faces_encoding_labels(n=64):
    """uint8 faces whose constant grey level encodes their label."""
    labels = torch.arange(n) % 7
    return (labels * 30 + 10).to(torch.uint8).view(n, 1, 1).expand(n, 48, 48).contiguous(), labels


def cfg(input_size=48, channels=1, mean=0.0, std=1.0):
    return models.model_config("fer", channels, input_size, mean, std)


def test_augment_shape_dtype_and_range():
    faces = torch.randint(0, 256, (8, 48, 48), dtype=torch.uint8)
    for size, channels in ((48, 1), (64, 3), (40, 1)):
        x = augment.augment(faces, cfg(size, channels, 0.5, 0.25), torch.Generator().manual_seed(0),
                            erasing=0.5)
        assert x.shape == (8, channels, size, size) and x.dtype == torch.float32
        assert x.min() >= (0 - 0.5) / 0.25 - 1e-5 and x.max() <= (1 - 0.5) / 0.25 + 1e-5


def test_flip_really_flips():
    faces = torch.randint(0, 256, (4, 48, 48), dtype=torch.uint8)
    flipped = augment.augment(faces, cfg(), flip=1.0, rotation=0, translate=0, scale=0)
    torch.testing.assert_close(flipped[:, 0], faces.flip(-1).float() / 255, atol=1e-5, rtol=0)
    kept = augment.augment(faces, cfg(), flip=0.0, rotation=0, translate=0, scale=0)
    torch.testing.assert_close(kept[:, 0], faces.float() / 255, atol=1e-5, rtol=0)


def test_random_erasing_blanks_a_rectangle():
    x = torch.ones(16, 1, 48, 48)
    erased = augment.random_erase(x, 1.0, torch.Generator().manual_seed(0))
    assert ((erased == 0).flatten(1).sum(1) > 0).all()
    rows = (erased[:, 0] == 0).any(2).sum(1)
    cols = (erased[:, 0] == 0).any(1).sum(1)
    assert ((erased[:, 0] == 0).flatten(1).sum(1) == rows * cols).all()  # one axis-aligned rectangle
    assert torch.equal(augment.random_erase(x, 0.0), x)


def test_batches_keep_each_face_with_its_label():
    faces, labels = faces_encoding_labels()
    config = TrainConfig(batch_size=16, rotation=15, translate=0.05, scale=0.1, erasing=0.0)
    seen = []
    for x, y in loaders.batches_of(faces, labels, config, cfg(), torch.Generator().manual_seed(1), None):
        centre = (x[:, 0, 24, 24] * 255).round().long()
        assert torch.equal((centre - 10) // 30, y)
        seen.append(y)
    assert len(torch.cat(seen)) == 64


def separable_fer(n_per_class: int = 40, seed: int = 0) -> FERArrays:
    """Faces whose label is written in them: a bright square at a position of its own for each class, on noise. A
    network that learns finds it; one that memorises does not carry it over to held-out faces."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(7), n_per_class)
    images = rng.integers(0, 100, (len(labels), 48, 48)).astype(np.uint8)
    for i, label in enumerate(labels):
        top, left = 6 + 12 * (label // 4), 4 + 11 * (label % 4)
        images[i, top:top + 10, left:left + 10] = 255
    names = np.array([f"train/{fer_utils.EMOTIONS[label]}/{i:04d}.png" for i, label in enumerate(labels)])
    return FERArrays(images, labels, np.array(["train"] * len(labels)), names, "separable")


@pytest.mark.slow  # six epochs: the one fast-tier run of more than a few steps
def test_training_learns_what_tells_the_classes_apart(tmp_path):
    """Validation faces are never trained on: a high validation accuracy means the loop learns, not memorises."""
    options = {**QUICK, "epochs": 6, "val_fraction": 0.25, "rotation": 0.0, "scale": 0.0, "erasing": 0.0,
               "flip": 0.0}
    result = train.train("smoke", options, tmp_path, arrays=separable_fer(), progress=False)
    history = result["history"]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert result["best_val_acc"] >= 0.9, history  # chance is 1/7


def test_checkpoint_round_trip(tiny_run, tiny_data):
    state = load_checkpoint(tiny_run["best_checkpoint"])
    assert state["classes"] == list(fer_utils.EMOTIONS) and state["epoch"] == tiny_run["best_epoch"]
    assert state["provenance"]["data_hash"] and state["provenance"]["profile"] == "smoke"
    classifier = load_classifier(tiny_run["best_checkpoint"], device="cpu")
    arrays = fer_utils.data.fer2013.load_arrays(tiny_data, verbose=False).split("test")
    probs = classifier.predict_proba(arrays.images, tta="none")  # one view: what the network alone gives
    assert probs.shape == (len(arrays), 7) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
    model, _ = models.build_model("imagenet", 1)
    model.load_state_dict(state["state_dict"])
    x = views.preprocess(torch.from_numpy(arrays.images), state["model"])
    expected = torch.softmax(model.eval()(x), 1).detach().numpy()
    np.testing.assert_allclose(probs, expected, atol=1e-5)


def test_classifier_takes_crops_of_any_size_and_colour(tiny_run, tiny_data):
    classifier = load_classifier(tiny_run["best_checkpoint"], device="cpu")
    face = fer_utils.data.fer2013.load_arrays(tiny_data, verbose=False).images[0]
    big_gray = np.kron(face, np.ones((3, 3), np.uint8))  # 144x144
    bgr = np.repeat(face[:, :, None], 3, axis=2)
    bgra = np.concatenate([bgr, np.full((48, 48, 1), 255, np.uint8)], axis=2)
    probs = classifier.predict_proba([face, big_gray, bgr, bgra])
    assert probs.shape == (4, 7)
    np.testing.assert_allclose(probs[2], probs[0], atol=1e-5)
    np.testing.assert_allclose(probs[3], probs[0], atol=1e-5)
    assert to_faces([big_gray]).shape == (1, 48, 48)
    with pytest.raises(ValueError, match="face 0 has shape"):
        classifier.predict_proba([np.zeros((4, 4, 2), np.uint8)])
    with pytest.raises(TypeError):
        classifier.predict_proba("face.jpg")


def test_finished_run_is_reused_not_retrained(tiny_run, tiny_data, capsys, few_training_steps):
    best = Path(tiny_run["best_checkpoint"])
    written = best.stat().st_mtime_ns
    again = train.train("smoke", {**TINY, "data_dir": str(tiny_data)}, Path(tiny_run["run_dir"]).parent, progress=False)
    assert again["history"] == tiny_run["history"] and best.stat().st_mtime_ns == written
    assert "already trained (2 epochs); delete it to train again" in capsys.readouterr().out
    assert few_training_steps == [], "not one step trained"


def test_changed_configuration_moves_the_old_run_aside(tiny_data, tmp_path):
    train.train("smoke", {**QUICK, "epochs": 1, "data_dir": str(tiny_data)}, tmp_path, progress=False)
    train.train("smoke", {**QUICK, "epochs": 1, "lr": 0.001, "data_dir": str(tiny_data)}, tmp_path, progress=False)
    assert sorted(p.name.split("-")[0] for p in tmp_path.iterdir()) == ["smoke", "smoke"]
    assert all((p / "best.pt").exists() for p in tmp_path.iterdir())


def test_other_model_and_corrupt_files_are_clear_errors(tmp_path):
    other = tmp_path / "other.pt"
    torch.save(resnet18().state_dict(), other)
    with pytest.raises(CheckpointError, match="not a fer-study checkpoint"):
        load_classifier(other)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x80\x04 definitely not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_checkpoint(corrupt)
    wrong_arch = tmp_path / "vgg.pt"
    save_checkpoint(wrong_arch, {"format": "fer-study/1", "model": {"arch": "vgg16"}, "classes": ["a", "b"]})
    with pytest.raises(CheckpointError, match="vgg16"):
        load_checkpoint(wrong_arch)
    with pytest.raises(CheckpointError, match="No checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")


def test_checkpoint_from_another_stem_is_refused(tiny_run, tmp_path):
    state = load_checkpoint(tiny_run["best_checkpoint"])
    state["model"] = {**state["model"], "stem": "fer"}
    save_checkpoint(tmp_path / "mismatch.pt", state)
    with pytest.raises(CheckpointError, match="do not fit a ResNet18 with stem 'fer'"):
        load_classifier(tmp_path / "mismatch.pt")


def test_atomic_save_leaves_no_temporary_files(tmp_path):
    save_checkpoint(tmp_path / "a.pt", {"x": torch.ones(2)})
    save_checkpoint(tmp_path / "a.pt", {"x": torch.zeros(2)})
    assert [p.name for p in tmp_path.iterdir()] == ["a.pt"]
    assert torch.equal(torch.load(tmp_path / "a.pt", weights_only=True)["x"], torch.zeros(2))


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_same_result(tiny_data, tmp_path, capsys):
    """The run to kill is a process of its own, which kills itself after its first epoch; the whole run and the
    resumed one train in this one."""
    options = {"batch_size": 8, "epochs": 4, "stem": "imagenet", "optimizer": "adam", "lr": 0.003,
               "data_dir": str(tiny_data), "mixup": 0.2, "ema": 0.9, "input_size": 40}
    train.train("smoke", options, tmp_path / "whole", progress=False)

    command = [sys.executable, "-c", KILL_AFTER_EPOCH + TRAIN, "--profile", "smoke", "--no-progress", "--runs-dir",
               str(tmp_path / "killed"), "--set",
               *(f"{key}={'true' if value is True else value}" for key, value in options.items())]
    killed = subprocess.run(command, env={**os.environ, "KILL_AFTER_EPOCH": "1"}, capture_output=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    last = tmp_path / "killed" / "smoke" / "last.pt"
    interrupted_at = load_checkpoint(last)["epoch"]
    assert interrupted_at < 4, "the run finished before it could be killed; make its epochs longer"
    capsys.readouterr()
    train.train("smoke", options, tmp_path / "killed", progress=False)
    assert f"resuming {tmp_path / 'killed' / 'smoke'} at epoch {interrupted_at + 1}" in capsys.readouterr().out

    whole = load_checkpoint(tmp_path / "whole" / "smoke" / "last.pt")
    resumed = load_checkpoint(last)
    strip = [{k: v for k, v in h.items() if k != "seconds"} for h in whole["history"]]
    assert [{k: v for k, v in h.items() if k != "seconds"} for h in resumed["history"]] == strip
    for key in ("state_dict", "train_state_dict"):  # the weight average, and the weights it averages
        for name, tensor in whole[key].items():
            assert torch.equal(tensor, resumed[key][name]), f"{key}: {name}"
    assert resumed["finished"] and resumed["tta"] == whole["tta"]


def test_gradcam_shape_and_range(tiny_run, tiny_data):
    from fer_utils.evaluation.gradcam import gradcam

    classifier = load_classifier(tiny_run["best_checkpoint"], device="cpu")
    faces = fer_utils.data.fer2013.load_arrays(tiny_data, verbose=False).images[:5]
    heat = gradcam(classifier, faces)
    assert heat.shape == (5, 48, 48) and heat.dtype == np.float32
    assert heat.min() >= 0 and heat.max() <= 1 + 1e-6
    assert all(h.max() == pytest.approx(1) or h.max() == 0 for h in heat)


def test_tta_views_and_predictions(tiny_run, tiny_data):
    faces = torch.randint(0, 256, (3, 48, 48), dtype=torch.uint8)
    assert [views.view(faces, name).shape[-1] for name in views.view_names("ten-crop")] == [43] * 10
    assert torch.equal(views.view(faces, views.view_names("flip")[1]), faces.flip(-1))
    with pytest.raises(ValueError, match="tta must be one of"):
        views.view_names("mirror")
    classifier = load_classifier(tiny_run["best_checkpoint"], device="cpu")
    symmetric = np.concatenate([faces.numpy()[:, :, :24], faces.numpy()[:, :, :24][:, :, ::-1]], axis=2)
    np.testing.assert_allclose(classifier.predict_proba(symmetric, tta="flip"),
                               classifier.predict_proba(symmetric), atol=1e-5)
    ten = classifier.predict_proba(symmetric, tta="ten-crop")
    assert ten.shape == (3, 7) and np.allclose(ten.sum(1), 1, atol=1e-5)


def test_the_checkpoint_carries_the_views_chosen_on_validation_and_the_default_call_uses_them(tiny_run, tiny_data):
    state = load_checkpoint(tiny_run["best_checkpoint"])
    assert set(state["tta_val_acc"]) == set(views.TTA_MODES)
    assert state["tta_val_acc"][state["tta"]] == max(state["tta_val_acc"].values())
    classifier = load_classifier(tiny_run["best_checkpoint"], device="cpu")
    faces = fer_utils.data.fer2013.load_arrays(tiny_data, verbose=False).images[:6]
    assert classifier.tta == state["tta"]
    np.testing.assert_array_equal(classifier.predict_proba(faces), classifier.predict_proba(faces, tta=state["tta"]))
    with pytest.raises(ValueError, match="tta must be one of none, flip, ten-crop"):
        classifier.predict_proba(faces, tta="mirror")


def test_exponential_moving_average_is_what_is_evaluated_and_saved(tiny_data, tmp_path):
    result = train.train("smoke", {**QUICK, "epochs": 2, "ema": 0.5, "data_dir": str(tiny_data)}, tmp_path,
                         progress=False)
    last = load_checkpoint(Path(result["run_dir"]) / "last.pt")
    averaged = {k.removeprefix("module."): v for k, v in last["ema"].items() if k.startswith("module.")}
    for name, tensor in last["state_dict"].items():
        assert torch.equal(tensor, averaged[name]), name
    assert any(not torch.equal(last["state_dict"][k], last["train_state_dict"][k]) for k in last["state_dict"])
    assert all(0 <= h["val_acc_without_ema"] <= 1 for h in last["history"])  # the average's gain, epoch by epoch


def test_clean_leaves_out_blank_images_and_duplicates_that_disagree(tmp_path):
    from conftest import write_tiny_fer

    from fer_utils.data.audit import noisy_training_images

    folder = write_tiny_fer(tmp_path / "fer", train=6)
    arrays = fer_utils.data.fer2013.load_arrays(folder, verbose=False)
    train_at = np.flatnonzero(arrays.splits == "train")  # 6 faces of each class, class by class
    arrays.images[train_at[0]] = 7  # blank
    arrays.images[train_at[7]] = arrays.images[train_at[1]]  # the same face labelled angry and disgust
    arrays.images[train_at[3]] = arrays.images[train_at[2]]  # the same face twice, both angry: kept
    noisy = noisy_training_images(arrays.split("train"))
    assert sorted(np.flatnonzero(noisy)) == [0, 1, 7]
    result = train.train("smoke", {**QUICK, "epochs": 1, "clean": True, "val_fraction": 0.2}, tmp_path / "runs",
                         arrays=arrays, progress=False)
    info = result["info"]
    assert info["left_out"] >= 1 and info["train_images"] + info["left_out"] + info["val_images"] == 42

    split = training_split(arrays, result["config"])  # what evaluation reports train and validation accuracy on
    assert (len(split.train), len(split.val), split.left_out) == (info["train_images"], info["val_images"],
                                                                   info["left_out"])
    assert not set(split.train.names) & set(arrays.split("train").names[noisy])
    mean, std = fer_utils.data.fer2013.pixel_stats(split.train.images)  # normalised with its own images' statistics
    model = load_checkpoint(result["best_checkpoint"])["model"]
    assert (model["mean"], model["std"]) == (round(mean, 4), round(std, 4))



def test_the_gpu_profiles_command_trains_evaluates_and_records_the_fallback(offline, tiny_data, tmp_path):
    from fer_utils.training import gpu_profiles

    output = tmp_path / "gpu.json"
    with pytest.warns(UserWarning, match="ImageNet weights for ResNet18 are unavailable"):
        gpu_profiles.main(["--device", "cpu", "--runs-dir", str(tmp_path / "runs"), "--output", str(output),
                           "--set", "epochs=1", "batch_size=16", "input_size=32", f"data_dir={tiny_data}"])
    report = json.loads(output.read_text())
    assert set(report["profiles"]) == {"full", "original"} and report["device"].startswith("cpu")
    for profile in report["profiles"].values():
        assert set(profile["accuracy"]) == set(profile["accuracy_single_view"]) == {
            "PublicTest", "PrivateTest", "combined", "leak_free"}
        assert profile["training_wall_s"] > 0 and profile["tta"] in views.TTA_MODES
    assert report["profiles"]["original"]["init"] == "random (imagenet weights unavailable)"
    assert report["profiles"]["full"]["init"] == "random"


def test_the_schedule_has_one_cycle_shape():
    """lr_share follows torch's OneCycleLR (without its momentum cycling), whatever measures the progress."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    total = 400
    reference = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=total, pct_start=0.25,
                                                    cycle_momentum=False)
    for step in range(total):
        expected = optimizer.param_groups[0]["lr"]
        assert schedule.lr_share("onecycle", step / (total - 1)) * 0.1 == pytest.approx(expected, rel=0.02, abs=1e-6)
        optimizer.step()
        reference.step() if step < total - 1 else None
    assert schedule.lr_share("cosine", 0.0) == 1.0 and schedule.lr_share("cosine", 1.0) == pytest.approx(0.0)
    assert schedule.lr_share("none", 0.7) == 1.0


class StepClock:
    """A clock that moves only when an optimiser takes a step (torch's global hook): each step costs ``step_s``
    seconds, whatever the machine's speed."""

    def __init__(self, step_s: float):
        self.step_s, self.t = step_s, 0.0

    def __call__(self) -> float:
        return self.t

    def step(self, *args):
        self.t += self.step_s


def test_a_time_budget_ends_training_with_the_learning_rate_annealed(tiny_data, tmp_path):
    from torch.optim.optimizer import register_optimizer_step_post_hook

    clock = StepClock(step_s=1.0)
    hook = register_optimizer_step_post_hook(clock.step)
    budget_s = 7.0  # 7 steps of 1 s; an epoch (tiny_data's 70 faces less validation's 7, in full batches of 16) is 3
    try:
        result = train.train("smoke", {**QUICK, "epochs": 1000, "minutes": budget_s / 60, "data_dir": str(tiny_data)},
                             tmp_path, progress=False, now=clock)
    finally:
        hook.remove()
    history = result["history"]
    assert len(history) == 3 and result["info"]["steps_per_epoch"] == 3  # the budget, not the epoch cap, ended it
    assert [h["seconds"] for h in history] == [3.0, 3.0, 1.0]  # the last epoch stopped when the budget ran out
    assert history[-1]["lr"] < 0.01 * max(h["lr"] for h in history)
    assert result["wall_s"] == budget_s


def test_progressive_resizing_trains_small_then_full_size(tiny_data, tmp_path, monkeypatch):
    sides, augment_batch = [], loaders.augment

    def recording(*args, **kwargs):
        batch = augment_batch(*args, **kwargs)
        sides.append(batch.shape[-1])
        return batch

    monkeypatch.setattr(loaders, "augment", recording)
    result = train.train("smoke", {**QUICK, "epochs": 2, "small_input": 32, "data_dir": str(tiny_data)}, tmp_path,
                         progress=False)
    half = result["info"]["steps_per_epoch"] * 2 // 2
    assert sides == [32] * half + [48] * half


@pytest.mark.parametrize("device, expected", [("cpu", True), ("cuda", True), ("mps", False)])
def test_channels_last_is_on_by_default_on_cuda_and_cpus_and_as_told_elsewhere(device, expected):
    device = torch.device(device)
    assert train.use_channels_last(TrainConfig(), device) is expected
    assert train.use_channels_last(TrainConfig(channels_last="off"), device) is False
    assert train.use_channels_last(TrainConfig(channels_last="on"), device) is True
