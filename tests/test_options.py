"""What each training option does that no other test shows: the optimiser's, the loss's, bf16, the split's and the
augmentation's options reach what they name. (The others: tests/test_train.py, test_augment.py, test_config.py,
test_ferplus.py.)"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import write_tiny_fer

from fer_utils.data.fer2013 import load_arrays
from fer_utils.data.splits import training_split
from fer_utils.model import network
from fer_utils.training import augment, train
from fer_utils.training.config import TrainConfig
from fer_utils.training.distributed import Ranks
from fer_utils.training.schedule import Clock, make_optimizer


@pytest.mark.parametrize("options, kind, expected", [
    ({"optimizer": "sgd", "lr": 0.05, "momentum": 0.8, "weight_decay": 1e-3}, torch.optim.SGD,
     {"lr": 0.05, "momentum": 0.8, "weight_decay": 1e-3, "nesterov": True}),
    ({"optimizer": "adam", "lr": 0.002, "weight_decay": 1e-4}, torch.optim.Adam, {"lr": 0.002, "weight_decay": 1e-4}),
])
def test_the_optimiser_options_build_the_optimiser_they_name(options, kind, expected):
    model, _ = network.build_model("fer", 1)
    optimizer = make_optimizer(model, TrainConfig(**options))
    assert isinstance(optimizer, kind)
    assert {key: optimizer.param_groups[0][key] for key in expected} == expected


def test_label_smoothing_is_the_smoothing_of_the_loss_a_step_minimises():
    torch.manual_seed(0)
    x, y = torch.randn(8, 1, 48, 48), torch.arange(8) % 7
    losses = {}
    for smoothing in (0.0, 0.2):
        config = TrainConfig(label_smoothing=smoothing)
        torch.manual_seed(1)
        model, _ = network.build_model("fer", 1)
        with torch.no_grad():
            expected = F.cross_entropy(model.train()(x), y, label_smoothing=smoothing).item()
        torch.manual_seed(1)
        model, _ = network.build_model("fer", 1)
        run = train.Run(config=config, device=torch.device("cpu"), ranks=Ranks(), clock=Clock(config, 1),
                        generator=torch.Generator().manual_seed(0), bf16=False, channels_last=False)
        losses[smoothing], _ = train.train_step(model, torch.optim.SGD(model.parameters(), lr=0.0), x, y, run)
        assert losses[smoothing] == pytest.approx(expected, rel=1e-6)
    assert abs(losses[0.2] - losses[0.0]) > 1e-3


@pytest.mark.parametrize("amp, expected", [("bf16", True), ("off", False)])
def test_amp_turns_bf16_on_or_off_as_told(amp, expected):
    assert train.use_bf16(TrainConfig(amp=amp), torch.device("cpu")) is expected


def test_the_split_options_choose_the_validation_faces(tmp_path):
    arrays = load_arrays(write_tiny_fer(tmp_path / "fer", train=20), verbose=False)
    split = training_split(arrays, TrainConfig(val_fraction=0.25).as_dict())
    assert len(split.val_index) == 35 and len(split.train_index) == 105  # a quarter of 140, stratified
    assert np.bincount(split.val.labels).tolist() == [5] * 7
    same, other = (training_split(arrays, TrainConfig(val_fraction=0.25, seed=seed).as_dict()) for seed in (0, 1))
    assert np.array_equal(same.val_index, split.val_index) and not np.array_equal(other.val_index, split.val_index)
    fewer = training_split(arrays, TrainConfig(max_per_class=8).as_dict())
    assert len(fewer.train_all) == 56 and np.bincount(fewer.train_all.labels).tolist() == [8] * 7


@pytest.mark.parametrize("option", ["rotation", "translate", "scale"])
def test_each_geometric_augmentation_moves_the_face_and_zero_leaves_it(option):
    faces = torch.randint(0, 256, (16, 48, 48), dtype=torch.uint8)
    cfg = network.model_config("fer", 1, 48, 0.0, 1.0)
    still = {"flip": 0.0, "rotation": 0.0, "translate": 0.0, "scale": 0.0}
    kept = augment.augment(faces, cfg, torch.Generator().manual_seed(0), **still)
    torch.testing.assert_close(kept[:, 0], faces.float() / 255, atol=1e-5, rtol=0)
    strength = 20.0 if option == "rotation" else 0.2
    moved = augment.augment(faces, cfg, torch.Generator().manual_seed(0), **{**still, option: strength})
    assert (moved[:, 0] - faces.float() / 255).abs().mean() > 0.05, f"{option} changes the faces"
