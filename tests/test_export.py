import numpy as np
import pytest
from conftest import SAMPLE_DIR

from fer_utils import data, export
from fer_utils.classifier import load_classifier


@pytest.mark.parametrize("fmt,suffix", [("torchscript", ".ts"), ("onnx", ".onnx")])
def test_exported_model_matches_pytorch(tiny_run, tmp_path, fmt, suffix):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    classifier = load_classifier(tiny_run["best_checkpoint"], device="cpu")
    path = export.export(classifier.model, classifier.model_cfg, fmt, tmp_path / f"model{suffix}")
    faces = data.load_arrays(SAMPLE_DIR, cache_dir=tmp_path, verbose=False).images
    logits = export.run_exported(path, faces)
    assert logits.shape == (len(faces), 7)
    expected = classifier.logits(faces, tta="none")
    assert export.max_difference(expected, path, faces) <= 1e-4
    assert export.max_difference(expected[:1], path, faces[:1]) <= 1e-4  # any batch size
    assert np.abs(logits).max() > 0
