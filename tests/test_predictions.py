"""Evaluation's predictions: all views of a batch in one forward pass give what the views give one by one, the logits
of an image set and view are computed once per checkpoint and engine."""

import numpy as np
import pytest
import torch

from fer_utils.model import classifier as classifier_module
from fer_utils.model import views
from fer_utils.model.classifier import load_classifier
from fer_utils.model.logit_cache import LogitCache, faces_hash


@pytest.fixture
def faces():
    return np.random.default_rng(0).integers(0, 256, (37, 48, 48), dtype=np.uint8)


def test_the_views_of_a_batch_in_one_pass_give_the_views_one_at_a_time(tiny_run, faces):
    classifier = load_classifier(tiny_run["best_checkpoint"], device="cpu")
    batch = torch.from_numpy(faces)
    for tta in views.TTA_MODES:
        one_at_a_time = torch.stack([classifier.model(views.preprocess(views.view(batch, name), classifier.model_cfg))
                                     .detach() for name in views.view_names(tta)]).mean(0)
        together = views.batched_logits(classifier.model, batch, classifier.model_cfg, tta, batch_size=64)
        torch.testing.assert_close(together, one_at_a_time, atol=1e-5, rtol=1e-5)


def test_ten_crop_views_are_the_corners_and_the_centre_each_mirrored(faces):
    batch = torch.from_numpy(faces)
    crops = [views.view(batch, name) for name in views.view_names("ten-crop")]
    assert torch.equal(crops[0], batch[..., :43, :43]) and torch.equal(crops[3], batch[..., 5:, 5:])
    assert torch.equal(crops[1], batch[..., :43, 5:]) and torch.equal(crops[4], batch[..., 2:45, 2:45])
    assert all(torch.equal(crops[i + 5], crops[i].flip(-1)) for i in range(5))


def test_logits_are_computed_once_per_image_set_and_view(tiny_run, faces, tmp_path, monkeypatch):
    monkeypatch.setattr(classifier_module, "CACHE", tmp_path)
    classifier = load_classifier(tiny_run["best_checkpoint"], device="cpu", engine="torch", cache=True)
    first = classifier.logits(faces, tta="ten-crop")
    np.testing.assert_allclose(first, load_classifier(tiny_run["best_checkpoint"], device="cpu", engine="torch")
                               .logits(faces, tta="ten-crop"), atol=1e-5)
    kept = sorted(tmp_path.glob("logits/*/*/*.npy"))
    assert len(kept) == 10, "one file a view"
    for path in kept:  # what is kept is what is read back
        np.save(path, np.zeros_like(np.load(path)))
    assert not classifier.logits(faces, tta="ten-crop").any()
    assert classifier.logits(faces, tta="ten-crop", cache=False).any(), "cache=False computes"
    classifier.logits(faces, tta="flip")
    assert len(list(tmp_path.glob("logits/*/*/*.npy"))) == 12  # the face and its mirror image are no ten-crop views
    changed = faces.copy()
    changed[0, 0, 0] ^= 1
    assert faces_hash(changed) != faces_hash(faces)
    classifier.logits(changed, tta="none")
    assert len(list(tmp_path.glob("logits/*/*/*.npy"))) == 13  # one pixel changed: another image set


def test_cached_logits_belong_to_one_checkpoint_and_engine(tmp_path, faces):
    logits = np.arange(len(faces) * 7, dtype=np.float32).reshape(-1, 7)
    LogitCache(tmp_path, "a" * 64, "torch").save(faces, {"face": logits})
    np.testing.assert_array_equal(LogitCache(tmp_path, "a" * 64, "torch").load(faces, ["face"])["face"], logits)
    assert LogitCache(tmp_path, "b" * 64, "torch").load(faces, ["face"]) == {}
    assert LogitCache(tmp_path, "a" * 64, "onnxruntime").load(faces, ["face"]) == {}
    assert LogitCache(tmp_path, "a" * 64, "torch").load(faces[:-1], ["face"]) == {}
