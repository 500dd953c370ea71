"""The package's import graph, read from the source (imports inside functions count, nothing is imported): what
the layer test checks, and what each report depends on for ``make``.

    python -m fer_utils.imports      # make's dependencies of each report on the modules its notebook uses
"""

import ast
import json
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
NOTEBOOKS = PACKAGE.parent / "notebooks"


def imported_modules(source: str) -> set[str]:
    """The names of the fer_utils modules that ``source`` imports anywhere (package-relative or absolute)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level == 1 or base.split(".")[0] == "fer_utils":
                inner = base.removeprefix("fer_utils").lstrip(".") if node.level == 0 else base
                found |= {inner.split(".")[0]} if inner else {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("fer_utils.")}
    return found


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """{module: the package's modules it imports}."""
    modules = {path.stem: path for path in package.glob("*.py")}
    return {name: imported_modules(path.read_text()) & set(modules) for name, path in modules.items()}


def closure(names: set[str], graph: dict[str, set[str]]) -> set[str]:
    """``names`` and every module they import, directly or not, with the package's __init__, which runs first (what
    its ``load_classifier`` would import is not followed)."""
    seen, todo = {"__init__"}, list(names)
    while todo:
        name = todo.pop()
        if name in graph and name not in seen:
            seen.add(name)
            todo.extend(graph[name])
    return seen


def notebook_modules(notebook: Path, graph: dict[str, set[str]]) -> set[str]:
    """The package's modules that a notebook's code uses, directly or through other modules."""
    cells = json.loads(Path(notebook).read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return closure(imported_modules(code), graph)


def make_dependencies(notebooks: Path = NOTEBOOKS) -> str:
    """One make line per notebook: its report depends on the module files the notebook uses."""
    graph = import_graph()
    lines = []
    for notebook in sorted(Path(notebooks).glob("[0-9][0-9]-*.ipynb")):
        files = " ".join(f"fer_utils/{name}.py" for name in sorted(notebook_modules(notebook, graph)))
        lines.append(f"reports/{notebook.stem}.ipynb: {files}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(make_dependencies())
