"""The package's imports point one way, down the data flow, with no circle: read from the source (imports inside
functions count), never by importing it."""

import pytest

from fer_utils.imports import PACKAGE, import_graph, imported_modules, modules, notebook_modules

# Lowest first. A module imports only modules of lower layers (the package's __init__ is above them all).
LAYERS = [
    ["labels", "paths", "device", "scores", "imports", "engines", "logit_cache", "benchmark_results"],  # no imports
    ["provenance", "config", "data", "models", "views", "checkpoint", "devfaces", "footage",  # options, arrays, ...
     "realtime.crops"],
    ["audit", "augment", "schedule", "distributed", "classifier", "perturb", "calibration", "realtime.sources"],
    ["splits", "loaders", "runs", "export", "gradcam", "evaluate", "realtime.detectors"],
    ["train", "onnx_twin", "plots", "findings", "levers", "realtime.recognizer"],
    ["sweep", "gpu_profiles", "study", "results", "realtime.drawing"],
    ["realtime"],  # realtime: the package, its parts re-exported
    ["video"],
    ["predict", "webcam", "widgets", "pipeline"],
    ["__init__"],
]
MAX_LINES = 400


def test_every_module_has_a_layer():
    layered = [name for layer in LAYERS for name in layer]
    assert sorted(layered) == sorted(import_graph()), "add a new module to LAYERS (and to DEVELOPERS.md)"


def test_no_module_imports_one_of_its_own_or_a_higher_layer():
    layer_of = {name: i for i, layer in enumerate(LAYERS) for name in layer}
    upward = [f"{name} imports {other}" for name, imports in import_graph().items() for other in sorted(imports)
              if layer_of[other] >= layer_of[name]]
    assert not upward


def test_there_is_no_circle_among_the_imports():
    graph, state = import_graph(), {}

    def visit(name, path):
        if state.get(name) == "open":
            pytest.fail("import circle: " + " -> ".join([*path, name]))
        if state.get(name) is None:
            state[name] = "open"
            for other in sorted(graph[name]):
                visit(other, [*path, name])
            state[name] = "done"

    for name in sorted(graph):
        visit(name, [])


def test_the_checker_sees_imports_inside_functions():
    source = ("from .a import x\nimport fer_utils.b\nimport numpy\nfrom numpy import linalg\n\ndef f():\n"
              "    from . import c, d\n    from fer_utils.e import y\n    from fer_utils import g\n")
    known = {"a", "b", "c", "d", "e", "g", "h", "sub", "sub.i"}
    assert imported_modules(source, known) == {"a", "b", "c", "d", "e", "g"}
    inside = "from ..a import x\nfrom .i import y\nfrom fer_utils.sub.i import z\n"
    assert imported_modules(inside, known, "sub") == {"a", "sub.i"}


def test_a_report_depends_on_the_modules_its_notebook_uses_and_theirs(tmp_path):
    graph = {"__init__": {"classifier"}, "plots": {"data"}, "data": {"labels"}, "labels": set(), "classifier": set(),
             "train": {"data"}}
    notebook = tmp_path / "01-x.ipynb"
    notebook.write_text('{"cells": [{"cell_type": "code", "source": ["from fer_utils import plots\\n"]}]}')
    assert notebook_modules(notebook, graph) == {"__init__", "plots", "data", "labels"}


@pytest.mark.parametrize("path", sorted(modules().values()), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_a_module_is_read_in_one_sitting(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES
