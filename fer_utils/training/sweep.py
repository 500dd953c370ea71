"""Sweeps over training options with Optuna: every trial is a ``fer_utils.training.train`` run of a profile with a proxy
budget and the trial's options; the study lives in a storage named by a URL, so that several workers, on one machine
or many, share it by running the same command.

    python -m fer_utils.training.sweep configs/sweeps/balance.yaml
    python -m fer_utils.training.sweep configs/sweeps/recipe.yaml --storage postgresql://user:pass@db/fer  # each node

The default storage is Optuna's journal file runs/sweeps/<name>.journal, which several processes may write at once.
A sweep file names the profile, the proxy options every trial adds, the objective (a validation score the training
history records, best epoch), the number of trials, the sampler (``grid``: every combination once; ``tpe``), the
pruner (``median`` or ``none``) and the search space: a list of choices, or ``{low, high, log}`` for numbers.
"""

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import optuna
import yaml

from ..data.fer2013 import load_arrays
from ..evaluation.evaluate import recalls, report
from ..labels import EMOTIONS
from ..paths import MODELS_DIR, RUNS_DIR
from ..provenance import git_commit, versions
from .config import ConfigError, training_config

SWEEP_KEYS = {"profile": str, "proxy": dict, "objective": str, "trials": int, "sampler": str, "pruner": str,
              "space": dict}
OBJECTIVES = ("val_acc", "val_macro_f1")
SAMPLERS = ("grid", "tpe")
PRUNERS = ("median", "none")


class SweepError(ValueError):
    """A sweep file that cannot run: the message says what is wrong and what is allowed."""


def load_sweep(path: Path | str) -> dict:
    """The sweep file, checked before anything trains: every key known, the objective, sampler and pruner among those
    allowed, and every value of the space (each choice, both bounds) one that the profile's training configuration
    accepts. Raises SweepError."""
    path = Path(path)
    if not path.exists():
        known = ", ".join(sorted(p.name for p in path.parent.glob("*.yaml"))) or "none"
        raise SweepError(f"no sweep file {path}; sweep files in {path.parent}: {known}")
    sweep = yaml.safe_load(path.read_text()) or {}
    where = f"sweep {path.name}"
    unknown, missing = sorted(set(sweep) - set(SWEEP_KEYS)), sorted({"profile", "space", "trials"} - set(sweep))
    if unknown or missing:
        raise SweepError(f"{where}: unknown keys {', '.join(unknown) or 'none'}, missing keys "
                         f"{', '.join(missing) or 'none'}. A sweep file has: {', '.join(SWEEP_KEYS)}.")
    sweep = {"name": path.stem, "proxy": {}, "objective": "val_acc", "sampler": "tpe", "pruner": "median", **sweep}
    for key, allowed in (("objective", OBJECTIVES), ("sampler", SAMPLERS), ("pruner", PRUNERS)):
        if sweep[key] not in allowed:
            raise SweepError(f"{where}: {key} must be one of {', '.join(allowed)}; got {sweep[key]!r}")
    if not isinstance(sweep["space"], dict) or not sweep["space"]:
        raise SweepError(f"{where}: the space is empty; give at least one option to search")
    if not isinstance(sweep["trials"], int) or sweep["trials"] < 1:
        raise SweepError(f"{where}: trials must be a positive number, got {sweep['trials']!r}")
    for name, spec in sweep["space"].items():
        for value in space_values(name, spec, where):
            try:
                training_config(sweep["profile"], {**sweep["proxy"], name: value})
            except (ConfigError, FileNotFoundError) as err:
                raise SweepError(f"{where}: space {name}: {err}") from err
    if sweep["sampler"] == "grid":
        if not all(isinstance(spec, list) for spec in sweep["space"].values()):
            raise SweepError(f"{where}: the grid sampler needs a list of choices for every option")
        combinations = len(list(itertools.product(*sweep["space"].values())))
        if sweep["trials"] != combinations:
            raise SweepError(f"{where}: a grid of {combinations} combinations needs trials: {combinations}, "
                             f"got {sweep['trials']}")
    return sweep


def space_values(name: str, spec, where: str) -> list:
    """The values of one search-space entry that the configuration check tries: every choice, or both bounds."""
    if isinstance(spec, list) and spec:
        return spec
    if isinstance(spec, dict) and {"low", "high"} <= set(spec) <= {"low", "high", "log"}:
        low, high = spec["low"], spec["high"]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)) or low >= high:
            raise SweepError(f"{where}: space {name}: low and high must be numbers with low < high, got {spec}")
        if spec.get("log") and low <= 0:
            raise SweepError(f"{where}: space {name}: a log range needs low > 0, got {low}")
        return [low, high]
    raise SweepError(f"{where}: space {name} must be a non-empty list of choices or {{low, high, log}}; got {spec!r}")


