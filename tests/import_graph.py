"""The package's import graph, read from the source (imports inside functions count, nothing is imported), for the
layer test and the docs test."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "fer_utils"


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    """{dotted name inside the package: file}: "train" for train.py, "realtime.sources" for realtime/sources.py,
    "realtime" for realtime/__init__.py, "__init__" for the package's own."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package).with_suffix("").parts
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imported_modules(source: str, known: set[str], package: str = "") -> set[str]:
    """The modules of ``known`` that ``source`` imports anywhere, package-relative or absolute; ``package`` is the
    subpackage the source sits in ("" at the top, "realtime" for realtime/*.py)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0 and (node.module or "").split(".")[0] != "fer_utils":
                continue
            if node.level == 0:
                base = node.module.removeprefix("fer_utils").lstrip(".")
            else:
                parents = package.split(".") if package else []
                parents = parents[:len(parents) - (node.level - 1)] if node.level > 1 else parents
                base = ".".join([*parents, *([node.module] if node.module else [])])
            candidates = {base} | {f"{base}.{a.name}" if base else a.name for a in node.names}
            found |= candidates & known
        elif isinstance(node, ast.Import):
            found |= {a.name.removeprefix("fer_utils.") for a in node.names if a.name.startswith("fer_utils.")} & known
    return found


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """{module: the package's modules it imports}."""
    files = modules(package)
    graph = {}
    for name, path in files.items():
        inside = name if path.name == "__init__.py" and name != "__init__" else name.rpartition(".")[0]
        graph[name] = imported_modules(path.read_text(), set(files), inside) - {name}
    return graph
