import numpy as np
import pytest
from conftest import SAMPLE_DIR

from fer_utils.data import fer2013 as data
from fer_utils.model import export
from fer_utils.model.classifier import load_classifier


@pytest.mark.parametrize("fmt,suffix", [("torchscript", ".ts"), ("onnx", ".onnx")])
def test_exported_model_matches_pytorch(tiny_run, tmp_path, fmt, suffix):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    classifier = load_classifier(tiny_run["best_checkpoint"], device="cpu")
    path = export.export(classifier.model, classifier.model_cfg, fmt, tmp_path / f"model{suffix}")
    faces = data.load_arrays(SAMPLE_DIR, cache_dir=tmp_path, verbose=False).images
    logits = export.run_exported(path, faces)
    assert logits.shape == (len(faces), 7)
    assert export.difference_from_pytorch(classifier, path, faces) <= export.TOLERANCE
    assert export.difference_from_pytorch(classifier, path, faces[:1]) <= export.TOLERANCE  # any batch size
    assert np.abs(logits).max() > 0
    other = load_classifier(tiny_run["best_checkpoint"], device="cpu")
    other.model.fc.bias.data += 1.0  # another network: the check must see it
    assert export.difference_from_pytorch(other, path, faces) > export.TOLERANCE


def test_int8_quantisation_stays_close_to_fp32(tiny_run, tmp_path):
    pytest.importorskip("onnxruntime")
    classifier = load_classifier(tiny_run["best_checkpoint"], device="cpu")
    fp32 = export.export(classifier.model, classifier.model_cfg, "onnx", tmp_path / "model.onnx")
    faces = data.load_arrays(SAMPLE_DIR, cache_dir=tmp_path, verbose=False).images
    int8 = export.quantize_int8(fp32, tmp_path / "model-int8.onnx", faces)
    fp32_bytes = sum(p.stat().st_size for p in tmp_path.glob("model.onnx*"))  # the weights may be external data
    assert int8.stat().st_size < fp32_bytes / 2, "int8 weights take a quarter of the space"
    reference, quantized = export.run_exported(fp32, faces), export.run_exported(int8, faces)
    assert quantized.shape == reference.shape and not np.array_equal(quantized, reference)
    assert np.abs(quantized - reference).max() < 0.25 * np.abs(reference).max(), "int8 logits near fp32's"


def test_fast_classifier_precision_and_its_fallback(tiny_run, tmp_path, capsys, no_sources):
    pytest.importorskip("onnxruntime")
    from fer_utils.model.onnx_twin import OnnxClassifier, fast_classifier

    classifier = load_classifier(tiny_run["best_checkpoint"], device="cpu")
    with pytest.raises(ValueError, match="precision must be one of int8, fp32"):
        fast_classifier(classifier, tmp_path, precision="fp16")
    fallback = fast_classifier(classifier, tmp_path, data_dir=str(tmp_path / "no-fer2013-here"))
    assert isinstance(fallback, OnnxClassifier) and fallback.precision == "fp32"
    assert "realtime classifier in fp32: no FER2013 training faces to calibrate int8 on" in capsys.readouterr().out
    assert not list(tmp_path.glob("*-int8*.onnx")), "nothing half-made is left in the cache"


def test_a_rejected_int8_twin_is_not_measured_again(tiny_run, tiny_data, tmp_path, monkeypatch, capsys):
    pytest.importorskip("onnxruntime")
    from fer_utils.model import onnx_twin

    classifier = load_classifier(tiny_run["best_checkpoint"], device="cpu")
    monkeypatch.setattr(onnx_twin, "CALIBRATION_FACES", 12)  # of the 70 tiny training faces; 12 more are held out
    monkeypatch.setattr(onnx_twin, "MIN_INT8_AGREEMENT", 1.01)  # more than any twin can agree
    assert onnx_twin.fast_classifier(classifier, tmp_path, data_dir=str(tiny_data)).precision == "fp32"
    reason = capsys.readouterr().out
    assert "realtime classifier in fp32: int8 agrees with fp32 on only" in reason and "of 12 held-out" in reason
    monkeypatch.setattr(onnx_twin, "quantize", lambda *args: pytest.fail("measured again"))
    assert onnx_twin.fast_classifier(classifier, tmp_path, data_dir=str(tiny_data)).precision == "fp32"
    assert capsys.readouterr().out == reason, "the kept reason is given again"
