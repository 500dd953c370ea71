"""Wall time of the evaluation report (`make report PROFILE=evaluate`: the shipped model, nothing trained) with the
old code and today's, in alternating rounds, and whether the two reports give the same numbers.

Each side is a git worktree (the old one at ``--old``, default the commit before the logit cache; the new one at
HEAD) with FER2013 linked in and its array cache built before the first round. Before every round the caches that
the evaluation makes are removed (logits, exported networks), so each round starts cold; a last round of the new code
then runs warm, on the logits the previous one left.

    python benchmarks/evaluation_time.py --write              # the whole report, 2 rounds, into models/
    python benchmarks/evaluation_time.py -p max_per_class=100 # the same on 700 test images per round
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fer_utils.data.fer2013 import ensure_fer2013
from fer_utils.provenance import cpu_description

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ("metrics.json", "error_analysis.json")
WRITTEN = ROOT / "models" / "evaluation-time.json"


def worktree(ref: str, folder: Path, fer2013: Path) -> Path:
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), ref], check=True,
                   capture_output=True)
    (folder / "data").mkdir(exist_ok=True)
    (folder / "data" / "fer2013").symlink_to(fer2013)
    subprocess.run([sys.executable, "-c", "from fer_utils.data.fer2013 import load_arrays; load_arrays()"], cwd=folder,
                   check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(folder)})  # its own cache
    return folder


def clear_evaluation_caches(checkout: Path) -> None:
    cache = checkout / "data" / "cache"
    shutil.rmtree(cache / "logits", ignore_errors=True)
    for exported in cache.glob("*.onnx*"):
        exported.unlink()


def report(checkout: Path, output: Path, params: list[str]) -> float:
    """Seconds for the evaluate profile's report in ``checkout`` (its code, its caches), written to ``output``."""
    command = [sys.executable, "-m", "fer_utils.report.pipeline", "--profile", "evaluate", "--quiet", "--output-dir",
               str(output), *[arg for param in params for arg in ("-p", param)]]
    env = {**os.environ, "PYTHONPATH": str(checkout)}  # the kernels import this checkout's fer_utils, not the install
    started = time.perf_counter()
    subprocess.run(command, cwd=checkout, check=True, capture_output=True, env=env)
    return round(time.perf_counter() - started, 1)


def numbers(value, prefix=""):
    """{dotted key: number} of a JSON document's numeric leaves."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in numbers(item, f"{prefix}{key}.").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in numbers(item, f"{prefix}{i}.").items()}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {prefix.rstrip("."): value}
    return {}


def compare(old: Path, new: Path) -> dict:
    """The numbers of JSON file ``old`` (provenance aside) against ``new``'s: how many both hold, how many differ and
    by how much at most, a few examples, and how many ``new`` lacks."""
    a, b = (numbers(json.loads(path.read_text())) for path in (old, new))
    a = {key: value for key, value in a.items() if not key.startswith("provenance")}
    shared = [key for key in a if key in b]
    changed = {key: (a[key], b[key]) for key in shared if not math.isclose(a[key], b[key], abs_tol=1e-12)}
    return {"numbers": len(shared), "changed": len(changed), "missing": len(a) - len(shared),
            "largest_change": max((abs(x - y) for x, y in changed.values()), default=0.0),
            "examples": dict(list(changed.items())[:5])}


def differences(old: Path, new: Path) -> dict:
    """For each report JSON of folders ``old`` and ``new``: ``compare``."""
    return {name: compare(old / name, new / name) for name in REPORTS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", default="6acc0a7", help="the commit to compare with (default: before the cache)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("-p", "--param", action="append", default=[], help="a notebook parameter, key=value")
    parser.add_argument("--write", action="store_true", help=f"store the JSON in {WRITTEN.relative_to(ROOT)}")
    args = parser.parse_args()
    fer2013 = ensure_fer2013().resolve()
    times = {"old": [], "new": []}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        sides = {"old": worktree(args.old, scratch / "old", fer2013), "new": worktree("HEAD", scratch / "new", fer2013)}
        try:
            for round_ in range(args.rounds):
                for side in (("old", "new") if round_ % 2 == 0 else ("new", "old")):
                    clear_evaluation_caches(sides[side])
                    times[side].append(report(sides[side], scratch / f"{side}-{round_}", args.param))
                    print(f"round {round_ + 1}: {side} {times[side][-1]} s", flush=True)
            warm = report(sides["new"], scratch / "new-warm", args.param)
            print(f"new, warm (the logits of the round before): {warm} s", flush=True)
            same = differences(scratch / "old-0", scratch / "new-0")
        finally:
            for folder in sides.values():
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(folder)],
                               capture_output=True)
    summary = {"machine": cpu_description(), "params": args.param, "old_commit": args.old,
               "old_s": times["old"], "new_cold_s": times["new"], "new_warm_s": warm,
               "speedup_cold": round(min(times["old"]) / min(times["new"]), 2),
               "speedup_warm": round(min(times["old"]) / warm, 2), "differences": same}
    if args.write:
        WRITTEN.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
