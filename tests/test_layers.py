"""The package's imports point one way, down the data flow, with no circle: read from the source (imports inside
functions count), never by importing it."""

import pytest
from import_graph import PACKAGE, import_graph, imported_modules, modules

# The stages, in the order the data flows: a module imports only modules of its own stage or of the stages before it
# (the base modules at the top of the package are the first stage; the package's own __init__ may import any).
STAGES = ["base", "data", "model", "evaluation", "training", "realtime", "report"]


def stage_of(name: str) -> int:
    """The stage of a module by its dotted name inside the package: its subpackage, else the base modules."""
    first = name.split(".")[0]
    return STAGES.index(first) if first in STAGES else 0


MAX_LINES = 400


def test_the_package_holds_only_the_stages_and_a_few_base_modules():
    top = {name for name in import_graph() if "." not in name and name != "__init__"}
    assert top - set(STAGES) == {"labels", "paths", "device", "scores", "provenance"}, \
        "a new module belongs in the stage whose data it works on (fer_utils/<stage>/)"


def test_no_module_imports_one_of_a_later_stage():
    upward = [f"{name} ({STAGES[stage_of(name)]}) imports {other} ({STAGES[stage_of(other)]})"
              for name, imports in import_graph().items() if name != "__init__" for other in sorted(imports)
              if stage_of(other) > stage_of(name)]
    assert not upward


def test_the_stage_rule_catches_an_upward_import():
    assert stage_of("labels") == 0 and stage_of("data.fer2013") == 1 and stage_of("report.plots") == 6
    assert stage_of("realtime") == stage_of("realtime.recognizer") == 5 > stage_of("model.classifier")


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


MAX_PACKAGE_LINES = 5360  # a ratchet: 6,403 lines before issue 45, 5,351 with the publish command; goal 5,000


def test_the_package_does_not_grow_past_its_ratchet():
    lines = sum(len(path.read_text().splitlines()) for path in modules().values())
    assert lines <= MAX_PACKAGE_LINES, (f"fer_utils is {lines} lines, above {MAX_PACKAGE_LINES}: what no result, "
                                        "notebook or user command needs goes")


@pytest.mark.parametrize("path", sorted(modules().values()), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_a_module_is_read_in_one_sitting(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES


def test_the_public_api_stays_importable_from_the_package():
    import fer_utils
    from fer_utils import EMOTIONS, EmotionRecognizer, load_classifier
    from fer_utils.realtime import EmotionRecognizer as in_its_stage

    assert EmotionRecognizer is in_its_stage and len(EMOTIONS) == 7 and callable(load_classifier)
    assert set(fer_utils.__all__) == {"EMOTIONS", "EmotionRecognizer", "load_classifier"}
