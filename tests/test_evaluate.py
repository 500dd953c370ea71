import numpy as np
import pytest

from fer_utils import EMOTIONS
from fer_utils.evaluation import calibration, evaluate, perturb
from fer_utils.report import findings
from fer_utils.scores import softmax


def test_report_on_hand_made_predictions():
    labels = np.array([0, 0, 0, 1, 1, 2, 3, 4, 5, 6])
    predicted = np.array([0, 0, 1, 1, 0, 2, 3, 4, 5, 5])
    ours = evaluate.report(labels, predicted)
    assert ours["accuracy"] == pytest.approx(0.7)
    angry = ours["per_class"]["angry"]  # predicted angry 3 times, 2 right; 3 angry faces, 2 found
    assert angry["precision"] == pytest.approx(2 / 3) and angry["recall"] == pytest.approx(2 / 3)
    assert ours["per_class"]["surprise"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert ours["per_class"]["sad"]["precision"] == pytest.approx(0.5)
    f1s = [ours["per_class"][n]["f1"] for n in EMOTIONS]
    assert ours["macro_f1"] == pytest.approx(np.mean(f1s))
    matrix = evaluate.confusion(labels, predicted)
    assert matrix.sum() == 10 and np.trace(matrix) == 7 and matrix[0, 1] == 1 and matrix[6, 5] == 1
    assert evaluate.top_confusions(matrix, 3)[0][2] == 1


def test_table_puts_the_original_beside_ours():
    labels = np.arange(7).repeat(3)
    table = evaluate.table_vs_original(evaluate.report(labels, labels))
    assert table.loc["happy", "f1 (ours)"] == 1.0
    assert table.loc["happy", "f1 Δ"] == pytest.approx(1.0 - 0.869)
    assert table.loc["accuracy", "f1 (orig)"] == 0.683


def test_split_accuracies_and_leak_free(tmp_path):
    from fer_utils.data.fer2013 import FERArrays

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 48, 48), dtype=np.uint8)
    images[3] = images[0]  # the first test image copies a training image
    arrays = FERArrays(images, np.array([0, 1, 2, 0, 1, 2]),
                       np.array(["train", "train", "train", "PublicTest", "PublicTest", "PrivateTest"]),
                       np.array([f"f{i}" for i in range(6)]), "hash")
    test = arrays.split("test")
    result = evaluate.split_accuracies(evaluate.test_subsets(arrays), test.labels, np.array([0, 0, 2]))
    assert result["PublicTest"] == {"accuracy": 0.5, "n": 2}
    assert result["PrivateTest"] == {"accuracy": 1.0, "n": 1}
    assert result["combined"]["accuracy"] == pytest.approx(2 / 3)
    assert result["leak_free"] == {"accuracy": 0.5, "n": 2}


def test_ece_on_a_constructed_case():
    # 10 predictions at confidence 0.9, of which 6 are right: one bin, gap 0.3
    probs = np.full((10, 7), 0.1 / 6)
    probs[:, 0] = 0.9
    labels = np.array([0] * 6 + [1] * 4)
    assert calibration.expected_calibration_error(probs, labels) == pytest.approx(0.3)
    # perfectly calibrated: confidence 0.5 in one bin, half right
    probs2 = np.full((4, 7), 0.5 / 6)
    probs2[:, 2] = 0.5
    assert calibration.expected_calibration_error(probs2, np.array([2, 2, 3, 4])) == pytest.approx(0.0)


def test_temperature_scaling_lowers_nll_of_an_overconfident_toy():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 7, 2000)
    logits = rng.normal(0, 1, (2000, 7))
    logits[np.arange(2000), labels] += 1.0  # informative but weak ...
    logits *= 6  # ... and far too confident
    temperature = calibration.fit_temperature(logits, labels)
    assert temperature > 2
    assert calibration.nll(logits, labels, temperature) < calibration.nll(logits, labels) - 0.5
    probs_raw, probs_scaled = softmax(logits), softmax(logits, temperature)
    assert calibration.expected_calibration_error(probs_scaled, labels) < calibration.expected_calibration_error(
        probs_raw, labels)
    confidence, accuracy = calibration.reliability(probs_raw, labels)
    assert len(confidence) == len(accuracy) and (confidence >= accuracy).mean() > 0.8


@pytest.mark.parametrize("name", list(perturb.PERTURBATIONS))
def test_perturbation_is_identity_at_zero_and_stays_in_range(name):
    function, strengths, kwargs, _ = perturb.PERTURBATIONS[name]
    faces = np.random.default_rng(1).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    np.testing.assert_array_equal(function(faces, 0, **kwargs), faces)
    for strength in (min(strengths), max(strengths)):
        out = function(faces, strength, **kwargs)
        assert out.dtype == np.uint8 and out.shape == faces.shape
        if strength != 0:
            assert not np.array_equal(out, faces), f"{name} at {strength} changed nothing"


def test_perturbations_do_what_they_say():
    faces = np.full((1, 48, 48), 100, np.uint8)
    assert perturb.brightness(faces, 0.2).mean() == pytest.approx(151)
    assert perturb.brightness(faces, 1.0).max() == 255
    assert perturb.gamma(faces, 1.0).mean() < 100 < perturb.gamma(faces, -1.0).mean()
    ramp = np.tile(np.arange(48, dtype=np.uint8) * 5, (1, 48, 1))
    assert perturb.contrast(ramp, -1.0).std() < 1 and perturb.contrast(ramp, 0.5).std() > ramp.std()
    assert perturb.shift(ramp, 0.25)[0, 0, 20] == ramp[0, 0, 8]
    covered = perturb.occlusion(ramp, 1.0, "mouth")
    assert (covered[0, 32:44] == 128).all() and np.array_equal(covered[0, :32], ramp[0, :32])


def test_findings_come_from_the_numbers():
    curves = {"blur": ([0, 1], [0.6, 0.3]), "noise": ([0, 1], [0.6, 0.55])}
    recall = {name: 0.5 for name in EMOTIONS} | {"happy": 0.9, "fear": 0.2}
    support = {name: 100 for name in EMOTIONS}
    text = findings.error_analysis(0.6, {"temperature": 1.5, "ece_raw": 0.1, "ece_scaled": 0.02, "nll_raw": 1.1,
                                   "nll_scaled": 1.0}, curves, recall, support, [(2, 5, 40), (5, 4, 30)])
    assert "60.0%" in text and "*happy* is recognised best" in text and "*fear* worst" in text
    assert "over-confident" in text and "blur (30.0%)" in text and "noise matters least" in text
    assert "fear taken for sad (40)" in text
