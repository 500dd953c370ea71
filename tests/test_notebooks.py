import ast
import json
import logging
import re

import cv2
import nbformat
import papermill as pm
import pytest
from conftest import real_fer2013

from fer_utils.data.fer2013 import load_arrays
from fer_utils.labels import EMOTIONS
from fer_utils.model.classifier import load_classifier
from fer_utils.paths import CONFIG_DIR, NOTEBOOKS_DIR, ROOT
from fer_utils.report import pipeline
from fer_utils.scores import accuracy
from fer_utils.training.config import NOTEBOOK_SECTION, TRAINING_OPTIONS, load_profile

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]-*.ipynb"))
LOOPS = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef, ast.For, ast.While, ast.ListComp, ast.SetComp,
         ast.DictComp, ast.GeneratorExp)


def test_make_report_builds_every_notebook():
    rules = re.findall(r"^reports/([0-9][0-9]-[\w-]+)\.ipynb:", (ROOT / "Makefile").read_text(), re.M)
    assert rules == [nb.stem for nb in NOTEBOOKS], "each notebook needs its line in the Makefile's report chain"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_source_notebook_is_clean_with_one_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "commit notebooks without outputs"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    assigned = [node.target.id for node in ast.parse(tagged[0].source).body if isinstance(node, ast.AnnAssign)]
    assert len(assigned) == len(ast.parse(tagged[0].source).body), "parameters are typed literals: name: type = value"
    # papermill skips a line it cannot parse (for example an '=' in its comment), and then never sets it
    assert sorted(pm.inspect_notebook(str(path))) == sorted(assigned)
    logic = [f"cell {i}: {type(node).__name__}" for i, cell in enumerate(code) if not cell.source.startswith("%")
             for node in ast.walk(ast.parse(cell.source)) if isinstance(node, LOOPS)]
    assert not logic, "notebooks hold no classes, functions or loops: move them into fer_utils"


def test_every_profile_parameter_is_used():
    used = set().union(*(pm.inspect_notebook(str(nb)) for nb in NOTEBOOKS)) | set(TRAINING_OPTIONS)
    for profile in CONFIG_DIR.glob("*.yaml"):
        loaded = load_profile(profile.stem)
        unknown = (set(loaded) | set(loaded.pop(NOTEBOOK_SECTION, {}))) - used - {NOTEBOOK_SECTION}
        assert not unknown, f"{profile.name} sets parameters that no notebook declares and training ignores: {unknown}"


@pytest.mark.slow  # a notebook kernel: a process of its own
def test_failing_notebook_is_named_with_its_cell_and_its_output_streams(tmp_path, caplog, capfd):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print('epoch 1 of', x)"),
        nbformat.v4.new_code_cell("raise ValueError('broken on purpose')"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    source = tmp_path / "09-broken.ipynb"
    nbformat.write(nb, source)
    expected = r"09-broken.ipynb failed in cell \[\d\], which starts \"raise ValueError.*broken on purpose"
    with caplog.at_level(logging.INFO, logger="papermill"), pytest.raises(pipeline.NotebookFailed, match=expected):
        pipeline.run_notebook(source, {"x": 5}, tmp_path / "out")
    assert "epoch 1 of 5" in caplog.text, "the notebook's output reaches the terminal as it runs"
    assert "without encryption" not in capfd.readouterr().err
    assert (tmp_path / "out" / "09-broken.html").exists()


def test_notebook_subset_by_prefix():
    assert [nb.stem for nb in pipeline.notebooks(["01", "03"])] == ["01-data-exploration", "03-evaluation"]
    with pytest.raises(SystemExit, match="No notebook matches"):
        pipeline.notebooks(["07"])


@pytest.mark.slow
def test_smoke_pipeline_writes_every_report(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_RUNS_DIR", str(tmp_path / "runs"))
    data = real_fer2013()
    faces, own = load_arrays(data.get("data_dir"), verbose=False).split("test"), tmp_path / "own-faces"
    for i in range(14):  # notebook 03's folders: a labelled folder of 48-px faces
        (own / EMOTIONS[faces.labels[i]]).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(own / EMOTIONS[faces.labels[i]] / f"face{i}.png"), faces.images[i])
    written = pipeline.run("smoke", overrides={**data, "folders": str(own)}, output_dir=tmp_path,
                           runs_dir=tmp_path / "runs", log_output=False)
    assert [p.stem for p in written] == [nb.stem for nb in NOTEBOOKS]
    for name in (nb.stem for nb in NOTEBOOKS):
        assert (tmp_path / f"{name}.html").stat().st_size > 1000
    summary = json.loads((tmp_path / "data_summary.json").read_text())
    assert summary["profile"] == "smoke"
    assert set(summary["counts"]) == {"train", "PublicTest", "PrivateTest"}
    assert (tmp_path / "figures" / "01-class-distribution.png").exists()
    assert (tmp_path / "runs" / "smoke" / "best.pt").exists()
    assert (tmp_path / "figures" / "02-learning-curves.png").exists()
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["provenance"]["checkpoint"] == str(tmp_path / "runs" / "smoke" / "best.pt")
    assert set(metrics["accuracy"]) == set(metrics["accuracy_single_view"]) == {
        "PublicTest", "PrivateTest", "combined", "leak_free"}
    classifier = load_classifier(tmp_path / "runs" / "smoke" / "best.pt", "cpu")  # the report's number, recomputed
    smoke_faces = load_profile("smoke")["max_per_class"]
    test = load_arrays(data.get("data_dir"), verbose=False).per_class(smoke_faces).split("test")
    assert metrics["accuracy"]["combined"] == pytest.approx(accuracy(classifier.predict_proba(test.images),
                                                                     test.labels))
    assert metrics["n_images"]["combined"] == len(test)
    assert (tmp_path / "figures" / "03-confusion-matrix.png").exists()
    evaluation = (tmp_path / "03-evaluation.html").read_text()
    assert "background-color: #000000" not in evaluation, "empty cells of the table must not be painted black"
    if data:  # the committed sample is not Kaggle's FER2013: no FER+ join, and the notebook says so in one line
        assert "ferplus" not in metrics and "FER+ votes are not available for these images" in evaluation
    else:
        assert metrics["ferplus"]["n_images"]["combined"] > 0.5 * len(test)
    own_scores = json.loads((tmp_path / "folders" / "own-faces" / "scores.json").read_text())
    assert own_scores["scored"] == 14 and (tmp_path / "figures" / "03-folders-confusion.png").exists()
    analysis = json.loads((tmp_path / "error_analysis.json").read_text())
    assert set(analysis["calibration"]) >= {"temperature", "ece_raw", "ece_scaled"} and analysis["robustness"]
    assert (tmp_path / "figures" / "04-gradcam.png").exists()
    assert (tmp_path / "05-demo.mp4").stat().st_size > 1000 and (tmp_path / "05-demo-timeline.csv").exists()
    demo = (tmp_path / "05-webcam-demo.html").read_text()
    assert "data:image/gif;base64," in demo and "IPython.core.display.Image object" not in demo


def test_command_line_pairs_are_typed():
    from fer_utils.training.config import parse_pairs

    assert parse_pairs(["epochs=3", "lr=0.01", "tta=flip", "train_model=false"]) == {
        "epochs": 3, "lr": 0.01, "tta": "flip", "train_model": False}
    with pytest.raises(SystemExit, match="-p expects key=value"):
        parse_pairs(["epochs"], "-p")
