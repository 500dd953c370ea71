"""The shipped model: store a checkpoint compactly in models/, adopt its evaluation's metrics, and draw the README's
demo GIF. The README, docs/benchmarks.md and the model card quote the JSON in models/; tests/test_docs.py checks that
every measured number they give is in one.

    python -m fer_utils.report.results ship runs/cpu/best.pt        # store it (only if better on validation)
    python -m fer_utils.report.results adopt reports/metrics.json   # its metrics and confusion matrix, into models/
    python -m fer_utils.report.results demo                         # the README's demo GIF (needs FER2013)
    python -m fer_utils.report.results publish                      # reports/ of PROFILE=evaluate into docs/report/
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ..data.fer2013 import load_arrays
from ..model.checkpoint import load_checkpoint, save_checkpoint
from ..model.classifier import fast_classifier, load_classifier
from ..paths import MODELS_DIR, REPORTS_DIR, ROOT, SHIPPED_CHECKPOINT
from ..provenance import file_sha256
from ..realtime.video import write_demo_gif
from ..training.runs import summarise
from .plots import confusion_matrices

METRICS = MODELS_DIR / "fer2013-resnet18.metrics.json"
PUBLISHED = ROOT / "docs" / "report"
MAX_PUBLISHED_BYTES = 10e6  # issue 47's limit on the report kept in the repository (published at 7.7 MB)
CONFUSION_FIGURE = MODELS_DIR / "fer2013-resnet18-confusion.png"
DEMO_GIF = MODELS_DIR / "fer2013-resnet18-demo.gif"


def ship(checkpoint: Path | str, force: bool = False) -> Path:
    """Store ``checkpoint`` as the shipped model with fp16 weights and no optimiser state, unless the shipped one is
    at least as good on the validation split."""
    state = load_checkpoint(checkpoint)
    new_val = max(h["val_acc"] for h in state["history"])
    if SHIPPED_CHECKPOINT.exists() and not force:
        old_val = max(h["val_acc"] for h in load_checkpoint(SHIPPED_CHECKPOINT)["history"])
        if new_val <= old_val:
            raise SystemExit(f"not shipped: validation accuracy {new_val:.4f} is not above the shipped model's "
                             f"{old_val:.4f} (use --force to replace it anyway)")
    keep = ("format", "model", "classes", "history", "config", "info", "provenance", "epoch", "tta", "tta_val_acc")
    compact = {key: state[key] for key in keep if key in state}
    compact["state_dict"] = {k: v.half() if v.is_floating_point() else v for k, v in state["state_dict"].items()}
    compact["shipped_from"] = str(Path(checkpoint))
    save_checkpoint(SHIPPED_CHECKPOINT, compact)
    return SHIPPED_CHECKPOINT


def shipped_run() -> dict:
    """The shipped model's training, summarised like a run (for evaluate-only reports)."""
    return summarise(load_checkpoint(SHIPPED_CHECKPOINT), SHIPPED_CHECKPOINT.parent, SHIPPED_CHECKPOINT)


def adopt(report: Path) -> None:
    """Copy an evaluation's metrics.json to models/, after checking that it evaluated the shipped file, and draw its
    confusion matrix there."""
    metrics = json.loads(Path(report).read_text())
    shipped = file_sha256(SHIPPED_CHECKPOINT)
    if metrics["provenance"]["checkpoint_sha256"] != shipped:
        raise SystemExit(f"{report} evaluated another checkpoint ({metrics['provenance']['checkpoint']}); run "
                         "`make report PROFILE=evaluate` to evaluate the shipped one")
    METRICS.write_text(json.dumps(metrics, indent=2) + "\n")
    confusion_matrices(np.array(metrics["confusion_matrix"]), path=CONFUSION_FIGURE)


