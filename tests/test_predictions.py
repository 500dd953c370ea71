"""Evaluation's predictions: all views of a batch in one forward pass give what the views give one by one, the logits
of an image set and view are computed once per checkpoint and engine, and the onnxruntime engine is the same
network."""

import numpy as np
import pytest
import torch

from fer_utils.model import views
from fer_utils.model.classifier import load_classifier
from fer_utils.model.engines import TOLERANCE, TorchForward, onnx_forward
from fer_utils.model.logit_cache import LogitCache, faces_hash


class CountingForward(TorchForward):
    """The PyTorch engine, counting the images it is asked for."""

    def __init__(self, model):
        super().__init__(model)
        self.images = 0

    def __call__(self, x):
        self.images += len(x)
        return super().__call__(x)


@pytest.fixture
def faces():
    return np.random.default_rng(0).integers(0, 256, (37, 48, 48), dtype=np.uint8)


def test_the_views_of_a_batch_in_one_pass_give_the_views_one_at_a_time(tiny_run, faces):
    classifier = load_classifier(tiny_run["best_checkpoint"], device="cpu")
    batch = torch.from_numpy(faces)
    for tta in views.TTA_MODES:
        one_at_a_time = torch.stack([classifier.model(views.preprocess(view, classifier.model_cfg)).detach()
                                     for view in views.tta_views(batch, tta)]).mean(0)
        together = views.batched_logits(classifier.model, batch, classifier.model_cfg, tta, batch_size=64)
        torch.testing.assert_close(together, one_at_a_time, atol=1e-5, rtol=1e-5)


def test_ten_crop_views_are_the_corners_and_the_centre_each_mirrored(faces):
    batch = torch.from_numpy(faces)
    crops = views.tta_views(batch, "ten-crop")
    assert torch.equal(crops[0], batch[..., :43, :43]) and torch.equal(crops[3], batch[..., 5:, 5:])
    assert torch.equal(crops[1], batch[..., :43, 5:]) and torch.equal(crops[4], batch[..., 2:45, 2:45])
    assert all(torch.equal(crops[i + 5], crops[i].flip(-1)) for i in range(5))


def test_logits_are_computed_once_per_image_set_and_view(tiny_run, faces, tmp_path):
    classifier = load_classifier(tiny_run["best_checkpoint"], device="cpu")
    uncached = classifier.logits(faces, tta="ten-crop")
    counting = classifier.forward = CountingForward(classifier.model)
    classifier.cache = LogitCache(tmp_path, "checkpoint", counting.name)
    first = classifier.logits(faces, tta="ten-crop")
    assert counting.images == 10 * len(faces)
    np.testing.assert_array_equal(classifier.logits(faces, tta="ten-crop"), first)
    np.testing.assert_allclose(first, uncached, atol=1e-5)
    assert counting.images == 10 * len(faces)  # read back, not computed
    classifier.logits(faces, tta="flip")
    assert counting.images == 12 * len(faces)  # the face and its mirror image are no ten-crop views

    changed = faces.copy()
    changed[0, 0, 0] ^= 1
    assert faces_hash(changed) != faces_hash(faces)
    classifier.logits(changed, tta="none")
    assert counting.images == 13 * len(faces)  # one pixel changed: another image set
    classifier.logits(faces, tta="none", cache=False)
    assert counting.images == 14 * len(faces)


def test_cached_logits_belong_to_one_checkpoint_and_engine(tmp_path, faces):
    logits = np.arange(len(faces) * 7, dtype=np.float32).reshape(-1, 7)
    LogitCache(tmp_path, "a" * 64, "torch").save(faces, {"face": logits})
    np.testing.assert_array_equal(LogitCache(tmp_path, "a" * 64, "torch").load(faces, ["face"])["face"], logits)
    assert LogitCache(tmp_path, "b" * 64, "torch").load(faces, ["face"]) == {}
    assert LogitCache(tmp_path, "a" * 64, "onnxruntime").load(faces, ["face"]) == {}
    assert LogitCache(tmp_path, "a" * 64, "torch").load(faces[:-1], ["face"]) == {}


def test_the_onnxruntime_engine_is_the_same_network(tiny_run, faces, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    classifier = load_classifier(tiny_run["best_checkpoint"], device="cpu")
    engine = onnx_forward(classifier.model, (1, 48, 48), tmp_path / "network.onnx")
    assert engine is not None and engine.name == "onnxruntime"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["network.onnx"]  # one file, the weights inside
    x = views.preprocess(torch.from_numpy(faces), classifier.model_cfg)
    with torch.no_grad():
        assert (engine(x) - classifier.model(x)).abs().max().item() <= TOLERANCE
    assert onnx_forward(classifier.model, (1, 48, 48), tmp_path / "network.onnx").path == engine.path  # reused