def suggest(trial: optuna.Trial, space: dict) -> dict:
    """The trial's options from the search space."""
    params = {}
    for name, spec in space.items():
        if isinstance(spec, list):
            params[name] = trial.suggest_categorical(name, spec)
        elif all(isinstance(spec[k], int) for k in ("low", "high")):
            params[name] = trial.suggest_int(name, spec["low"], spec["high"], log=spec.get("log", False))
        else:
            params[name] = trial.suggest_float(name, spec["low"], spec["high"], log=spec.get("log", False))
    return params


def journal_path(url: str | None, name: str, runs_dir: Path) -> Path:
    """The journal file that ``journal:<path>`` names, or runs/sweeps/<name>.journal without a URL."""
    return Path(url.removeprefix("journal:").removeprefix("//")) if url else runs_dir / f"{name}.journal"


def storage_for(url: str | None, name: str, runs_dir: Path):
    """The study's storage: ``journal:<path>`` (or nothing: runs/sweeps/<name>.journal) is Optuna's journal file;
    any other URL (sqlite:///..., postgresql://..., mysql://...) is a database that workers on many machines share."""
    if url and not url.startswith("journal:"):
        return url
    path = journal_path(url, name, runs_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))


def move_aside(name: str, url: str | None, runs_dir: Path) -> None:
    """Move a study's journal file and its trial runs to names stamped with the time, so that the study starts again
    and nothing earlier is lost."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    journal = journal_path(url, name, runs_dir)
    for path in (journal, runs_dir / name):
        if path.exists():
            path.rename(path.with_name(f"{path.stem}-{stamp}{path.suffix}"))
            print(f"moved {path} aside to {path.with_name(f'{path.stem}-{stamp}{path.suffix}')}")


def make_study(sweep: dict, storage) -> optuna.Study:
    if sweep["sampler"] == "grid":
        # The grid sampler gives trial n the n-th combination, so workers never run one twice.
        sampler = optuna.samplers.GridSampler(sweep["space"])
    else:
        sampler = optuna.samplers.TPESampler(constant_liar=True)  # avoids points that other workers are running
    pruner = (optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=2) if sweep["pruner"] == "median"
              else optuna.pruners.NopPruner())
    return optuna.create_study(study_name=sweep["name"], storage=storage, sampler=sampler, pruner=pruner,
                               direction="maximize", load_if_exists=True)


def run_worker(sweep: dict, storage, runs_dir: Path, arrays=None) -> optuna.Study:
    """Run trials until the study holds its number of trials (counting those other workers are running)."""
    from .train import train

    study = make_study(sweep, storage)
    if arrays is None:
        arrays = load_arrays(training_config(sweep["profile"], sweep["proxy"]).data_dir or None, verbose=False)

    def objective(trial: optuna.Trial) -> float:
        if trial.number >= sweep["trials"]:  # another worker took the last trial while this one was asking
            trial.study.stop()
            raise optuna.TrialPruned("the study already holds its trials")
        params = suggest(trial, sweep["space"])
        print(f"trial {trial.number}: {params}", flush=True)

        history = []

        def record() -> None:
            """The trial's scores so far (its best epoch), epochs and minutes, kept with the trial."""
            best = max(history, key=lambda h: h[sweep["objective"]])
            trial.set_user_attr("epochs", len(history))
            trial.set_user_attr("minutes", round(sum(h["seconds"] for h in history) / 60, 2))
            for key in ("val_acc", "val_macro_f1"):
                trial.set_user_attr(key, round(best[key], 4))
            trial.set_user_attr("val_recall", best["val_recall"])

        def report(entry: dict) -> None:
            history.append(entry)
            trial.report(entry[sweep["objective"]], entry["epoch"])
            if trial.should_prune():
                record()
                raise optuna.TrialPruned(f"epoch {entry['epoch']}: {entry[sweep['objective']]:.4f}")

        trial_dir = runs_dir / sweep["name"] / f"trial-{trial.number}"
        result = train(sweep["profile"], {**sweep["proxy"], **params}, trial_dir, arrays=arrays, progress=False,
                       on_epoch=report)
        if not history:  # the run had finished before: a worker stopped between training and telling Optuna
            history.extend(result["history"])
        record()
        return max(h[sweep["objective"]] for h in history)

    def enough(study: optuna.Study, _trial) -> None:
        if len(study.get_trials(deepcopy=False)) >= sweep["trials"]:
            study.stop()

    if len(study.get_trials(deepcopy=False)) < sweep["trials"]:
        study.optimize(objective, callbacks=[enough], catch=())
    return study


