"""Optuna sweeps over training options: the sweep file is checked before anything trains, and workers that share
one storage run every trial once."""

import subprocess
import sys

import optuna
import pandas as pd
import pytest
import yaml
from conftest import TINY

from fer_utils import EMOTIONS
from fer_utils.paths import CONFIG_DIR
from fer_utils.report import findings, plots
from fer_utils.training import sweep


def write_sweep(path, **changes):
    spec = {"profile": "smoke", "proxy": {**TINY, "epochs": 2}, "objective": "val_macro_f1", "trials": 3,
            "sampler": "grid", "pruner": "none", "space": {"balance": ["none", "loss", "sampler"]}, **changes}
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.parametrize("changes, message", [
    ({"budget": 3}, "unknown keys budget"),
    ({"space": {"learning_rate": [0.1, 0.01]}, "trials": 2}, "space learning_rate: unknown training options"),
    ({"proxy": {"epoch": 2}}, "unknown training options epoch"),
    ({"space": {"balance": ["none", "oversample"]}, "trials": 2}, "space balance: balance must be one of none, loss"),
    ({"space": {"lr": {"low": -0.1, "high": 0.1}}, "sampler": "tpe"}, "space lr: lr must be positive"),
    ({"space": {"lr": {"low": 0.3, "high": 0.1}}, "sampler": "tpe"}, "low and high must be numbers with low < high"),
    ({"space": {"lr": {"low": 0.01, "high": 0.1}}}, "the grid sampler needs a list of choices for every option"),
    ({"trials": 4}, "a grid of 3 combinations needs trials: 3, got 4"),
    ({"trials": 0}, "trials must be a positive number"),
    ({"sampler": "random"}, "sampler must be one of grid, tpe"),
    ({"objective": "test_acc"}, "objective must be one of val_acc, val_macro_f1"),
    ({"profile": "gpu"}, "No profile 'gpu'"),
    ({"space": {}}, "the space is empty"),
])
def test_a_bad_sweep_file_is_a_clear_error_before_anything_trains(tmp_path, changes, message):
    path = write_sweep(tmp_path / "bad.yaml", **changes)
    with pytest.raises(sweep.SweepError, match=message):
        sweep.load_sweep(path)


@pytest.mark.slow  # a process of its own
def test_the_sweep_command_line_says_what_is_wrong_before_anything_trains(tmp_path):
    path = write_sweep(tmp_path / "bad.yaml", budget=3)
    result = subprocess.run([sys.executable, "-m", "fer_utils.training.sweep", str(path), "--runs-dir",
                             str(tmp_path / "runs"), "--results-dir", str(tmp_path / "results")],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "unknown keys budget" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists() and not (tmp_path / "results").exists()


def test_a_missing_sweep_file_names_the_known_ones(tmp_path):
    write_sweep(tmp_path / "balance.yaml")
    with pytest.raises(sweep.SweepError, match="no sweep file .*balanse.yaml; sweep files in .*: balance.yaml"):
        sweep.load_sweep(tmp_path / "balanse.yaml")


def test_the_shipped_sweeps_are_valid():
    for name in ("balance", "recipe"):
        spec = sweep.load_sweep(CONFIG_DIR / "sweeps" / f"{name}.yaml")
        assert spec["name"] == name and spec["profile"] == "cpu-budget"  # the profile the committed results ran


def workers(tmp_path, path, count=2):
    command = [sys.executable, "-m", "fer_utils.training.sweep", str(path), "--storage",
               f"journal:{tmp_path / 'study.log'}", "--runs-dir", str(tmp_path / "runs"), "--results-dir",
               str(tmp_path / "results")]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for _ in range(count)]
    outputs = [p.communicate(timeout=600)[0] for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(tmp_path / "study.log")))
    return optuna.load_study(study_name=path.stem, storage=storage), outputs


@pytest.mark.slow
def test_two_workers_share_a_grid_study_and_run_each_trial_once(tiny_data, tmp_path):
    path = write_sweep(tmp_path / "balance.yaml", proxy={**TINY, "epochs": 2, "data_dir": str(tiny_data)})
    study, outputs = workers(tmp_path, path)
    trials = study.get_trials()
    assert len(trials) == 3 and all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    assert sorted(t.params["balance"] for t in trials) == ["loss", "none", "sampler"]
    started = [line for out in outputs for line in out.splitlines() if line.startswith("trial ")]
    assert len(started) == 3 and all(any(line.startswith("trial ") for line in out.splitlines()) for out in outputs)
    assert sorted(p.name for p in (tmp_path / "runs" / "balance").iterdir()) == ["trial-0", "trial-1", "trial-2"]

    table = pd.read_csv(tmp_path / "results" / "balance.csv")
    assert sorted(table["balance"]) == ["loss", "none", "sampler"]
    assert {"val_macro_f1", "val_acc", "recall_disgust", "epochs", "minutes"} <= set(table.columns)
    assert table["epochs"].tolist() == [2, 2, 2]

    trials = sweep.load_results("balance", tmp_path / "results")  # what notebook 04 shows
    assert trials.attrs["sweep"]["space"] == {"balance": ["none", "loss", "sampler"]} and trials.attrs["git_commit"]
    assert list(sweep.balance_table(trials).index) == ["none", "loss", "sampler"]
    recalls = sweep.balance_recalls(trials)
    assert set(recalls) == {"balance=none", "balance=loss", "balance=sampler"}
    assert all(set(r) == set(EMOTIONS) and all(0 <= v <= 1 for v in r.values()) for r in recalls.values())
    plots.recall_by_variant(recalls)
    best = trials.loc[trials["val_macro_f1"].idxmax(), "balance"]
    text = findings.balance_findings(trials, {"acc": 0.5, "macro_f1": 0.4})
    assert f"**balance={best}** gives the best validation macro F1" in text
    assert "0.400 macro F1 and 50.00% accuracy" in text


@pytest.mark.slow
def test_a_tpe_study_runs_its_trials_to_the_end_or_prunes_them(tiny_data, tmp_path):
    """One worker, in this process (sharing a study between workers is the grid test's)."""
    path = write_sweep(tmp_path / "recipe.yaml", proxy={**TINY, "epochs": 3, "data_dir": str(tiny_data)},
                       objective="val_acc", sampler="tpe", pruner="median", trials=5,
                       space={"lr": {"low": 0.0003, "high": 0.01, "log": True}, "label_smoothing": [0.0, 0.1]})
    journal = tmp_path / "study.log"
    assert sweep.main([str(path), "--storage", f"journal:{journal}", "--runs-dir", str(tmp_path / "runs"),
                       "--results-dir", str(tmp_path / "results")]) == 0
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal)))
    trials = optuna.load_study(study_name="recipe", storage=storage).get_trials()
    assert len(trials) == 5 and {t.number for t in trials} == set(range(5))
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    assert all(t.state in finished for t in trials)
    assert len({(t.params["lr"], t.params["label_smoothing"]) for t in trials}) == 5
    assert len(list((tmp_path / "runs" / "recipe").iterdir())) == 5

    trials = sweep.load_results("recipe", tmp_path / "results")
    plots.sweep_effects(trials, ["lr", "label_smoothing"], "val_acc")
    finished = trials[trials["state"] == "complete"]
    text = findings.recipe_findings(trials)
    assert f"{len(finished)} of 5 trials ran to the end" in text and "against the smoke profile" in text
    assert f"{finished['val_acc'].max():.2%} validation accuracy" in text
