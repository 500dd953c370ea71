"""Where FER2013's faces have their landmarks: a landmark detector on training faces (upscaled, since detectors do
not look for 48-px faces), the median of each landmark in 48x48 coordinates, written for ``align``.

    python -m fer_utils.realtime.calibrate [--images 2000] [--detector mtcnn]
"""

import argparse
import json

import cv2
import numpy as np

from ..data import load_arrays
from ..provenance import git_commit
from .align import LANDMARKS_FILE
from .detectors import LANDMARKS, make_detector


def landmarks_of(faces: np.ndarray, detector, upscale: int = 3) -> np.ndarray:
    """The landmarks (M,5,2), in the faces' own pixel coordinates, of the faces where ``detector`` finds one."""
    found = []
    for face in faces:
        big = cv2.resize(face, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_CUBIC)
        detected = detector(big)
        if len(detected) and detected.landmarks is not None:
            largest = np.argmax(detected.boxes[:, 2] * detected.boxes[:, 3])
            found.append(detected.landmarks[largest] / upscale)
    return np.array(found).reshape(-1, 5, 2)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2000, help="training faces to measure (a seeded sample)")
    parser.add_argument("--detector", default="mtcnn", help="a detector with landmarks")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    train = load_arrays().split("train")
    sample = np.random.default_rng(args.seed).permutation(len(train))[:args.images]
    landmarks = landmarks_of(train.images[sample], make_detector(args.detector))
    if not len(landmarks):
        raise SystemExit(f"{args.detector} found no face with landmarks in {len(sample)} training faces")
    median = np.median(landmarks, axis=0)
    record = {"landmarks": np.round(median, 2).tolist(), "spread": np.round(landmarks.std(0), 2).tolist(),
              "order": list(LANDMARKS), "detector": args.detector,
              "faces_measured": len(sample), "faces_found": len(landmarks), "data_hash": train.data_hash,
              "git_commit": git_commit()}
    LANDMARKS_FILE.write_text(json.dumps(record, indent=2) + "\n")
    print(f"{args.detector} found {len(landmarks)} of {len(sample)} faces; median eyes at "
          f"{median[0].round(1).tolist()} and {median[1].round(1).tolist()} of 48x48; wrote {LANDMARKS_FILE}")


if __name__ == "__main__":
    main()