def results(study: optuna.Study, sweep: dict) -> tuple[list[dict], dict]:
    """The finished trials, one row each, and the sweep's provenance."""
    rows = []
    for trial in study.get_trials(states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)):
        if trial.number >= sweep["trials"]:
            continue
        row = {"trial": trial.number, "state": trial.state.name.lower(), **trial.params,
               **{k: v for k, v in trial.user_attrs.items() if k != "val_recall"}}
        if "val_recall" in trial.user_attrs:
            row.update({f"recall_{name}": r for name, r in zip(EMOTIONS, trial.user_attrs["val_recall"])})
        if trial.state.name == "PRUNED":
            row["pruned_at_epoch"] = trial.last_step
        rows.append(row)
    provenance = {"sweep": dict(sweep), "git_commit": git_commit(), **versions(),
                  "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "n_trials": len(rows)}
    return rows, provenance


def write_results(study: optuna.Study, sweep: dict, out_dir: Path) -> Path:
    """models/sweeps/<name>.csv (one row per trial) and <name>.json (the rows and their provenance)."""
    import pandas as pd

    rows, provenance = results(study, sweep)
    out_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).sort_values("trial").to_csv(out_dir / f"{sweep['name']}.csv", index=False)
    (out_dir / f"{sweep['name']}.json").write_text(json.dumps({**provenance, "trials": rows}, indent=1))
    return out_dir / f"{sweep['name']}.csv"


def load_results(name: str, folder: Path = MODELS_DIR / "sweeps"):
    """A finished sweep's trials (pandas DataFrame, provenance in ``.attrs``), or None where it has not been run."""
    import pandas as pd

    path = Path(folder) / f"{name}.json"
    if not path.exists():
        return None
    saved = json.loads(path.read_text())
    trials = pd.DataFrame(saved.pop("trials"))
    trials.attrs.update(saved)
    return trials


def balance_recalls(trials) -> dict:
    """Validation recall per class of each class-balance trial: {"balance=<mode>": {emotion: recall}}."""
    return {f"balance={row['balance']}": {name: row[f"recall_{name}"] for name in EMOTIONS}
            for _, row in trials.iterrows()}


def balance_comparison(trials, val_labels, val_predicted) -> tuple[dict, dict]:
    """Validation recall per class of each balance mode and of the shipped model (given its validation predictions),
    and the shipped model's validation accuracy and macro F1 (for ``findings.balance_findings``)."""
    shipped = report(val_labels, val_predicted)
    return ({**balance_recalls(trials), "shipped model": recalls(shipped)},
            {"acc": shipped["accuracy"], "macro_f1": shipped["macro_f1"]})


def balance_table(trials):
    """One row per balance mode: accuracy, macro F1 and recall per class on validation, epochs and minutes."""
    columns = ["val_acc", "val_macro_f1", *(f"recall_{name}" for name in EMOTIONS), "epochs", "minutes"]
    order = [mode for mode in trials.attrs["sweep"]["space"]["balance"] if mode in set(trials["balance"])]
    return trials.set_index("balance").loc[order, columns].round(4)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweep", help="a sweep file, e.g. configs/sweeps/balance.yaml")
    parser.add_argument("--storage", help="journal:<file>, sqlite:///<file>, postgresql://... or mysql://... "
                                          "(default: the journal file runs/sweeps/<name>.journal)")
    parser.add_argument("--runs-dir", type=Path, default=RUNS_DIR / "sweeps")
    parser.add_argument("--results-dir", type=Path, default=MODELS_DIR / "sweeps",
                        help="where the finished study's CSV and JSON go")
    parser.add_argument("--fresh", action="store_true",
                        help="start the study again: move its journal file and trial runs aside (nothing is deleted)")
    args = parser.parse_args(argv)
    try:
        sweep = load_sweep(args.sweep)
    except SweepError as err:
        parser.error(str(err))
    if args.fresh:
        if args.storage and not args.storage.startswith("journal:"):
            parser.error("--fresh moves a journal file aside; for a database, choose a new study name instead")
        move_aside(sweep["name"], args.storage, args.runs_dir)
    study = run_worker(sweep, storage_for(args.storage, sweep["name"], args.runs_dir), args.runs_dir)
    running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    if running:
        print(f"{len(running)} trials still run in other workers; the last worker to finish writes the results")
        return 0
    print(f"results: {write_results(study, sweep, args.results_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
