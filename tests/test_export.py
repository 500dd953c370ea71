"""The exported network: one ONNX file per checkpoint and precision, the same model as PyTorch, and int8 only where
it keeps fp32's labels; where it cannot be made, the demo runs fp32 and says why."""

import numpy as np
import pytest
import torch
from conftest import SAMPLE_DIR

from fer_utils.data import fer2013 as data
from fer_utils.model import classifier as classifier_module
from fer_utils.model.classifier import fast_classifier, load_classifier
from fer_utils.model.engines import TOLERANCE

pytest.importorskip("onnxruntime")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setattr(classifier_module, "CACHE", tmp_path / "cache")
    return tmp_path / "cache"


def test_the_default_call_runs_onnxruntime_on_the_cpu_with_pytorchs_predictions(tiny_run, cache):
    faces = data.load_arrays(SAMPLE_DIR, cache_dir=cache, verbose=False).images
    fast = load_classifier(tiny_run["best_checkpoint"], device="cpu")
    in_pytorch = load_classifier(tiny_run["best_checkpoint"], device="cpu", engine="torch")
    assert fast.forward.name == "onnxruntime" and in_pytorch.forward.name == "torch"
    for tta in ("none", "ten-crop"):
        assert np.abs(fast.logits(faces, tta) - in_pytorch.logits(faces, tta)).max() <= TOLERANCE
    assert [p.name for p in cache.glob("*.onnx")] == [fast.forward.path.name], "one file, exported once"


def test_the_demos_int8_network_keeps_fp32s_labels_and_is_made_once(tiny_run, tiny_data, cache, monkeypatch):
    classifier = load_classifier(tiny_run["best_checkpoint"], device="cpu")
    monkeypatch.setattr(classifier_module, "CALIBRATION_FACES", 12)  # of the 70 tiny training faces
    int8 = fast_classifier(classifier, data_dir=str(tiny_data))
    fp32 = fast_classifier(classifier, "fp32")
    assert int8.forward.name == "onnxruntime int8" and fp32.forward.name == "onnxruntime"
    assert sorted(p.name for p in cache.glob("*.onnx")) == sorted([fp32.forward.path.name, int8.forward.path.name])
    assert int8.forward.path.stat().st_size < fp32.forward.path.stat().st_size / 2, "int8 weights: a quarter"
    faces = data.load_arrays(tiny_data, verbose=False).split("test").images
    reference, quantized = fp32.predict_proba(faces), int8.predict_proba(faces)
    assert quantized.shape == (len(faces), 7) and not np.array_equal(quantized, reference)
    assert np.abs(quantized - reference).max() < 0.25
    np.testing.assert_allclose(fp32.predict_proba(faces), classifier.predict_proba(faces, tta="none"), atol=1e-5)
    monkeypatch.setattr(classifier_module, "load_arrays", lambda *a, **k: pytest.fail("calibrated again"))
    assert fast_classifier(classifier).forward.path == int8.forward.path


def test_without_faces_to_calibrate_on_the_demo_runs_fp32_and_says_why(tiny_run, cache, capsys, no_sources, tmp_path):
    classifier = load_classifier(tiny_run["best_checkpoint"], device="cpu")
    with pytest.raises(ValueError, match="precision must be one of int8, fp32"):
        fast_classifier(classifier, "fp16")
    fallback = fast_classifier(classifier, data_dir=str(tmp_path / "no-fer2013-here"))
    assert fallback.forward.name == "onnxruntime"
    assert "realtime classifier in fp32: no FER2013 training faces to calibrate int8 on" in capsys.readouterr().out
    assert not list(cache.glob("*int8*")), "nothing half-made is left in the cache"


def test_a_rejected_int8_network_is_not_measured_again(tiny_run, tiny_data, cache, monkeypatch, capsys):
    from fer_utils.model import engines

    classifier = load_classifier(tiny_run["best_checkpoint"], device="cpu")
    monkeypatch.setattr(classifier_module, "CALIBRATION_FACES", 12)
    monkeypatch.setattr(engines, "MIN_INT8_AGREEMENT", 1.01)  # more than any int8 network can agree
    assert fast_classifier(classifier, data_dir=str(tiny_data)).forward.name == "onnxruntime"
    reason = capsys.readouterr().out
    assert "realtime classifier in fp32: int8 agrees with fp32 on only" in reason and "of 12 held-out" in reason
    monkeypatch.setattr(classifier_module, "load_arrays", lambda *a, **k: pytest.fail("measured again"))
    assert fast_classifier(classifier, data_dir=str(tiny_data)).forward.name == "onnxruntime"
    assert capsys.readouterr().out == reason, "the kept reason is given again"


def test_the_export_command_writes_the_checked_network(tiny_run, cache, tmp_path, capsys):
    import onnxruntime

    output = tmp_path / "out" / "model.onnx"
    assert classifier_module.main(["--checkpoint", str(tiny_run["best_checkpoint"]), "--output", str(output)]) == 0
    assert f"wrote {output}" in capsys.readouterr().out
    session = onnxruntime.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((3, 1, 48, 48), dtype=np.float32)
    model = load_classifier(tiny_run["best_checkpoint"], device="cpu", engine="torch").model
    with torch.no_grad():
        assert np.abs(session.run(None, {"input": x})[0] - model(torch.from_numpy(x)).numpy()).max() <= TOLERANCE
