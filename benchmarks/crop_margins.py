"""Which crop of a detector's box the classifier reads best: label accuracy of the faces a detector finds in synthetic
scenes (fer_utils.realtime.footage: FER2013 test faces over textured backgrounds, so every face's label and dataset
crop are known), cut by each margin of a grid, beside the classifier's accuracy on the same faces' dataset crops.

Margins are fractions of the box (sides, top, bottom), as ``crop_face`` takes them; negative ones shrink it. Each
frame is detected on its own (no tracking), and a face counts as found where a box overlaps it with IoU >= 0.3. The
margins are chosen on the faces of even test index and every accuracy reported is on the faces of odd index, so
that the choice among the grid does not flatter its own score. libfacedetection's chosen margins are the demo's
crop (fer_utils.realtime.crops.CROP_MARGINS).

    python benchmarks/crop_margins.py [--detectors libfacedetection haar] [--frames 60] [--write]
"""

import argparse
import itertools
import json

import cv2
import numpy as np

from fer_utils.data.fer2013 import load_arrays
from fer_utils.model.classifier import SingleView, fast_classifier, load_classifier
from fer_utils.paths import MODELS_DIR
from fer_utils.realtime import iou
from fer_utils.realtime.crops import crop_face
from fer_utils.realtime.detectors import DETECTORS, make_detector
from fer_utils.realtime.footage import make_clip

WRITTEN = MODELS_DIR / "crop-margins.json"
SCENES = [((640, 480), 1), ((640, 480), 2), ((640, 480), 3), ((640, 480), 4), ((1280, 720), 3), ((1280, 720), 4),
          ((1280, 720), 6)]
SIDES, TOPS, BOTTOMS = (0.0, 0.05, 0.1), (-0.1, -0.05, 0.0), (-0.05, 0.0, 0.05)
SWITCH_EVERY = 5  # frames between face changes: many distinct faces, each seen in a few frames


def found_faces(detector, clips) -> list[tuple]:
    """(gray frame, box, true face) for each true face a box overlaps with IoU >= 0.3."""
    found = []
    for clip in clips:
        for frame, truth in zip(clip.frames, clip.truth):
            gray, faces = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), detector(frame)
            for face in truth:
                overlaps = [iou(face["box"], box) for box in faces.boxes]
                if overlaps and max(overlaps) >= 0.3:
                    found.append((gray, faces.boxes[int(np.argmax(overlaps))], face))
    return found


def accuracy(classifier, crops, labels, among) -> float:
    """The share of the faces ``among`` selects whose crop the classifier labels right."""
    chosen = np.stack([crop for crop, keep in zip(crops, among) if keep])
    return round(float((classifier.predict_proba(chosen).argmax(1) == labels[among]).mean()), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--detectors", nargs="+", default=list(DETECTORS))
    parser.add_argument("--frames", type=int, default=60, help="frames per scene")
    parser.add_argument("--write", action="store_true", help=f"store the JSON in {WRITTEN}")
    args = parser.parse_args()
    classifier = load_classifier(device="cpu")
    fast = fast_classifier(classifier, precision="fp32")
    test = load_arrays(verbose=False).split("test")
    clips = [make_clip(test.images, test.labels, size, count, args.frames, switch_every=SWITCH_EVERY, seed=50 + i)
             for i, (size, count) in enumerate(SCENES)]  # other seeds than benchmarks/realtime_fps.py's scenes
    results = {}
    for name in args.detectors:
        found = found_faces(make_detector(name), clips)
        chosen_on = np.array([face["index"] % 2 == 0 for *_, face in found])
        labels = np.array([face["label"] for *_, face in found])
        dataset = SingleView(classifier).predict_proba(test.images[[face["index"] for *_, face in found]])

        grid = {}
        for margins in itertools.product(SIDES, TOPS, BOTTOMS):
            crops = [crop_face(gray, box, margins) for gray, box, _ in found]
            grid[margins] = accuracy(fast, crops, labels, chosen_on), accuracy(fast, crops, labels, ~chosen_on)
        best = max(grid, key=lambda margins: grid[margins][0])
        results[name] = {"faces_found": len(found), "distinct_faces": len({face["index"] for *_, face in found}),
                         "faces_held_out": int((~chosen_on).sum()),
                         "label_accuracy_dataset_crops":
                             round(float((dataset.argmax(1) == labels)[~chosen_on].mean()), 4),
                         "best_margins": best, "label_accuracy_best_margins": grid[best][1],
                         "label_accuracy_no_margins": grid[(0.0, 0.0, 0.0)][1],
                         "grid": {",".join(map(str, m)): a for m, a in grid.items()}}
        print(name, {k: v for k, v in results[name].items() if k != "grid"}, flush=True)
    summary = {"scenes": [f"{w}x{h} with {n} face(s)" for (w, h), n in SCENES], "frames_per_scene": args.frames,
               "switch_every": SWITCH_EVERY, "chosen_on": "faces of even test index", "reported_on": "odd index",
               "classifier": repr(fast), "detectors": results}
    if args.write:
        WRITTEN.write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps({name: {k: v for k, v in r.items() if k != "grid"} for name, r in results.items()}))


if __name__ == "__main__":
    main()
