"""Text made from numbers: the written findings of the error analysis and of the sweeps, for notebook 04. Every
figure in them comes from the results they are given."""

from ..labels import EMOTIONS
from ..training.config import training_config


def error_analysis(accuracy: float, calibration: dict, curves: dict, recall: dict, support: dict,
                   confusions: list[tuple[int, int, int]]) -> str:
    """A short written summary of the error analysis, from this run's numbers."""
    worst = min(recall, key=recall.get)
    best = max(recall, key=recall.get)
    drops = {name: accuracy - min(acc) for name, (_, acc) in curves.items()}
    fragile = sorted(drops, key=drops.get, reverse=True)[:3]
    sturdy = min(drops, key=drops.get)
    pairs = ", ".join(f"{EMOTIONS[t]} taken for {EMOTIONS[p]} ({n})" for t, p, n in confusions[:3])
    direction = "over-confident" if calibration["temperature"] > 1 else "under-confident"
    return "\n".join([
        f"- **Accuracy** on these test images without test-time augmentation is {accuracy:.1%}.",
        f"- **Most frequent confusions**: {pairs}.",
        f"- **Classes**: *{best}* is recognised best (recall {recall[best]:.2f}, {support[best]:,} training faces) "
        f"and *{worst}* worst (recall {recall[worst]:.2f}, {support[worst]:,} training faces).",
        f"- **Calibration**: the raw model is {direction} (fitted temperature {calibration['temperature']:.2f}); "
        f"temperature scaling fitted on validation moves the test ECE from {calibration['ece_raw']:.3f} to "
        f"{calibration['ece_scaled']:.3f} and the test NLL from {calibration['nll_raw']:.3f} to "
        f"{calibration['nll_scaled']:.3f}.",
        "- **Robustness**: the largest drops in accuracy over the tested ranges come from "
        + ", ".join(f"{name} ({drops[name]:.1%})" for name in fragile)
        + f"; {sturdy} matters least ({drops[sturdy]:.1%}).",
    ])


def balance_findings(trials, shipped: dict) -> str:
    """What the class-balance sweep shows, from its numbers: the mode with the best validation macro F1, and what it
    does to accuracy and to the rarest and weakest classes (``shipped``: the shipped model's validation scores)."""
    table = trials.set_index("balance")
    best, none = table["val_macro_f1"].idxmax(), table.loc["none"]
    gains = {name: table.loc[best, f"recall_{name}"] - none[f"recall_{name}"] for name in EMOTIONS}
    up, down = max(gains, key=gains.get), min(gains, key=gains.get)
    budget = trials.attrs["sweep"]["proxy"].get("minutes") or table["minutes"].max()
    text = (f"On the same budget ({budget:g} min of training each), **balance={best}** gives the best validation "
            f"macro F1: {table.loc[best, 'val_macro_f1']:.3f}, against {none['val_macro_f1']:.3f} without balancing "
            f"(accuracy {table.loc[best, 'val_acc']:.2%} against {none['val_acc']:.2%}). ")
    if best != "none":
        text += (f"It raises recall most for {up} ({none[f'recall_{up}']:.2f} → {table.loc[best, f'recall_{up}']:.2f})"
                 f" and {'lowers it most' if gains[down] < 0 else 'least'} for {down} ({gains[down]:+.2f}). ")
    text += (f"The shipped model, trained for longer, scores {shipped['macro_f1']:.3f} macro F1 and "
             f"{shipped['acc']:.2%} accuracy on the same validation split. ")
    cost = none["val_acc"] - table.loc[best, "val_acc"]
    if best == "none":
        text += "Balancing does not pay here, so the profiles keep balance=none."
    elif cost > 0.005:
        text += (f"balance={best} buys its macro F1 with {100 * cost:.1f} points of accuracy, so the profiles, "
                 f"which aim at accuracy, keep balance=none; where the rare classes matter more than accuracy, train "
                 f"with balance={best}.")
    else:
        text += f"balance={best} raises macro F1 without costing accuracy, so it is worth a full-length run."
    return text


def shown(value) -> str:
    return f"{value:.3g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def recipe_findings(trials) -> str:
    """What the recipe sweep shows: the best trial's options against those of the profile it swept, and the spread of
    the trials."""
    profile = trials.attrs["sweep"]["profile"]
    done = trials[trials["state"] == "complete"].sort_values("val_acc", ascending=False)
    best, params = done.iloc[0], list(trials.attrs["sweep"]["space"])
    defaults = training_config(profile, trials.attrs["sweep"]["proxy"]).as_dict()
    changes = ", ".join(f"{p} {shown(defaults[p])} → {shown(best[p])}" for p in params)
    return (f"{len(done)} of {len(trials)} trials ran to the end ({len(trials) - len(done)} pruned). The best reached "
            f"{best['val_acc']:.2%} validation accuracy on the proxy budget (median of the finished trials "
            f"{done['val_acc'].median():.2%}, worst {done['val_acc'].min():.2%}), with {changes} against the "
            f"{profile} profile. A proxy of {defaults['minutes'] or best['minutes']:g} minutes ranks recipes for "
            "short training; a full-length run decides whether a change carries over.")
