"""Train the GPU profiles (``full`` and ``original``) and evaluate each on the test set, without Jupyter or papermill:
one command for a machine with a CUDA GPU.

    python -m fer_utils.training.gpu_profiles                      # make gpu-profiles
    python -m fer_utils.training.gpu_profiles --profiles full --output runs/gpu-profiles.json

Writes one JSON, updated after each profile: per profile the accuracy per test split with the checkpoint's test-time
views and with one view, the views chosen on validation, the best validation accuracy, the training wall time, the
device, and how the weights were initialised (the ``original`` profile asks for ImageNet weights; where they cannot be
loaded, it trains from random initialisation and says so).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from ..data.fer2013 import load_arrays
from ..device import describe_device, pick_device
from ..evaluation.evaluate import split_accuracies, test_subsets
from ..model.classifier import load_classifier
from ..paths import RUNS_DIR
from ..provenance import git_commit, versions
from .config import parse_pairs
from .train import train


def run_profile(profile: str, device: str, runs_dir: Path, arrays, overrides: dict | None = None) -> dict:
    """Train ``profile`` on ``device`` (or reuse its finished run) and evaluate its best checkpoint on test."""
    started = time.perf_counter()
    result = train(profile, {"device": device, **(overrides or {})}, runs_dir, arrays=arrays, progress=False)
    classifier = load_classifier(result["best_checkpoint"], device)
    test, subsets = arrays.split("test"), test_subsets(arrays)
    views = split_accuracies(subsets, test.labels, classifier.predict_proba(test.images).argmax(1))
    single = split_accuracies(subsets, test.labels, classifier.predict_proba(test.images, tta="none").argmax(1))
    return {
        "accuracy": {name: value["accuracy"] for name, value in views.items()},
        "accuracy_single_view": {name: value["accuracy"] for name, value in single.items()},
        "tta": result["tta"], "tta_val_acc": result["tta_val_acc"], "best_val_acc": result["best_val_acc"],
        "best_epoch": result["best_epoch"], "epochs": result["epochs"],
        "training_wall_s": result["wall_s"], "total_wall_s": time.perf_counter() - started,
        "device": result["provenance"]["device"], "init": result["info"]["init"],
        "checkpoint": result["best_checkpoint"], "config": result["config"],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", nargs="+", default=["full", "original"])
    parser.add_argument("--device", default="cuda", help="cuda (default); cpu only to try the command on tiny data")
    parser.add_argument("--runs-dir", type=Path, default=RUNS_DIR)
    parser.add_argument("--output", type=Path, default=RUNS_DIR / "gpu-profiles.json")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="training overrides for every profile")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("no CUDA GPU here: this command trains the GPU profiles. On a CPU, train the cpu profile "
                     "(python -m fer_utils.training.train --profile cpu).")
    overrides = parse_pairs(args.set)
    device = pick_device(args.device)
    arrays = load_arrays(overrides.get("data_dir") or None)
    report = {"device": describe_device(device), "git_commit": git_commit(), **versions(), "profiles": {}}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    for profile in args.profiles:
        print(f"=== {profile}", flush=True)
        report["profiles"][profile] = run_profile(profile, args.device, args.runs_dir, arrays, overrides)
        args.output.write_text(json.dumps(report, indent=2))
        print(json.dumps({profile: {k: v for k, v in report["profiles"][profile].items() if k != "config"}}),
              flush=True)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
