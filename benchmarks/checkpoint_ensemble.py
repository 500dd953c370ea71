"""Do several trained checkpoints, averaged, beat the best of them? Scores each checkpoint and the mean of their
probabilities on the validation split (the one the checkpoints were trained without) and on the 7,178 test images,
with one view and with ten crops. Prints a table, then a final line of JSON.

    python benchmarks/checkpoint_ensemble.py shipped=models/fer2013-resnet18.pt cpu=runs/cpu/best.pt
"""

import argparse
import json

import numpy as np

from fer_utils import load_classifier
from fer_utils.data.fer2013 import FERArrays, load_arrays
from fer_utils.data.splits import training_split
from fer_utils.scores import accuracy


def validation_split(arrays: FERArrays, classifiers: list) -> FERArrays:
    """The validation images that every checkpoint was selected on (an error if they differ)."""
    splits = [training_split(arrays, c.config) for c in classifiers]
    if any(not np.array_equal(s.val.names, splits[0].val.names) for s in splits[1:]):
        raise SystemExit("the checkpoints were validated on different splits (val_fraction, seed, max_per_class)")
    return splits[0].val


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+", metavar="NAME=PATH")
    parser.add_argument("--views", nargs="+", default=["none", "ten-crop"])
    parser.add_argument("--limit", type=int, default=0, help="score only the first N images of each split (a dry run)")
    args = parser.parse_args()
    named = dict(pair.split("=", 1) for pair in args.checkpoints)
    classifiers = {name: load_classifier(path) for name, path in named.items()}
    arrays = load_arrays(verbose=False)
    limit = args.limit or None
    splits = {"val": validation_split(arrays, list(classifiers.values())).subset(slice(limit)),
              "test": arrays.split("test").subset(slice(limit))}
    rows = {}
    for views in args.views:
        summed = {split: 0.0 for split in splits}
        for name, classifier in classifiers.items():
            for split, faces in splits.items():
                proba = classifier.predict_proba(faces.images, tta=views)
                summed[split] = summed[split] + proba
                rows.setdefault(f"{name} {views}", {})[split] = accuracy(proba, faces.labels)
            print(f"{name:>12} {views:>8}: " + "  ".join(f"{s} {rows[f'{name} {views}'][s]:.2%}" for s in splits),
                  flush=True)
        rows[f"mean {views}"] = {s: accuracy(summed[s], f.labels) for s, f in splits.items()}
        print(f"{'mean':>12} {views:>8}: " + "  ".join(f"{s} {rows[f'mean {views}'][s]:.2%}" for s in splits))
    print(json.dumps({"benchmark": "checkpoint_ensemble", "checkpoints": named,
                      "images": {s: len(f.labels) for s, f in splits.items()}, "accuracy": rows}))


if __name__ == "__main__":
    main()
