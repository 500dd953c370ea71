"""Run the numbered notebooks in order with papermill into reports/, with an HTML copy of each, streaming each
notebook's output to the terminal.

    python -m fer_utils.report.pipeline --profile smoke
    python -m fer_utils.report.pipeline --profile cpu --only 03 04 -p tta=flip

Every input a notebook gets is a papermill parameter: the profile's keys and the overrides that it declares, where
to write (``reports_dir``), the FER2013 folder (``data_dir``, obtained once before the first notebook), and, for
notebooks 03-05, the checkpoint that notebook 02 trains (``checkpoint``). Training options that notebook 02 does not
declare itself reach it in ``options``.
"""

import argparse
import ast
import json
import logging
import sys
import time
from pathlib import Path

from ..data.fer2013 import DEFAULT_DIR, ensure_fer2013
from ..paths import NOTEBOOKS_DIR, REPORTS_DIR, RUNS_DIR, run_checkpoint
from ..provenance import cpu_description, git_commit
from ..training.config import (
    NOTEBOOK_SECTION,
    TRAINING_OPTIONS,
    ConfigError,
    default_profile,
    load_profile,
    parse_pairs,
    training_config,
)

QUIET_KERNEL = ["--IPKernelApp.log_level=ERROR"]  # no "running over TCP without encryption" on every start


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


def run_notebook(notebook: Path, params: dict, output_dir: Path, log_output: bool = True) -> Path:
    """Execute one notebook with ``params`` (which it must declare); write the executed copy and its HTML."""
    import papermill as pm
    from nbconvert import HTMLExporter

    output = output_dir / notebook.name
    output_dir.mkdir(parents=True, exist_ok=True)
    try:
        pm.execute_notebook(str(notebook), str(output), parameters=params, kernel_name="python3",
                            cwd=str(notebook.parent), log_output=log_output, progress_bar=False,
                            extra_arguments=QUIET_KERNEL)
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


def notebook_parameters(folder: Path = NOTEBOOKS_DIR) -> dict[str, set[str]]:
    """The names that each numbered notebook's ``parameters`` cell declares, read without Jupyter."""
    declared = {}
    for path in notebooks(folder=folder):
        cells = json.loads(path.read_text())["cells"]
        source = "".join(next((c["source"] for c in cells if "parameters" in c["metadata"].get("tags", [])), ""))
        declared[path.stem] = {node.target.id for node in ast.parse(source).body if isinstance(node, ast.AnnAssign)}
    return declared


def check_known(params: dict, where: str, declared: dict[str, set[str]]) -> None:
    """Raise ConfigError for keys that neither training nor any notebook uses."""
    known = set(TRAINING_OPTIONS).union(*declared.values())
    unknown = sorted(set(params) - known)
    if unknown:
        raise ConfigError(f"{where} sets {', '.join(unknown)}, which neither training nor any notebook uses. "
                          f"Known keys: {', '.join(sorted(known))}.")


def data_folder(data_dir: str = "") -> str:
    """Obtain FER2013 once (from ``data_dir``, FER2013_DIR, FER2013_ZIP, FER2013_CSV or Kaggle) and name the folder
    for the notebooks: empty where it is the default data/fer2013, so that the training configuration stays the
    profile's."""
    folder = ensure_fer2013(data_dir or None).resolve()
    return "" if folder == DEFAULT_DIR.resolve() else str(folder)


def notebook_inputs(profile: str, overrides: dict, output_dir: Path, runs_dir: Path) -> dict[str, dict]:
    """The parameters each notebook gets, by notebook name; unknown keys and bad training values are errors."""
    declared = notebook_parameters()
    check_known(overrides, "-p", declared)
    loaded = load_profile(profile)
    for_notebooks = loaded.pop(NOTEBOOK_SECTION, {})
    check_known(for_notebooks, f"the {NOTEBOOK_SECTION} section of profile {profile!r}", declared)
    params = {"profile": profile, **loaded, **for_notebooks, **overrides}
    training = {k: v for k, v in overrides.items() if k in TRAINING_OPTIONS}
    training_config(profile, training)  # a bad value stops here, before any notebook runs
    trained = run_checkpoint(profile, runs_dir) if params.get("train_model", True) else ""
    shared = {"reports_dir": str(output_dir.resolve()), "runs_dir": str(Path(runs_dir).resolve()),
              "checkpoint": str(trained), "data_dir": params.get("data_dir", "")}
    inputs = {}
    for name, names in declared.items():
        chosen = {k: v for k, v in {**params, **shared}.items() if k in names}
        if "options" in names:
            chosen["options"] = {k: v for k, v in training.items() if k not in names}
        inputs[name] = chosen
    return inputs


def run(profile: str = "auto", only: list[str] | None = None, overrides: dict | None = None,
        output_dir: Path = REPORTS_DIR, runs_dir: Path = RUNS_DIR, log_output: bool = True) -> list[Path]:
    """Run the chosen notebooks in order, stopping at the first failure."""
    profile = default_profile() if profile == "auto" else profile
    inputs = notebook_inputs(profile, overrides or {}, Path(output_dir), Path(runs_dir))
    with_data = [params for params in inputs.values() if "data_dir" in params]  # each holds the same folder
    data_dir = data_folder(with_data[0]["data_dir"] if with_data else "")
    for params in with_data:
        params["data_dir"] = data_dir
    written, record = [], Path(output_dir) / "run.json"  # what the published report is stamped with
    runs = json.loads(record.read_text()) if record.exists() else {}
    for notebook in notebooks(only):
        started = time.perf_counter()
        print(f"[{profile}] {notebook.name} ...", flush=True)
        written.append(run_notebook(notebook, inputs[notebook.stem], Path(output_dir), log_output))
        seconds = time.perf_counter() - started
        print(f"[{profile}] {notebook.name} done in {seconds:.1f} s -> {written[-1].with_suffix('.html')}", flush=True)
        runs[notebook.stem] = {"profile": profile, "seconds": round(seconds, 1), "commit": git_commit(),
                               "machine": cpu_description(), "finished": time.strftime("%Y-%m-%d %H:%M %Z")}
        record.write_text(json.dumps(runs, indent=1) + "\n")
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="auto", help="configs/<name>.yaml; auto = full on a GPU, cpu otherwise")
    parser.add_argument("--only", nargs="*", help="notebook name prefixes, e.g. 01 03")
    parser.add_argument("-p", "--param", action="append", default=[], help="override a parameter: key=value")
    parser.add_argument("--output-dir", type=Path, default=REPORTS_DIR)
    parser.add_argument("--runs-dir", type=Path, default=RUNS_DIR)
    parser.add_argument("--quiet", action="store_true", help="do not stream the notebooks' output")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="  %(message)s")  # papermill logs each output line at INFO
    logging.getLogger("papermill").setLevel(logging.INFO)
    try:
        run(args.profile, args.only, parse_pairs(args.param, "-p"), args.output_dir, args.runs_dir, not args.quiet)
    except (ConfigError, FileNotFoundError) as err:
        parser.error(str(err))
    except NotebookFailed as err:
        print(f"\nPIPELINE STOPPED: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
