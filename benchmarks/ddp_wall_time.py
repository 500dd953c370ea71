"""Wall time of the same training under torchrun with 1 and with N processes (DistributedDataParallel, gloo on the
CPU), in alternating rounds. On a CPU each process gets cores/N threads, so this measures what splitting the machine
costs or buys; on a multi-GPU node it measures the scaling.

    python benchmarks/ddp_wall_time.py --processes 2 --rounds 2 --set max_per_class=500 epochs=2
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fer_utils.model.checkpoint import load_checkpoint


def run(processes: int, threads: int, options: list[str], profile: str, runs_dir: Path) -> dict:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
               "-m", "fer_utils.training.train", "--profile", profile, "--no-progress", "--runs-dir", str(runs_dir),
               "--set", *options]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    wall = time.perf_counter() - started
    last = load_checkpoint(runs_dir / profile / "last.pt")
    return {"wall_s": round(wall, 1), "training_s": round(last["provenance"]["wall_s"], 1),
            "val_acc": round(last["history"][-1]["val_acc"], 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--set", nargs="*", default=["max_per_class=500", "epochs=2", "minutes=0"],
                        metavar="KEY=VALUE", help="training options of the run that is timed")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    variants = {1: cores, args.processes: max(1, cores // args.processes)}  # processes: threads each
    times = {n: [] for n in variants}
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(args.rounds):
            order = list(variants) if round_ % 2 == 0 else list(variants)[::-1]
            for n in order:
                result = run(n, variants[n], args.set, args.profile, Path(scratch) / f"r{round_}-p{n}")
                times[n].append(result)
                print(f"round {round_ + 1}: {n} process(es) x {variants[n]} threads: {result}", flush=True)
    best = {n: min(r["training_s"] for r in runs) for n, runs in times.items()}
    summary = {"cores": cores, "options": args.set, "best_training_s": best,
               f"ratio_{args.processes}_vs_1": round(best[args.processes] / best[1], 2), "runs": times}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
