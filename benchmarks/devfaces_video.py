"""End-to-end frames per second on the real videos of ../shared/devfaces, scaled to 640 px wide, with where the time
goes: decode (read and scale), gray, follow (faces followed near their boxes), detect (whole-frame searches),
classify (crops, the classifier and smoothing) and draw, in milliseconds per frame.

Loops, in alternating rounds over the same frames: the original study's (benchmarks/realtime_fps.py's
``OriginalLoop``: the frontal cascade on every full frame, one PyTorch call per face), ours as a camera runs it
(``EmotionRecognizer.for_camera``) and as a video file does (``EmotionRecognizer``: whole-frame searches also enlarged
twice where no face or a small one is held), and ours with the Haar cascade. The single-person clips are the 720p
head turn and the 512x512 head.

    python benchmarks/devfaces_video.py [--rounds 2] [--frames 150] [--write]
"""

import argparse
import json
import time

import cv2
import numpy as np
from devfaces import devfaces
from realtime_fps import CAMERA_LOOP, VIDEO_FILE_LOOP, OriginalLoop

from fer_utils.model.classifier import SingleView, fast_classifier, load_classifier
from fer_utils.model.engines import TorchForward
from fer_utils.paths import MODELS_DIR, devfaces_dir
from fer_utils.provenance import cpu_description
from fer_utils.realtime import EmotionRecognizer, draw
from fer_utils.realtime.recognizer import STAGES

WIDTH = 640
WRITTEN = MODELS_DIR / "devfaces-video.json"


def frames_of(path, limit: int):
    """Decoded frames scaled to WIDTH wide, each with the seconds its decoding and scaling took."""
    capture = cv2.VideoCapture(str(path))
    for _ in range(limit):
        started = time.perf_counter()
        ok, frame = capture.read()
        if not ok:
            break
        frame = cv2.resize(frame, (WIDTH, round(frame.shape[0] * WIDTH / frame.shape[1])), interpolation=cv2.INTER_AREA)
        yield frame, time.perf_counter() - started
    capture.release()


def run(make_loop, path, limit: int) -> dict:
    """One pass of a fresh loop over a video: frames per second, milliseconds per frame by stage, and the time of
    the slowest frames (the 95th percentile: a whole-frame search in the loop makes one frame in ``search_every``
    slow, which a live view shows as a stall)."""
    loop = make_loop()
    stages = {"decode": 0.0, "recognise": 0.0, "draw": 0.0}
    frames = faces = 0
    took, counts = [], []
    started = time.perf_counter()
    for frame, decoding in frames_of(path, limit):
        stages["decode"] += decoding
        begun = time.perf_counter()
        results = loop(frame)
        drawn = time.perf_counter()
        draw(frame, results)
        stages["recognise"] += drawn - begun
        stages["draw"] += time.perf_counter() - drawn
        took.append(time.perf_counter() - begun + decoding)
        frames, faces = frames + 1, faces + len(results)
        counts.append(len(results))
    wall = time.perf_counter() - started
    inside = getattr(loop, "stage_seconds", None)
    if inside:  # our recogniser says where its own time went
        stages.pop("recognise")
        stages.update(inside)
    return {"frames": frames, "fps": round(frames / wall, 1), "faces_per_frame": round(faces / max(frames, 1), 2),
            "faces_in_each_frame": counts,
            "ms_p95": round(1000 * float(np.percentile(took, 95)), 1) if took else None,
            "ms_per_frame": {stage: round(1000 * seconds / max(frames, 1), 2) for stage, seconds in stages.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--frames", type=int, default=150, help="frames of each video")
    parser.add_argument("--write", action="store_true", help=f"store the JSON in {WRITTEN}")
    args = parser.parse_args()
    videos = devfaces("video")
    if not videos:
        raise SystemExit(f"no devfaces videos at {devfaces_dir()} (set FER_DEVFACES to the folder): nothing to measure")
    classifier = load_classifier(device="cpu")
    realtime = fast_classifier(classifier)
    loops = {"original": lambda: OriginalLoop(SingleView(classifier, TorchForward(classifier.model))),
             CAMERA_LOOP: lambda: EmotionRecognizer.for_camera(realtime),
             VIDEO_FILE_LOOP: lambda: EmotionRecognizer(realtime),
             "ours, haar": lambda: EmotionRecognizer.for_camera(realtime, detector="haar")}
    best = {}
    for round_ in range(args.rounds):
        for loop in (list(loops) if round_ % 2 == 0 else list(loops)[::-1]):
            for video in videos:
                result = run(loops[loop], video.path, args.frames)
                key = (loop, video.path.name)
                if key not in best or result["fps"] > best[key]["fps"]:
                    best[key] = result
                print(f"round {round_ + 1}: {loop}, {video.path.name}: {result}", flush=True)
    single = [v.path.name for v in videos if v.faces == 1]
    table = {loop: {name: {k: v for k, v in best[(loop, name)].items() if k != "faces_in_each_frame"}
                    for name in (v.path.name for v in videos)} for loop in loops}
    mean_single = {loop: round(sum(table[loop][n]["fps"] for n in single) / len(single), 1) for loop in loops}
    summary = {"machine": cpu_description(), "width": WIDTH,
               "frames_per_video": args.frames, "rounds": args.rounds,
               "classifier": repr(realtime), "single_person_clips": single,
               "stages": ["decode", *STAGES, "draw"],
               "fps_single_person": mean_single, "loops": table}
    if args.write:
        WRITTEN.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
