"""Short proxy runs that compare ideas for the ``cpu`` profile side by side: each variant is the profile with a
few options changed, trained on a subset of FER2013 for the same time budget, the variants in parallel processes
(one thread each) so that they share the machine's ups and downs. Prints one line per variant and a JSON summary.

    python benchmarks/accuracy_proxies.py --minutes 12 --variant fixed48 small_input=0 --variant progressive
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from fer_utils.training.config import parse_pairs, training_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--minutes", type=float, default=12.0, help="time budget of each variant")
    parser.add_argument("--max-per-class", type=int, default=2500, help="training subset (images per class)")
    parser.add_argument("--variant", nargs="+", action="append", required=True, metavar=("NAME", "KEY=VALUE"),
                        help="a name and the options it changes")
    parser.add_argument("--runs-dir", type=Path, default=Path(tempfile.mkdtemp(prefix="proxies-")))
    args = parser.parse_args()
    common = {"minutes": args.minutes, "max_per_class": args.max_per_class}
    variants = {name: {**common, **parse_pairs(pairs)} for name, *pairs in args.variant}
    for overrides in variants.values():
        training_config(args.profile, overrides)  # a wrong option fails here, before anything trains
    args.runs_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs = {name: subprocess.Popen(
        [sys.executable, "-m", "fer_utils.training.train", "--profile", args.profile, "--no-progress",
         "--runs-dir", str(args.runs_dir / name), "--set", *(f"{k}={json.dumps(v)}" for k, v in overrides.items())],
        env=env, stdout=open(args.runs_dir / f"{name}.log", "w"), stderr=subprocess.STDOUT)
        for name, overrides in variants.items()}
    summary = {}
    for name, process in runs.items():
        if process.wait():
            raise SystemExit(f"variant {name} failed; see {args.runs_dir / name}.log")
        history = json.loads((args.runs_dir / name / args.profile / "history.json").read_text())
        best = max(history, key=lambda h: h["val_acc"])
        raw = history[-1].get("val_acc_without_ema")  # a short run ends before a weight average catches up
        summary[name] = {"options": variants[name], "epochs": len(history), "val_acc": round(best["val_acc"], 4),
                         "last_val_acc": round(history[-1]["val_acc"], 4),
                         "last_val_acc_without_ema": None if raw is None else round(raw, 4),
                         "minutes": round(sum(h["seconds"] for h in history) / 60, 1)}
        print(f"{name}: best validation {best['val_acc']:.2%} after {len(history)} epochs, "
              f"{summary[name]['minutes']} min" + ("" if raw is None else f"; last epoch without the average "
                                                   f"{raw:.2%}"), flush=True)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
