"""The README, docs/, the model card, the profiles' comments, the Makefile and the notebooks name only things that
exist: profiles, face detectors, training options, make targets, files of the repository (JSON, profiles, benchmarks,
docs), notebook parameters and ``fer_utils`` modules (with the names taken from them). Prose that outlives a rename
fails here. docs/experiments.md and docs/realtime.md's appendix are left out: they log what was, under the names of its
day."""

import importlib
import json
import re

import pytest
from import_graph import modules

from fer_utils.paths import CONFIG_DIR, NOTEBOOKS_DIR, ROOT
from fer_utils.realtime import DETECTORS
from fer_utils.report.pipeline import notebook_parameters

PROFILE = re.compile(r"PROFILE=([a-z][\w-]*)|--profile[ =]([a-z][\w-]*)|`([a-z][\w-]*)` profile")
DETECTOR = re.compile(r"--detector[ =]([a-z-]+)|detector=\"([a-z-]+)\"")
MODULE = re.compile(r"fer_utils((?:\.[A-Za-z_]\w*)+)")
PARAMETER = re.compile(r"notebook (\d\d)'s `(\w+)`")
# a file of the repository: models/x.json, configs/x.yaml, benchmarks/x.py, docs/x.md, tests/x.py, ferplus/x
FILE = re.compile(r"(?<![\w./-])((?:models|configs|benchmarks|docs|tests|ferplus|notebooks)/[\w./-]*\w"
                  r"\.(?:json|yaml|py|md|png|gif|csv|ipynb|pt))(?![\w/])")
OPTION = re.compile(r"--set ((?:[a-z_]+=\S+ ?)+)|`([a-z_]+)=[a-z0-9.-][^`\s]*`")  # not `f(engine="torch")`
TARGET = re.compile(r"`make ([a-z-]+)")


def texts() -> dict[str, str]:
    """{name: text} of the README, docs/*.md but the experiments' log, the profiles and sweeps (their comments), the
    Makefile and each notebook's cells."""
    found = {"README.md": (ROOT / "README.md").read_text(), "models/README.md": (ROOT / "models/README.md").read_text()}
    found |= {f"docs/{path.name}": path.read_text().partition("## Appendix: how the loop was tuned")[0]
              for path in sorted((ROOT / "docs").glob("*.md")) if path.name != "experiments.md"}
    found |= {f"configs/{path.relative_to(CONFIG_DIR)}": path.read_text()
              for path in sorted(CONFIG_DIR.rglob("*.yaml"))}
    found["Makefile"] = (ROOT / "Makefile").read_text()
    for path in sorted(NOTEBOOKS_DIR.glob("*.ipynb")):
        found[f"notebooks/{path.name}"] = "\n".join("".join(cell["source"])
                                                   for cell in json.loads(path.read_text())["cells"])
    return found


def named(pattern: re.Pattern, text: str) -> set[str]:
    return {next(group for group in match.groups() if group) for match in pattern.finditer(text)}


def options_named(text: str) -> set[str]:
    """The training options that ``--set key=value ...`` and `key=value` name."""
    found = set()
    for pairs, single in OPTION.findall(text):
        found |= {pair.split("=")[0] for pair in pairs.split()} if pairs else {single}
    return found


@pytest.mark.parametrize("name", list(texts()))
def test_the_files_options_and_make_targets_named_exist(name):
    from fer_utils.report.pipeline import notebook_parameters
    from fer_utils.training.config import TRAINING_OPTIONS

    text = texts()[name]
    missing = sorted(path for path in named(FILE, text) if not (ROOT / path).exists())
    assert not missing, f"{name} names files that the repository does not have: {missing}"
    known = set(TRAINING_OPTIONS).union(*notebook_parameters().values())
    assert options_named(text) <= known, f"{name} sets options that are neither training options nor parameters"
    targets = set(re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), re.M))
    assert named(TARGET, text) <= targets, f"{name} names a make target that the Makefile does not have"


@pytest.mark.parametrize("folder", ["fer_utils", "benchmarks"])
def test_the_code_names_only_files_the_repository_has(folder):
    """Docstrings and comments too: a deleted benchmark or JSON leaves no pointer to it."""
    missing = sorted(f"{path.relative_to(ROOT)}: {name}" for path in sorted((ROOT / folder).rglob("*.py"))
                     for name in named(FILE, path.read_text()) if not (ROOT / name).exists())
    assert not missing, f"the code names files that the repository does not have: {missing}"


@pytest.mark.parametrize("name", list(texts()))
def test_the_profiles_and_detectors_named_exist(name):
    text = texts()[name]
    profiles = {path.stem for path in CONFIG_DIR.glob("*.yaml")} | {"auto"}
    assert named(PROFILE, text) <= profiles, f"{name} names a profile that configs/ does not have"
    assert named(DETECTOR, text) <= set(DETECTORS), f"{name} names a face detector that is not in DETECTORS"


@pytest.mark.parametrize("name", list(texts()))
def test_the_fer_utils_modules_and_their_names_exist(name):
    known = set(modules())
    for dotted in sorted(named(MODULE, texts()[name])):
        parts = dotted.lstrip(".").split(".")
        depth = max(i for i in range(len(parts) + 1) if i == 0 or ".".join(parts[:i]) in known)
        module = importlib.import_module(".".join(["fer_utils", *parts[:depth]]))
        for attribute in parts[depth:]:
            assert hasattr(module, attribute), f"{name} names fer_utils{dotted}, which does not exist"
            module = getattr(module, attribute)


@pytest.mark.parametrize("name", list(texts()))
def test_the_notebook_parameters_named_exist(name):
    parameters = notebook_parameters()
    for number, parameter in named_pairs(texts()[name]):
        notebook = next(n for n in parameters if n.startswith(number))
        assert parameter in parameters[notebook], f"{name} names notebook {number}'s {parameter}, which it lacks"


def named_pairs(text: str) -> set[tuple[str, str]]:
    return set(PARAMETER.findall(text))


def test_the_checks_catch_what_they_look_for():
    text = ("make report PROFILE=nightly; --detector mtcnn; fer_utils.realtime.align; fer_utils.realtime.nothing; "
            "notebook 05's `detector`; models/levers.json, (docs/design.md); --set epochs=3 teacher=x; `crop=true`; "
            "`make levers`")
    assert named(FILE, text) == {"models/levers.json", "docs/design.md"}
    assert options_named(text) == {"epochs", "teacher", "crop"} and named(TARGET, text) == {"levers"}
    assert named(PROFILE, text) == {"nightly"} and named(DETECTOR, text) == {"mtcnn"}
    assert named(MODULE, text) == {".realtime.align", ".realtime.nothing"}
    assert named_pairs(text) == {("05", "detector")}


@pytest.mark.parametrize("page, words", [("README.md", 1500), ("docs/experiments.md", 3000)])
def test_the_guide_and_the_lab_notebook_stay_short(page, words):
    assert len((ROOT / page).read_text().split()) <= words, f"{page} is over {words} words: say it shorter"
