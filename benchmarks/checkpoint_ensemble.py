"""Do several trained checkpoints, averaged, beat the best of them? Scores each checkpoint and the mean of their
probabilities on the validation split (the one the checkpoints were trained without) and on the 7,178 test images,
with one view and with ten crops. Prints a table, then a final line of JSON.

    python benchmarks/checkpoint_ensemble.py shipped=models/fer2013-resnet18.pt cpu=runs/cpu/best.pt
"""

import argparse
import json

from fer_utils import load_classifier
from fer_utils.data import load_arrays, train_val_indices


def validation_split(classifiers: list) -> tuple[float, int]:
    """The validation fraction and seed that every checkpoint was trained with (an error if they differ)."""
    splits = {(c.config["val_fraction"], c.config["seed"]) for c in classifiers}
    if len(splits) != 1:
        raise SystemExit(f"the checkpoints were validated on different splits (val_fraction, seed): {sorted(splits)}")
    return splits.pop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+", metavar="NAME=PATH")
    parser.add_argument("--views", nargs="+", default=["none", "ten-crop"])
    parser.add_argument("--limit", type=int, default=0, help="score only the first N images of each split (a dry run)")
    args = parser.parse_args()
    named = dict(pair.split("=", 1) for pair in args.checkpoints)
    classifiers = {name: load_classifier(path) for name, path in named.items()}
    val_fraction, seed = validation_split(list(classifiers.values()))
    arrays = load_arrays(verbose=False)
    train = arrays.split("train")
    _, val_index = train_val_indices(train.labels, val_fraction, seed)
    limit = args.limit or None
    splits = {"val": train.subset(val_index[:limit]), "test": arrays.split("test").subset(slice(limit))}
    rows = {}
    for views in args.views:
        summed = {split: 0.0 for split in splits}
        for name, classifier in classifiers.items():
            for split, faces in splits.items():
                proba = classifier.predict_proba(faces.images, tta=views)
                summed[split] = summed[split] + proba
                rows.setdefault(f"{name} {views}", {})[split] = float((proba.argmax(1) == faces.labels).mean())
            print(f"{name:>12} {views:>8}: " + "  ".join(f"{s} {rows[f'{name} {views}'][s]:.2%}" for s in splits),
                  flush=True)
        rows[f"mean {views}"] = {s: float((summed[s].argmax(1) == f.labels).mean()) for s, f in splits.items()}
        print(f"{'mean':>12} {views:>8}: " + "  ".join(f"{s} {rows[f'mean {views}'][s]:.2%}" for s in splits))
    print(json.dumps({"benchmark": "checkpoint_ensemble", "checkpoints": named,
                      "images": {s: len(f.labels) for s, f in splits.items()}, "accuracy": rows}))


if __name__ == "__main__":
    main()
