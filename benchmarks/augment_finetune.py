"""Would a little more training augmentation of scale and shift close the gap between the labels of the faces the demo
finds and those of the same faces' dataset crops, better than the crops do? Fine-tunes the shipped model twice, for
the same epochs on the same split from the same seed: once with the recipe's augmentation (the control) and once
with more zoom and shift. Scores each, and the shipped model as it is, in fp32 with one view:

- test accuracy on the dataset's own crops;
- on the synthetic scenes of benchmarks/realtime_fps.py (tracking on, the default detector, every face's label
  known): the label accuracy of the faces found beside that of the same faces' dataset crops.

The fine-tuned models stay in runs/ and are not shipped (the shipped model is the reproducibility issue's). The last
line is JSON; --write stores it in models/augment-finetune.json.

    python benchmarks/augment_finetune.py [--epochs 2] [--translate 0.2] [--scale 0.25] [--frames 60] [--write]
"""

import argparse
import json
import time

from realtime_fps import SCENES, run, score

from fer_utils.data.fer2013 import load_arrays
from fer_utils.model.classifier import SingleView, load_classifier
from fer_utils.paths import MODELS_DIR, RUNS_DIR, SHIPPED_CHECKPOINT
from fer_utils.provenance import cpu_description
from fer_utils.realtime import EmotionRecognizer
from fer_utils.realtime.footage import make_clip
from fer_utils.realtime.recognizer import DEFAULT_DETECTOR
from fer_utils.training.config import training_config
from fer_utils.training.train import train

WRITTEN = MODELS_DIR / "augment-finetune.json"


def scored(checkpoint, clips, test) -> dict:
    """Test accuracy (dataset crops, one view) and, on the scenes, the label accuracy of the faces found beside
    their dataset crops'."""
    classifier = SingleView(load_classifier(checkpoint, "cpu"))
    correct = classifier.predict_proba(test.images).argmax(1) == test.labels
    outputs = [run(lambda: EmotionRecognizer(classifier, mode="track"), clip)[1] for clip in clips]
    found = score(clips, outputs, correct)
    return {"checkpoint": str(checkpoint), "test_accuracy": round(float(correct.mean()), 4),
            **{key: round(found[key], 4) for key in ("label_accuracy_found", "label_accuracy_dataset_crops",
                                                     "recall_ge48", "recall_30_48")},
            "gap_points": round(100 * (found["label_accuracy_dataset_crops"] - found["label_accuracy_found"]), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2, help="epochs of each fine-tuning")
    parser.add_argument("--lr", type=float, default=0.01, help="peak learning rate of the fine-tuning's one cycle")
    parser.add_argument("--translate", type=float, default=0.2, help="shift, a fraction of the side (recipe: 0.1)")
    parser.add_argument("--scale", type=float, default=0.25, help="zoom, +- fraction (recipe: 0.1)")
    parser.add_argument("--frames", type=int, default=60, help="frames of each synthetic scene")
    parser.add_argument("--write", action="store_true", help=f"store the JSON in {WRITTEN}")
    args = parser.parse_args()
    recipe = training_config("cpu")
    arms = {"control": {}, "more zoom and shift": {"translate": args.translate, "scale": args.scale}}
    test = load_arrays(verbose=False).split("test")
    clips = [make_clip(test.images, test.labels, size, count, args.frames, seed=i)
             for i, (size, count) in enumerate(SCENES)]
    rows = {"shipped": scored(SHIPPED_CHECKPOINT, clips, test)}
    print(f"shipped: {rows['shipped']}", flush=True)
    for name, changes in arms.items():
        started = time.perf_counter()
        result = train("cpu", {"init": str(SHIPPED_CHECKPOINT), "epochs": args.epochs, "lr": args.lr, "tta": "none",
                               **changes}, RUNS_DIR / "augment-finetune" / name.replace(" ", "-"))
        rows[name] = {"translate": changes.get("translate", recipe.translate),
                      "scale": changes.get("scale", recipe.scale), "val_accuracy": round(result["best_val_acc"], 4),
                      "minutes": round((time.perf_counter() - started) / 60, 1),
                      "train_minutes": round(result["wall_s"] / 60, 1),
                      **scored(result["best_checkpoint"], clips, test)}
        print(f"{name}: {rows[name]}", flush=True)
    summary = {"benchmark": "augment_finetune", "machine": cpu_description(), "epochs": args.epochs, "lr": args.lr,
               "frames_per_scene": args.frames, "scenes": len(clips), "classifier": "fp32, one view",
               "detector": DEFAULT_DETECTOR, "rows": rows,
               "gap_closed_points": round(rows["control"]["gap_points"] - rows["more zoom and shift"]["gap_points"],
                                          2)}
    if args.write:
        WRITTEN.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
