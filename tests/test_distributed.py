"""DistributedDataParallel training under torchrun, two CPU processes with gloo, on tiny data."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import KILL_AFTER_EPOCH, TINY

from fer_utils.model.checkpoint import load_checkpoint
from fer_utils.model.classifier import load_classifier

pytestmark = pytest.mark.slow

# Runs fer_utils.training.train and records, through Python's audit hooks, every file this process opened for writing;
# with $KILL_AFTER_EPOCH, it kills itself after that epoch's checkpoints (conftest.KILL_AFTER_EPOCH).
RECORD_WRITES = """
import json, os, sys

written = set()

def audit(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        mode, flags = args[1], args[2]
        if (mode and any(c in mode for c in "wax+")) or (mode is None and flags & (os.O_WRONLY | os.O_RDWR)):
            written.add(os.path.abspath(os.fsdecode(args[0])))
    elif event in ("os.rename", "os.replace"):
        written.add(os.path.abspath(os.fsdecode(args[1])))

sys.addaudithook(audit)
""" + KILL_AFTER_EPOCH + """
try:
    _training.main(sys.argv[1:])
finally:
    record = sorted(written)
    with open(os.path.join(os.environ["WRITES_DIR"], f"rank{os.environ['RANK']}.json"), "w") as out:
        json.dump(record, out)
"""


def options(tiny_data, **changes) -> list[str]:
    values = {**TINY, "epochs": 4, "data_dir": str(tiny_data), **changes}
    return [f"{key}={json.dumps(value) if not isinstance(value, str) else value}" for key, value in values.items()]


def torchrun(tmp_path: Path, runs: Path, opts: list[str], processes: int = 2,
             kill_after_epoch: int | None = None) -> subprocess.Popen:
    script = tmp_path / "record_writes.py"
    script.write_text(RECORD_WRITES)
    writes = tmp_path / f"writes-{runs.name}"
    writes.mkdir(exist_ok=True)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
               str(script), "--profile", "smoke", "--no-progress", "--runs-dir", str(runs), "--set", *opts]
    env = {**os.environ, "WRITES_DIR": str(writes), "OMP_NUM_THREADS": "1",
           **({"KILL_AFTER_EPOCH": str(kill_after_epoch)} if kill_after_epoch else {})}
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process: subprocess.Popen) -> str:
    out, _ = process.communicate(timeout=300)
    assert process.returncode == 0, out
    return out


@pytest.fixture(scope="module")
def whole(tiny_data, tmp_path_factory):
    """One two-process run of four epochs, left alone: what the tests below check, resume and compare with."""
    folder = tmp_path_factory.mktemp("whole")
    return folder, folder / "runs", finish(torchrun(folder, folder / "runs", options(tiny_data)))


def test_two_processes_train_and_only_rank_0_writes(whole):
    tmp_path, runs, out = whole
    last = load_checkpoint(runs / "smoke" / "last.pt")
    history = last["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3, 4] and last["finished"]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert last["info"]["world_size"] == 2 and last["info"]["global_batch"] == 16
    assert last["info"]["batch_per_process"] == 8 and last["info"]["lr"] == 0.003
    assert len(last["generators"]) == 2  # each process augments its share with its own stream
    assert out.count("epoch 2/4:") == 1  # one process logs

    written = {rank: [Path(p) for p in json.loads((tmp_path / "writes-runs" / f"rank{rank}.json").read_text())]
               for rank in (0, 1)}
    in_runs = {rank: {p.relative_to(runs).as_posix() for p in paths if p.is_relative_to(runs)}
               for rank, paths in written.items()}
    assert {"smoke/last.pt", "smoke/best.pt", "smoke/history.json", "smoke/config.yaml"} <= in_runs[0]
    assert in_runs[1] == set()
    outside = [p for p in written[1] if not p.is_relative_to(tmp_path / "writes-runs")
               and "__pycache__" not in p.parts and p.parts[1] != "dev"]  # bytecode caches and /dev/null are no files
    assert outside == [], f"rank 1 wrote {outside}"

    classifier = load_classifier(runs / "smoke" / "best.pt", device="cpu")
    faces = torch.randint(0, 256, (3, 48, 48), dtype=torch.uint8).numpy()
    assert classifier.predict_proba(faces).shape == (3, 7)


def test_a_killed_two_process_run_resumes_to_the_same_result(whole, tiny_data, tmp_path):
    opts = options(tiny_data)
    runs = tmp_path / "killed"
    killed = torchrun(tmp_path, runs, opts, kill_after_epoch=1)  # rank 0 dies; torchrun ends the other
    out, _ = killed.communicate()
    assert killed.returncode != 0, out
    last = runs / "smoke" / "last.pt"
    interrupted_at = load_checkpoint(last)["epoch"]
    assert interrupted_at < 4, "the run finished before it could be killed; make its epochs longer"

    out = finish(torchrun(tmp_path, runs, opts))
    assert f"resuming {runs / 'smoke'} at epoch {interrupted_at + 1}" in out
    uninterrupted, resumed = load_checkpoint(whole[1] / "smoke" / "last.pt"), load_checkpoint(last)
    assert resumed["finished"] and [h["epoch"] for h in resumed["history"]] == list(range(1, 5))
    keep = ("train_loss", "val_loss", "val_acc", "lr")
    assert [{k: round(h[k], 4) for k in keep} for h in resumed["history"]] == \
        [{k: round(h[k], 4) for k in keep} for h in uninterrupted["history"]]


def test_resuming_with_another_number_of_processes_is_a_clear_error(whole, tiny_data, tmp_path):
    from fer_utils.model.checkpoint import save_checkpoint

    runs = tmp_path / "runs"
    state = load_checkpoint(whole[1] / "smoke" / "last.pt")
    save_checkpoint(runs / "smoke" / "last.pt", {**state, "finished": False})  # the two-process run, cut short
    result = subprocess.run([sys.executable, "-m", "fer_utils.training.train", "--profile", "smoke", "--no-progress",
                             "--runs-dir", str(runs), "--set", *options(tiny_data)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "trained by 2 processes and resumes only with as many (torchrun --nproc_per_node 2)" in result.stderr
