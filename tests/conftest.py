import os
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_utils.labels import EMOTIONS
from fer_utils.paths import ROOT

SAMPLE_DIR = ROOT / "tests" / "data" / "fer2013-sample"


def write_tiny_fer(folder: Path, train: int = 4, public: int = 2, private: int = 1, seed: int = 0) -> Path:
    """A tiny FER2013 in Kaggle layout with random PNG faces (lossless, so arrays can be compared exactly)."""
    rng = np.random.default_rng(seed)
    for label, name in enumerate(EMOTIONS):
        files = [("train", f"Training_{label}{i:03d}.png") for i in range(train)]
        files += [("test", f"PublicTest_{label}{i:03d}.png") for i in range(public)]
        files += [("test", f"PrivateTest_{label}{i:03d}.png") for i in range(private)]
        for split, file_name in files:
            path = folder / split / name / file_name
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), rng.integers(0, 256, (48, 48), dtype=np.uint8))
    return folder


def zip_folder(folder: Path, archive: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(folder).as_posix())
    return archive


# Python code that makes `fer_utils.training.train` kill its own process (SIGKILL: no cleanup, as a power cut) right
# after writing the checkpoints of epoch $KILL_AFTER_EPOCH: a run killed at a chosen point, whatever the machine's
# speed. `python -c KILL_AFTER_EPOCH + TRAIN` runs the training command line.
KILL_AFTER_EPOCH = """
import os, signal, sys
from fer_utils.training import train as _training

if os.environ.get("KILL_AFTER_EPOCH"):
    _save = _training.save_checkpoints

    def _save_then_die(run_dir, common, *rest):
        _save(run_dir, common, *rest)
        if common["epoch"] == int(os.environ["KILL_AFTER_EPOCH"]):
            os.kill(os.getpid(), signal.SIGKILL)

    _training.save_checkpoints = _save_then_die
"""
TRAIN = "_training.main(sys.argv[1:])"

TINY = {"epochs": 2, "batch_size": 16, "stem": "imagenet", "optimizer": "adam", "lr": 0.003, "schedule": "cosine"}
QUICK = {**TINY, "tta": "none"}  # where the test-time views are not under test: no choice of views at the end


@pytest.fixture(autouse=True)
def exports_in_a_test_folder(tmp_path_factory, monkeypatch):
    """The networks that tests export to ONNX go to one folder of this session, never to the project's data/cache."""
    from fer_utils.model import classifier

    monkeypatch.setattr(classifier, "CACHE", tmp_path_factory.getbasetemp() / "cache")


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """Ten random faces a class to train on: after validation's 7, an epoch is three full
    batches of 16."""
    return write_tiny_fer(tmp_path_factory.mktemp("fer"), train=10, public=2, private=2)


@pytest.fixture(scope="session")
def tiny_run(tiny_data, tmp_path_factory):
    """A two-epoch training run on random faces (six steps): a real checkpoint in seconds."""
    from fer_utils.training import train

    runs = tmp_path_factory.mktemp("runs")
    return train.train("smoke", {**TINY, "data_dir": str(tiny_data)}, runs, progress=False)


@pytest.fixture
def tiny_fer(tmp_path) -> Path:
    return write_tiny_fer(tmp_path / "source")


@pytest.fixture
def no_sources(monkeypatch, tmp_path):
    """No FER2013 source in the environment, and no Kaggle credentials."""
    for var in ("FER2013_ZIP", "FER2013_DIR", "FER2013_CSV", "KAGGLE_USERNAME", "KAGGLE_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def real_fer2013() -> dict:
    """Pipeline parameters that point at the real FER2013 when this machine has it, else at the committed sample."""
    archive = os.environ.get("FER2013_ZIP")
    if (ROOT / "data" / "fer2013" / "train").is_dir() or (archive and Path(archive).is_file()):
        return {}
    return {"data_dir": str(SAMPLE_DIR)}


FAST_TIER_STEPS = 10  # issue 39: the fast tier trains "no more than a few steps" a test


@pytest.fixture(autouse=True)
def few_training_steps(request):
    """A test outside the slow tier that takes more than ``FAST_TIER_STEPS`` optimiser steps fails, saying so (the
    session's ``tiny_run`` trains before this counts: six steps). Every optimiser step with gradients is counted,
    through torch's own global hook, whatever the training code calls its functions."""
    if request.node.get_closest_marker("slow"):
        yield
        return
    from torch.optim.optimizer import register_optimizer_step_post_hook

    steps = []

    def count(optimizer, args, kwargs):  # a training step has gradients; a schedule stepped alone has none
        if any(p.grad is not None for group in optimizer.param_groups for p in group["params"]):
            steps.append(1)

    handle = register_optimizer_step_post_hook(count)
    try:
        yield steps
    finally:
        handle.remove()
    assert len(steps) <= FAST_TIER_STEPS, (f"{request.node.name} took {len(steps)} training steps; the fast tier "
                                           f"takes at most {FAST_TIER_STEPS}: train less, or mark it slow")
