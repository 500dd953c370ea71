"""How long the README's commands take on this machine, for its table, and whether the evaluation reproduces the
shipped model's metrics. Each runs what its make target runs, with this environment's Python, in a git worktree of
HEAD (FER2013 linked in, its array cache built first, nothing else cached), one after the other:

    smoke      make smoke: every notebook on a few images a class
    evaluate   make report PROFILE=evaluate, from cold caches, then again on the logits it left (warm); its
               metrics.json is compared, number by number, with models/fer2013-resnet18.metrics.json
    test-fast  make test-fast
    ci         .ci/run itself, on a fresh clone beside this one (a new .venv, then `make test`; about 12 minutes)

The figures go into models/command-times.json under this machine's kind (a CPU with native bf16 or without, or a
GPU), beside those other machines left there; the README quotes them.

    python benchmarks/command_times.py smoke evaluate test-fast ci --write
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from evaluation_time import compare, worktree

from fer_utils.data.fer2013 import ensure_fer2013
from fer_utils.device import describe_device, native_bf16, pick_device
from fer_utils.provenance import cpu_description, git_commit

ROOT = Path(__file__).resolve().parents[1]
WRITTEN = ROOT / "models" / "command-times.json"
SHIPPED_METRICS = ROOT / "models" / "fer2013-resnet18.metrics.json"
COMMANDS = ("smoke", "evaluate", "test-fast", "ci")


def machine_kind() -> str:
    device = pick_device("auto")
    if device.type != "cpu":
        return "gpu"
    return "cpu, native bf16" if native_bf16(torch.device("cpu")) else "cpu, no native bf16"


def timed(command: list[str], cwd: Path, env: dict | None = None) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed in {cwd}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return round(time.perf_counter() - started, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("commands", nargs="+", choices=COMMANDS)
    parser.add_argument("--write", action="store_true", help=f"store the figures in {WRITTEN.relative_to(ROOT)}")
    args = parser.parse_args()
    fer2013 = ensure_fer2013().resolve()
    pipeline = [sys.executable, "-m", "fer_utils.report.pipeline", "--quiet", "--profile"]
    figures = {"machine": cpu_description(), "device": describe_device(pick_device("auto")), "commit": git_commit()}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        checkout = worktree("HEAD", scratch / "checkout", fer2013)
        env = {"PYTHONPATH": str(checkout)}  # the checkout's fer_utils, in this process and the notebooks' kernels
        clone = ROOT.parent / f"{ROOT.name}-ci-clone"  # beside this one, as CI's: .ci/run finds ../shared there
        try:
            for command in args.commands:
                if command == "smoke":
                    figures["smoke_s"] = timed([*pipeline, "smoke"], checkout, env)
                elif command == "evaluate":
                    figures["evaluate_cold_s"] = timed([*pipeline, "evaluate"], checkout, env)
                    figures["evaluate_reproduces"] = compare(SHIPPED_METRICS, checkout / "reports" / "metrics.json")
                    figures["evaluate_warm_s"] = timed([*pipeline, "evaluate"], checkout, env)
                elif command == "test-fast":
                    figures["test_fast_s"] = timed([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                                    "-m", "not slow and not browser"], checkout, env)
                else:
                    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
                    figures["ci_s"] = timed([str(clone / ".ci" / "run")], clone)
                print(json.dumps(figures), flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(checkout)],
                           capture_output=True)
            shutil.rmtree(clone, ignore_errors=True)
    if args.write:
        saved = json.loads(WRITTEN.read_text()) if WRITTEN.exists() else {}
        saved[machine_kind()] = {**saved.get(machine_kind(), {}), **figures}
        WRITTEN.write_text(json.dumps(saved, indent=2) + "\n")
        print(f"wrote {WRITTEN}")


if __name__ == "__main__":
    main()
