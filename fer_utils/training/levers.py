"""The levers toward 70 % side by side: for each finished run (the recipe, self-distillation, a refit on all the
training images, both), its epochs and minutes, and its validation and test accuracy with one view and with the
views it uses, written to models/levers.json for the README.

A refit has no validation split, so it has no validation accuracy; its views are those of the run it refits, chosen
on that run's validation split (``tta`` in its profile).

    python -m fer_utils.training.levers runs/cpu runs/cpu-distill runs/cpu-refit runs/cpu-distill-refit --write
"""

import argparse
import json
import sys
from pathlib import Path

from ..data.fer2013 import load_arrays
from ..data.splits import training_split
from ..model.checkpoint import load_checkpoint
from ..model.classifier import load_classifier
from ..paths import MODELS_DIR
from ..provenance import cpu_description
from ..scores import accuracy
from .runs import summarise

WRITTEN = MODELS_DIR / "levers.json"


def lever_row(run_dir: Path | str, engine: str = "auto") -> dict:
    """One finished run's row: what it trained on and how long, and its accuracies (test from its best checkpoint,
    run by ``engine``: ``load_classifier``'s)."""
    run_dir = Path(run_dir)
    last = run_dir / "last.pt"
    state = load_checkpoint(last) if last.exists() else None
    if state is None or not state.get("finished"):
        raise SystemExit(f"{run_dir} is not a finished run (no finished last.pt): train it first with "
                         f"`python -m fer_utils.training.train --profile {run_dir.name}`")
    summary = summarise(state, run_dir)
    config, views = summary["config"], summary["tta"]
    classifier = load_classifier(summary["best_checkpoint"], "cpu", engine=engine, cache=True)
    arrays = load_arrays(config.get("data_dir") or None, verbose=False)
    test = arrays.split("test")
    test_accuracy = {mode: accuracy(classifier.predict_proba(test.images, tta=mode), test.labels)
                     for mode in dict.fromkeys(("none", views))}
    refit = summary["info"].get("val_images", 1) == 0
    val_views = None
    if not refit:
        val_views = summary["tta_val_acc"].get(views)
        if val_views is None:  # views told (``tta`` not auto): training scored one view only on validation
            val = training_split(arrays, config).val
            val_views = accuracy(classifier.predict_proba(val.images, tta=views), val.labels)
    return {"run": run_dir.name, "profile": config["profile"], "teacher": config.get("teacher", ""),
            "distill": config.get("distill", 0.0), "refit": refit, "epochs": summary["epochs"],
            "minutes": round(summary["wall_s"] / 60, 1), "views": views,
            "val_one_view": None if refit else summary["best_val_acc"],
            "val_views": val_views,
            "test_one_view": test_accuracy["none"], "test_views": test_accuracy[views],
            "commit": summary["provenance"].get("git_commit", "")}


def best_by_validation(rows: list[dict]) -> str:
    """The run with the best validation accuracy with its views. Refits have none: each is judged by the run whose
    recipe and views it retrains on all the images."""
    scored = [row for row in rows if row["val_views"] is not None]
    if not scored:
        raise SystemExit("no run with a validation split: a refit alone cannot be chosen by validation")
    return max(scored, key=lambda row: row["val_views"])["run"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="finished run folders (runs/<profile>)")
    parser.add_argument("--write", action="store_true", help=f"store the JSON in {WRITTEN}")
    args = parser.parse_args(argv)
    rows = [lever_row(run) for run in args.runs]
    result = {"machine": cpu_description(), "runs": rows, "best_by_validation": best_by_validation(rows)}
    if args.write:
        WRITTEN.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
