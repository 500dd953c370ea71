"""The shipped model and the numbers published about it: stored compactly, retrained by the profile it names, its
metrics adopted only from its own evaluation, and every measured number of the README, the model card and
docs/benchmarks.md found in a JSON that a command wrote."""

import json
import re

import numpy as np
import pytest

from fer_utils import EMOTIONS
from fer_utils.evaluation import evaluate
from fer_utils.model.checkpoint import load_checkpoint
from fer_utils.model.classifier import load_classifier
from fer_utils.paths import ROOT
from fer_utils.provenance import file_sha256
from fer_utils.report import results
from fer_utils.training.config import TrainConfig, training_config

PUBLISHED = ["README.md", "models/README.md", "docs/benchmarks.md"]
# A measured number: one with decimals (68.32, 0.654, 2.47), not a version (Python 3.10) or a file's name
MEASURED = re.compile(
    r"(?<![\w.#/-])(\d{1,3}(?:,\d{3})+\.\d+|\d+\.\d+)(?![\w.]*\.(?:json|py|md|yaml|png|gif))(?![\d+])")


def numbers_in(value):
    """Every number a JSON value holds, nested."""
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [number for child in children for number in numbers_in(child)]


def published_numbers() -> np.ndarray:
    """The numbers of every JSON in models/ and ferplus/, and the shipped checkpoint's normalisation."""
    files = [*ROOT.glob("models/*.json"), *ROOT.glob("models/sweeps/*.json"), *ROOT.glob("ferplus/*.json")]
    found = [number for path in files for number in numbers_in(json.loads(path.read_text()))]
    model = load_checkpoint(results.SHIPPED_CHECKPOINT)["model"]
    return np.array(found + [model["mean"], model["std"]])


def stated(text: str, numbers: np.ndarray) -> bool:
    """Whether a number as the text gives it is one of ``numbers`` rounded to its decimals, a share of one in per
    cent, or seconds of one in minutes."""
    decimals = len(text.split(".")[1])
    value, half = float(text.replace(",", "")), 0.5 * 10.0 ** -decimals + 1e-9
    return any(bool(np.any(np.abs(numbers * scale - value) <= half)) for scale in (1, 100, 1 / 60))


@pytest.mark.parametrize("page", PUBLISHED)
def test_every_measured_number_published_is_in_a_json_a_command_wrote(page):
    numbers = published_numbers()
    unfound = [f"line {i}: {match.group(1)}" for i, line in enumerate((ROOT / page).read_text().splitlines(), 1)
               for match in MEASURED.finditer(line) if not stated(match.group(1), numbers)]
    assert not unfound, f"{page} gives numbers that no JSON in models/ or ferplus/ holds: {unfound}"


BENCHMARK_ON = re.compile(r"`benchmarks/(\w+)\.py` on ((?:[^(),:]|\([^()]*\))+)")  # "`benchmarks/x.py` on MACHINE"
MACHINE_KEYS = ("machine", "device", "cpu")  # where a benchmark's JSON records the machine it ran on


def machines_recorded(benchmark: str) -> set[str]:
    """The machines that the JSON files in models/ which ``benchmarks/<benchmark>.py`` names were written on."""
    source = (ROOT / "benchmarks" / f"{benchmark}.py").read_text()
    found = set()
    for name in set(re.findall(r"[\w-]+\.json", source)):
        path = ROOT / "models" / name
        record = json.loads(path.read_text()) if path.exists() else {}
        found |= {record[key] for key in MACHINE_KEYS if isinstance(record, dict) and key in record}
    return found


@pytest.mark.parametrize("page", PUBLISHED)
def test_a_benchmark_cited_on_a_machine_wrote_its_json_there(page):
    """A page that gives a benchmark's figures names the machine its JSON was written on, not an older run's."""
    cited = BENCHMARK_ON.findall((ROOT / page).read_text())
    wrong = [f"{name}.py on {machine.strip()}" for name, machine in cited
             if machine.strip() not in machines_recorded(name)]
    assert not wrong, f"{page} cites benchmarks on machines their JSON does not record: {wrong}"


def test_the_machine_check_reads_the_machine_a_page_names():
    text = ("(`benchmarks/realtime_fps.py` on Intel(R) Xeon(R) Processor (2 cores, AMX)): 113 frames; "
            "(`benchmarks/score_folder.py` on AMD EPYC (2 cores, AVX-512 with bf16)): 41 s")
    assert BENCHMARK_ON.findall(text) == [("realtime_fps", "Intel(R) Xeon(R) Processor (2 cores, AMX)"),
                                          ("score_folder", "AMD EPYC (2 cores, AVX-512 with bf16)")]
    assert "AMD EPYC (2 cores, AVX-512 with bf16)" not in machines_recorded("score_folder")


def test_the_check_finds_a_number_that_no_json_holds():
    numbers = np.array([0.68324, 2.473, 3360.0])
    assert stated("68.32", numbers) and stated("2.47", numbers) and stated("56.0", numbers)
    assert not stated("68.34", numbers) and not stated("2.48", numbers)
    assert MEASURED.findall("Python 3.10+, models/v1.2.json, 68.32 % and 1,234.5 s") == ["68.32", "1,234.5"]


def test_the_published_metrics_are_the_shipped_models():
    metrics = json.loads(results.METRICS.read_text())
    assert metrics["provenance"]["checkpoint_sha256"] == file_sha256(results.SHIPPED_CHECKPOINT)
    assert results.SHIPPED_CHECKPOINT.stat().st_size <= 25e6
    readme = (ROOT / "README.md").read_text()
    assert f"{100 * metrics['accuracy']['combined']:.2f} %" in readme


