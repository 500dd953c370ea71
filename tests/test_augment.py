"""Class balance and mixup: what they do to the batches and the labels."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fer_utils.data.fer2013 import FERArrays
from fer_utils.labels import EMOTIONS
from fer_utils.model import network as models
from fer_utils.training import augment, loaders, train
from fer_utils.training.config import TrainConfig, training_config
from fer_utils.training.distributed import Ranks
from fer_utils.training.schedule import Clock


def coded_batch(n=32):
    """A float batch whose every pixel holds the image's label plus one, and the labels."""
    labels = torch.arange(n) % 7
    return (labels.float() + 1).view(n, 1, 1, 1).expand(n, 1, 8, 8).contiguous(), labels


def test_mixup_mixes_images_and_labels_by_the_same_share():
    x, y = coded_batch()
    mixed, y_a, y_b, lam = augment.mix(x, y, 0.4, torch.Generator().manual_seed(0))
    assert torch.equal(y_a, y) and 0 < lam < 1 and not torch.equal(y_b, y)
    expected = lam * (y_a.float() + 1) + (1 - lam) * (y_b.float() + 1)
    torch.testing.assert_close(mixed[:, 0, 0, 0], expected)
    assert torch.equal(mixed.amin(dim=(1, 2, 3)), mixed.amax(dim=(1, 2, 3)))  # a blend of whole images


def test_no_mixing_leaves_the_batch_alone():
    x, y = coded_batch()
    mixed, y_a, y_b, lam = augment.mix(x, y, 0.0, torch.Generator().manual_seed(0))
    assert mixed is x and lam == 1.0 and torch.equal(y_a, y_b)


def imbalanced_labels(common=900, rare=100) -> torch.Tensor:
    return torch.cat([torch.zeros(common, dtype=torch.long), torch.ones(rare, dtype=torch.long)])


def test_class_weights_give_every_class_the_same_total_weight():
    labels = imbalanced_labels().numpy()
    weights = train.class_weights(labels)
    totals = weights[:2] * torch.tensor(np.bincount(labels), dtype=torch.float32)
    torch.testing.assert_close(totals[0], totals[1])
    assert weights[1] / weights[0] == pytest.approx(9.0)


def test_the_balanced_sampler_draws_the_classes_about_equally():
    labels = imbalanced_labels()
    faces = torch.zeros(len(labels), 48, 48, dtype=torch.uint8)
    weights = train.class_weights(labels.numpy())[labels]
    config = TrainConfig(batch_size=100, flip=0.0, rotation=0.0, translate=0.0, scale=0.0, erasing=0.0)
    cfg = models.model_config("fer", 1, 48, 0.0, 1.0)
    drawn = torch.cat([y for _, y in loaders.batches_of(faces, labels, config, cfg, torch.Generator().manual_seed(0),
                                                          weights)])
    assert len(drawn) == len(labels)
    assert 0.4 < drawn.float().mean() < 0.6  # a tenth of the faces, half of the draws
    plain = torch.cat([y for _, y in loaders.batches_of(faces, labels, config, cfg,
                                                          torch.Generator().manual_seed(0))])
    assert plain.float().mean() == pytest.approx(0.1)  # without the weights, each face once


def test_the_weighted_loss_is_what_a_step_minimises():
    torch.manual_seed(0)
    model, _ = models.build_model("imagenet", 1)
    config = training_config("smoke", {"label_smoothing": 0.0, "balance": "loss"})
    x, y = torch.randn(8, 1, 48, 48), imbalanced_labels(6, 2)
    weights = train.class_weights(y.numpy())
    run = train.Run(config=config, device=torch.device("cpu"), ranks=Ranks(), clock=Clock(config, 1),
                    generator=torch.Generator().manual_seed(0), bf16=False, channels_last=False, loss_weights=weights)
    with torch.no_grad():
        expected = F.cross_entropy(model.train()(x), y, weight=weights).item()
    torch.manual_seed(0)
    model, _ = models.build_model("imagenet", 1)
    loss, _ = train.train_step(model, torch.optim.SGD(model.parameters(), lr=0.0), x, y, run)
    assert loss == pytest.approx(expected, rel=1e-5)
    assert loss != pytest.approx(F.cross_entropy(model(x), y).item(), rel=1e-3)


def imbalanced_fer(happy: int = 36, others: int = 4) -> FERArrays:
    """Random training faces, ``happy`` of them happy and ``others`` of every other class."""
    counts = [happy if name == "happy" else others for name in EMOTIONS]
    labels = np.repeat(np.arange(7), counts)
    images = np.random.default_rng(0).integers(0, 256, (len(labels), 48, 48), dtype=np.uint8)
    names = np.array([f"train/{EMOTIONS[label]}/{i:04d}.png" for i, label in enumerate(labels)])
    return FERArrays(images, labels, np.array(["train"] * len(labels)), names, "imbalanced")


def test_the_balance_reaches_training(tmp_path, monkeypatch):
    """On faces that are 60 % happy: ``sampler`` feeds the steps the classes about equally, ``loss`` weighs the loss of
    the very batches that ``none`` trains on, and ``none`` does neither."""
    from conftest import QUICK

    batches_of, seen = train.batches_of, []

    def recorded(*args, **kwargs):  # the (faces, labels) batches that training steps on
        for x, y in batches_of(*args, **kwargs):
            seen.append(y.tolist())
            yield x, y

    monkeypatch.setattr(train, "batches_of", recorded)
    happy, first_loss = {}, {}
    for balance in ("none", "loss", "sampler"):  # three steps each: 48 of the 60 faces
        seen.clear()
        options = {**QUICK, "epochs": 1, "balance": balance}
        result = train.train("smoke", options, tmp_path / balance, arrays=imbalanced_fer(), progress=False)
        labels = [label for batch in seen for label in batch]
        happy[balance] = labels.count(EMOTIONS.index("happy")) / len(labels)
        first_loss[balance] = result["history"][0]["train_loss"]
    assert happy["none"] == happy["loss"] > 0.4 and happy["sampler"] < 0.3, happy
    assert first_loss["loss"] != pytest.approx(first_loss["none"], rel=1e-3)
