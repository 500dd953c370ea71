"""Each face detector on the real photos of ../shared/devfaces (faces counted by eye; its README says how): faces
found against the counted faces, boxes beyond the count, and milliseconds per photo.

Only the photos whose count is exact are scored. There are no boxes to match against, so a photo's found faces are
its boxes capped at its count, and the boxes beyond the count are at least that many false faces (a detector can
also miss one face and box a false one: the per-photo counts in the JSON show where to look). Each photo is searched
as the recogniser searches a photo (``detectors.search``: also enlarged twice, for its small faces), and at its own
size only (``, own size``), one thread, best of ``--rounds`` alternating rounds for the time.

    python benchmarks/devfaces_detectors.py [--rounds 2] [--write]
"""

import argparse
import json
import time

import cv2
import torch
from devfaces import devfaces

from fer_utils.paths import MODELS_DIR, devfaces_dir
from fer_utils.provenance import cpu_description
from fer_utils.realtime.detectors import DETECTORS, make_detector, search

WRITTEN = MODELS_DIR / "devfaces-detectors.json"


def as_searched(name: str):
    """The detector called ``name`` as the recogniser searches a photo with it (enlarged twice), or, for
    ``<name>, own size``, at the photo's size only."""
    detector = make_detector(name.removesuffix(", own size"))
    upscale = 1 if name.endswith(", own size") else 2
    return lambda image: search(detector, image, upscale)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--detectors", nargs="+", default=[*DETECTORS, *(f"{name}, own size" for name in DETECTORS)])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--write", action="store_true", help=f"store the JSON in {WRITTEN}")
    args = parser.parse_args()
    photos = [f for f in devfaces("image") if f.exact]
    if not photos:
        raise SystemExit(f"no devfaces photos at {devfaces_dir()} (set FER_DEVFACES to the folder): nothing to measure")
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    detectors = {}
    for name in args.detectors:
        detectors[name] = as_searched(name)
    images = [cv2.imread(str(photo.path)) for photo in photos]
    seconds = {name: [float("inf")] * len(photos) for name in detectors}
    boxes = {name: [0] * len(photos) for name in detectors}
    for round_ in range(args.rounds):
        for name in (list(detectors) if round_ % 2 == 0 else list(detectors)[::-1]):
            for i, image in enumerate(images):
                started = time.perf_counter()
                found = detectors[name](image)
                seconds[name][i] = min(seconds[name][i], time.perf_counter() - started)
                boxes[name][i] = len(found)
            print(f"round {round_ + 1}: {name} {1000 * sum(seconds[name]) / len(photos):.0f} ms per photo", flush=True)
    counted = sum(photo.faces for photo in photos)
    results = {}
    for name in detectors:
        found = sum(min(n, photo.faces) for n, photo in zip(boxes[name], photos))
        beyond = sum(max(0, n - photo.faces) for n, photo in zip(boxes[name], photos))
        results[name] = {"found": round(found / counted, 4), "boxes_beyond_count": beyond,
                         "beyond_per_photo": round(beyond / len(photos), 3),
                         "ms_per_photo": round(1000 * sum(seconds[name]) / len(photos), 1),
                         "boxes": dict(zip((p.path.name for p in photos), boxes[name]))}
        print(f"{name}: found {found} of {counted} counted faces ({found / counted:.1%}), {beyond} boxes beyond "
              f"the counts, {results[name]['ms_per_photo']} ms per photo")
    summary = {"machine": cpu_description(), "threads": 1, "photos": len(photos), "faces_counted": counted,
               "rounds": args.rounds, "detectors": results}
    if args.write:
        WRITTEN.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
