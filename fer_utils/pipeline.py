"""Run the numbered notebooks in order with papermill into reports/, with an HTML copy of each.

    python -m fer_utils.pipeline --profile smoke
    python -m fer_utils.pipeline --profile cpu --only 03 04 -p tta=flip
"""

import argparse
import os
import sys
import time
from pathlib import Path

from .config import default_profile, load_profile, parse_pairs
from .paths import NOTEBOOKS_DIR, REPORTS_DIR


class NotebookFailed(RuntimeError):
    """A notebook raised; the message names it and its failing cell."""


def notebooks(only: list[str] | None = None, folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The numbered notebooks in order, optionally only those whose name starts with one of ``only``."""
    found = sorted(folder.glob("[0-9][0-9]-*.ipynb"))
    if not only:
        return found
    chosen = [nb for nb in found if any(nb.stem.startswith(prefix) for prefix in only)]
    unknown = [p for p in only if not any(nb.stem.startswith(p) for nb in found)]
    if unknown:
        raise SystemExit(f"No notebook matches {unknown}; the notebooks are: {', '.join(nb.stem for nb in found)}")
    return chosen


def run_notebook(notebook: Path, params: dict, output_dir: Path) -> Path:
    """Execute one notebook with the parameters it declares; write the executed copy and its HTML."""
    import papermill as pm
    from nbconvert import HTMLExporter

    declared = pm.inspect_notebook(str(notebook))
    accepted = {k: v for k, v in params.items() if k in declared}
    output = output_dir / notebook.name
    output_dir.mkdir(parents=True, exist_ok=True)
    try:
        pm.execute_notebook(
            str(notebook), str(output), parameters=accepted, kernel_name="python3", cwd=str(notebook.parent),
        )
    except pm.PapermillExecutionError as err:
        raise NotebookFailed(
            f"{notebook.name} failed in cell [{err.exec_count}], which starts {err.source.strip().splitlines()[0]!r}: "
            f"{err.ename}: {err.evalue}\nThe executed copy with the full traceback is {output}."
        ) from err
    finally:
        if output.exists():
            body, _ = HTMLExporter().from_filename(str(output))
            output.with_suffix(".html").write_text(body, encoding="utf-8")
    return output


def run(profile: str = "auto", only: list[str] | None = None, overrides: dict | None = None,
        output_dir: Path = REPORTS_DIR) -> list[Path]:
    """Run the chosen notebooks in order, stopping at the first failure."""
    profile = default_profile() if profile == "auto" else profile
    params = {"profile": profile, **load_profile(profile), **(overrides or {})}
    os.environ["FER_REPORTS_DIR"] = str(Path(output_dir).resolve())  # the kernels write figures and JSON there
    for var in ("FER2013_ZIP", "FER2013_DIR", "FER2013_CSV"):  # kernels run in notebooks/, so make paths absolute
        if os.environ.get(var):
            os.environ[var] = str(Path(os.environ[var]).expanduser().resolve())
    written = []
    for notebook in notebooks(only):
        started = time.perf_counter()
        print(f"[{profile}] {notebook.name} ...", flush=True)
        written.append(run_notebook(notebook, params, Path(output_dir)))
        print(f"[{profile}] {notebook.name} done in {time.perf_counter() - started:.1f} s -> "
              f"{written[-1].with_suffix('.html')}", flush=True)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="auto", help="configs/<name>.yaml; auto = full on a GPU, cpu otherwise")
    parser.add_argument("--only", nargs="*", help="notebook name prefixes, e.g. 01 03")
    parser.add_argument("-p", "--param", action="append", default=[], help="override a parameter: key=value")
    parser.add_argument("--output-dir", type=Path, default=REPORTS_DIR)
    args = parser.parse_args(argv)
    try:
        run(args.profile, args.only, parse_pairs(args.param, "-p"), args.output_dir)
    except NotebookFailed as err:
        print(f"\nPIPELINE STOPPED: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