def test_the_shipped_model_is_retrained_by_the_profile_it_names():
    """One profile file per published result: the shipped checkpoint's configuration is what its profile gives
    today (options added since it was trained keep their defaults)."""
    trained = load_checkpoint(results.SHIPPED_CHECKPOINT)["config"]
    today, defaults = training_config(trained["profile"]).as_dict(), TrainConfig().as_dict()
    assert {key: trained.get(key, defaults[key]) for key in today} == today
    assert "python -m fer_utils.training.train --profile cpu" in (results.MODELS_DIR / "README.md").read_text()


def fake_metrics() -> dict:
    per_class = {n: {"precision": 0.5, "recall": 0.6, "f1": 0.55, "support": 10} for n in EMOTIONS}
    return {"accuracy": {"PublicTest": 0.7012, "PrivateTest": 0.7123, "combined": 0.70675, "leak_free": 0.69},
            "accuracy_single_view": {"PublicTest": 0.69, "PrivateTest": 0.7, "combined": 0.695, "leak_free": 0.68},
            "n_images": {"PublicTest": 35, "PrivateTest": 35, "combined": 70, "leak_free": 65},
            "macro_f1": 0.661, "weighted_f1": 0.7, "per_class": per_class, "train_accuracy": 0.8, "val_accuracy": 0.7,
            "original": evaluate.ORIGINAL, "peer_fer_package": evaluate.PEER_FER_PACKAGE,
            "confusion_matrix": np.eye(7, dtype=int).tolist(),
            "provenance": {"checkpoint": "models/fer2013-resnet18.pt", "training_profile": "cpu", "trained_on": "cpu",
                           "training_wall_s": 3000, "tta": "flip", "git_commit": "abc", "training_git_commit": "abd",
                           "data_hash": "h", "checkpoint_sha256": "s"}}


def test_ship_stores_fp16_and_only_replaces_with_a_better_model(tiny_run, tmp_path, monkeypatch):
    target = tmp_path / "models" / "fer2013-resnet18.pt"
    monkeypatch.setattr(results, "SHIPPED_CHECKPOINT", target)
    results.ship(tiny_run["best_checkpoint"])
    shipped = load_checkpoint(target)
    assert shipped["state_dict"]["conv1.weight"].dtype.is_floating_point
    assert str(shipped["state_dict"]["conv1.weight"].dtype) == "torch.float16" and "optimizer" not in shipped
    faces = np.random.default_rng(0).integers(0, 256, (16, 48, 48), dtype=np.uint8)
    full, half = load_classifier(tiny_run["best_checkpoint"], "cpu"), load_classifier(target, "cpu")
    np.testing.assert_allclose(half.predict_proba(faces), full.predict_proba(faces), atol=2e-3)
    with pytest.raises(SystemExit, match="not shipped"):
        results.ship(tiny_run["best_checkpoint"])
    results.ship(tiny_run["best_checkpoint"], force=True)


def test_metrics_of_another_checkpoint_are_not_adopted(tmp_path, monkeypatch):
    shipped = tmp_path / "shipped.pt"
    shipped.write_bytes(b"the shipped weights")
    monkeypatch.setattr(results, "SHIPPED_CHECKPOINT", shipped)
    monkeypatch.setattr(results, "METRICS", tmp_path / "metrics.json")
    monkeypatch.setattr(results, "CONFUSION_FIGURE", tmp_path / "confusion.png")
    report = tmp_path / "report.json"
    report.write_text(json.dumps(fake_metrics()))
    with pytest.raises(SystemExit, match="evaluated another checkpoint"):
        results.adopt(report)
    matching = fake_metrics()
    matching["provenance"]["checkpoint_sha256"] = file_sha256(shipped)
    report.write_text(json.dumps(matching))
    results.adopt(report)
    assert json.loads((tmp_path / "metrics.json").read_text())["accuracy"]["combined"] == 0.70675
    assert (tmp_path / "confusion.png").stat().st_size > 0


def test_publish_refuses_a_report_that_is_not_the_shipped_models(tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "01-data-exploration.ipynb").write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4,
                                                                    "nbformat_minor": 5}))
    (reports / "run.json").write_text(json.dumps({"01-data-exploration": {"profile": "smoke"}}))
    with pytest.raises(SystemExit, match="run `make report PROFILE=evaluate` first"):
        results.publish(reports, tmp_path / "published")
    assert not (tmp_path / "published").exists()


def published_outputs(path) -> str:
    """The text of every output of a published notebook."""
    cells = json.loads(path.read_text())["cells"]
    return "\n".join("".join(data) if isinstance(data, list) else str(data) for cell in cells
                     for output in cell.get("outputs", []) for data in [output.get("text", ""),
                                                                        *output.get("data", {}).values()])


def test_the_published_report_is_the_shipped_models_with_its_numbers():
    notebooks = sorted(results.PUBLISHED.glob("[0-9][0-9]-*.ipynb"))
    assert [path.name for path in notebooks] == sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
    assert sum(path.stat().st_size for path in results.PUBLISHED.iterdir()) <= results.MAX_PUBLISHED_BYTES
    digest = file_sha256(results.SHIPPED_CHECKPOINT)
    for path in notebooks:
        stamp = "".join(json.loads(path.read_text())["cells"][0]["source"])
        assert digest in stamp and "make report PROFILE=evaluate" in stamp, f"{path.name} is not stamped"
    metrics = json.loads(results.METRICS.read_text())
    shown = published_outputs(results.PUBLISHED / "03-evaluation.ipynb")
    for split, value in metrics["accuracy"].items():
        assert f"{value:.4f}" in shown, f"03's accuracy on {split} is not the metrics JSON's {value:.4f}"
    assert f"{metrics['ferplus']['accuracy']['combined']:.4f}" in shown and f"{metrics['macro_f1']:.3f}" in shown