def publish(reports: Path = REPORTS_DIR, folder: Path = PUBLISHED) -> list[Path]:
    """The executed notebooks of ``make report PROFILE=evaluate`` (the shipped model), each stamped with its commit,
    date, machine, run time and the model's hash, into ``folder`` with an index, for the repository's web view."""
    runs = json.loads((reports / "run.json").read_text()) if (reports / "run.json").exists() else {}
    executed = sorted(reports.glob("[0-9][0-9]-*.ipynb"))
    if not executed or any(runs.get(path.stem, {}).get("profile") != "evaluate" for path in executed):
        raise SystemExit(f"{reports} does not hold a run of every notebook on the shipped model: run "
                         "`make report PROFILE=evaluate` first")
    digest = file_sha256(SHIPPED_CHECKPOINT)
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["# The published report", "", f"The shipped model (`{SHIPPED_CHECKPOINT.name}`, sha256 `{digest}`) "
             "through `make report PROFILE=evaluate`; `python -m fer_utils.report.results publish` copied the "
             "executed notebooks here.", "", "| notebook | commit | finished | machine | minutes |",
             "|---|---|---|---|---|"]
    for path in executed:
        run = runs[path.stem]
        stamp = (f"*Published from `make report PROFILE=evaluate` at commit {run['commit']}, {run['finished']}, on "
                 f"{run['machine']}, in {run['seconds'] / 60:.1f} minutes; the model's sha256 is `{digest}`.*")
        notebook = json.loads(path.read_text())
        notebook["cells"].insert(0, {"cell_type": "markdown", "id": "published", "metadata": {}, "source": [stamp]})
        (folder / path.name).write_text(json.dumps(notebook, indent=1) + "\n")
        lines.append(f"| [{path.stem}]({path.name}) | {run['commit']} | {run['finished']} | {run['machine']} | "
                     f"{run['seconds'] / 60:.1f} |")
    (folder / "README.md").write_text("\n".join(lines) + "\n")
    size = sum(p.stat().st_size for p in folder.iterdir())
    if size > MAX_PUBLISHED_BYTES:
        raise SystemExit(f"the published report is {size / 1e6:.1f} MB, over {MAX_PUBLISHED_BYTES / 1e6:g} MB")
    return sorted(folder.iterdir())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    ship_cmd = sub.add_parser("ship", help="store a checkpoint as models/fer2013-resnet18.pt")
    ship_cmd.add_argument("checkpoint", type=Path)
    ship_cmd.add_argument("--force", action="store_true")
    adopt_cmd = sub.add_parser("adopt", help="copy the shipped model's metrics.json into models/, with its figure")
    adopt_cmd.add_argument("metrics", type=Path, nargs="?", default=Path("reports/metrics.json"))
    demo_cmd = sub.add_parser("demo", help="write the README's demo GIF: the shipped model over the demo video")
    demo_cmd.add_argument("--data-dir", default="", help="FER2013 folder (default: data/fer2013)")
    sub.add_parser("publish", help="copy the executed notebooks of make report PROFILE=evaluate into docs/report/")
    args = parser.parse_args(argv)
    if args.command == "ship":
        path = ship(args.checkpoint, args.force)
        print(f"shipped {args.checkpoint} as {path} ({path.stat().st_size / 1e6:.1f} MB); now evaluate it with "
              "`make report PROFILE=evaluate`, then `python -m fer_utils.report.results adopt`")
    elif args.command == "adopt":
        adopt(args.metrics)
        print(f"{METRICS} and {CONFUSION_FIGURE} updated; `make test` names each number of the README and docs that "
              "no longer agrees with them")
    elif args.command == "publish":
        written = publish()
        print(f"published {len(written)} files in {PUBLISHED}, {sum(p.stat().st_size for p in written) / 1e6:.1f} MB")
    else:
        test = load_arrays(args.data_dir or None, verbose=False).split("test")
        classifier = fast_classifier(load_classifier(SHIPPED_CHECKPOINT, "cpu"))
        result = write_demo_gif(classifier, test.images, test.labels, DEMO_GIF)
        print(f"wrote {DEMO_GIF} ({DEMO_GIF.stat().st_size / 1e6:.1f} MB) from {result['frames']} frames: "
              f"{result['recall']:.1%} of the demo faces found, labels right on {result['label_accuracy']:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
