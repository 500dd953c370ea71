import ast
import json

import nbformat
import papermill as pm
import pytest
from conftest import real_fer2013

from fer_utils import pipeline
from fer_utils.config import load_profile
from fer_utils.paths import CONFIG_DIR, NOTEBOOKS_DIR
from fer_utils.train import DEFAULTS as TRAINING_OPTIONS

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]-*.ipynb"))
EXPECTED = ["01-data-exploration", "02-training", "03-evaluation", "04-error-analysis", "05-webcam-demo"]


def test_the_five_notebooks_exist_in_order():
    assert [nb.stem for nb in NOTEBOOKS] == EXPECTED


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
    assert "import fer_utils" in "".join(c.source for c in code) or "from fer_utils" in "".join(c.source for c in code)


def test_every_profile_parameter_is_used():
    used = set().union(*(pm.inspect_notebook(str(nb)) for nb in NOTEBOOKS)) | set(TRAINING_OPTIONS)
    for profile in CONFIG_DIR.glob("*.yaml"):
        unknown = set(load_profile(profile.stem)) - used
        assert not unknown, f"{profile.name} sets parameters that no notebook declares and training ignores: {unknown}"


def test_failing_notebook_is_named_with_its_cell(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("y = 2"),
        nbformat.v4.new_code_cell("raise ValueError('broken on purpose')"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    source = tmp_path / "09-broken.ipynb"
    nbformat.write(nb, source)
    expected = r"09-broken.ipynb failed in cell \[\d\], which starts \"raise ValueError.*broken on purpose"
    with pytest.raises(pipeline.NotebookFailed, match=expected):
        pipeline.run_notebook(source, {"x": 5, "unused": 1}, tmp_path / "out")
    assert (tmp_path / "out" / "09-broken.html").exists()


def test_notebook_subset_by_prefix():
    assert [nb.stem for nb in pipeline.notebooks(["01", "03"])] == ["01-data-exploration", "03-evaluation"]
    with pytest.raises(SystemExit, match="No notebook matches"):
        pipeline.notebooks(["07"])


@pytest.mark.slow
def test_smoke_pipeline_writes_every_report(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_RUNS_DIR", str(tmp_path / "runs"))
    written = pipeline.run("smoke", overrides=real_fer2013(), output_dir=tmp_path)
    assert [p.stem for p in written] == EXPECTED
    for name in EXPECTED:
        assert (tmp_path / f"{name}.html").stat().st_size > 1000
    summary = json.loads((tmp_path / "data_summary.json").read_text())
    assert summary["profile"] == "smoke"
    assert set(summary["counts"]) == {"train", "PublicTest", "PrivateTest"}
    assert (tmp_path / "figures" / "01-class-distribution.png").exists()
    training = json.loads((tmp_path / "training.json").read_text())
    assert training["best_checkpoint"] == str(tmp_path / "runs" / "smoke" / "best.pt")
    assert (tmp_path / "figures" / "02-learning-curves.png").exists()


def test_command_line_pairs_are_typed():
    from fer_utils.config import parse_pairs

    assert parse_pairs(["epochs=3", "lr=0.01", "tta=flip", "train_model=false"]) == {
        "epochs": 3, "lr": 0.01, "tta": "flip", "train_model": False}
    with pytest.raises(SystemExit, match="-p expects key=value"):
        parse_pairs(["epochs"], "-p")
