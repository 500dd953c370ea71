"""Realtime benchmark on footage-like scenes, side by side with the original study's loop.

Scenes are built from FER2013 test faces (so every face's label is known): 640x480 and 1280x720 clips with 1 to 8
faces 30 to 300 px high over textured backgrounds, moving, growing and shrinking, with ten face-free frames in each
clip (fer_utils.realtime.footage). These loops run over the same frames, in alternating rounds:

- ours, a video file's loop (``EmotionRecognizer``, the headline): the demo's loop with its default detector and the
  realtime classifier (onnxruntime when installed), whose whole-frame searches also search the frame enlarged twice
  where no face or a small one is held;
- ours, a camera's loop (``EmotionRecognizer.for_camera``): the same loop, its whole-frame searches never enlarged,
  and made on frames wider than 800 px shrunk to 800 px;
- ours with the Haar cascade (``detector="haar"``), a video file's loop;
- original: the original study's loop: the default frontal cascade on the full gray frame (scaleFactor 1.1,
  minNeighbors 5, minSize 30x30), then one model call per face (the same network, in PyTorch, one view).

Each loop draws its boxes and labels, as a demo does. Reported per loop: end-to-end FPS, recall by face size (a face
counts as found when a box overlaps it with IoU >= 0.3), false positives per face-free frame, and the label accuracy
of the faces found, beside the classifier's accuracy on the dataset's own crops of the same faces. These figures come
twice: handed every frame, as a video file is read, and fed as a live camera of ``--camera-fps`` frames a second
feeds a loop (``camera_feed``: the newest frame each time, the frames that come while the loop is busy never seen,
and each frame scored by the boxes on screen over it, as the notebook's browser camera draws them over the live
video), with the frames processed a second; pooled over the rounds. The last line is
JSON; --write stores it in models/realtime-benchmark.json for the README. Its figures at the top are those of a
video file's loop (``HEADLINE``), handed every frame, and it also carries the default detector's figures on real
footage from the JSON of benchmarks/devfaces_detectors.py (faces found in the exactly counted photos; boxes beyond
the counts per photo, at least that many false faces) and devfaces_video.py (frames per second of the same loop on
the single-person clips, and its ratio to the original loop; a camera's loop's beside it): run those first.

    python benchmarks/realtime_fps.py [--rounds 2] [--frames 60] [--write]
"""

import argparse
import json
import time

import cv2
import numpy as np

from fer_utils import EMOTIONS
from fer_utils.data.fer2013 import load_arrays
from fer_utils.model.classifier import SingleView, fast_classifier, load_classifier
from fer_utils.model.engines import TorchForward
from fer_utils.paths import MODELS_DIR
from fer_utils.provenance import cpu_description
from fer_utils.realtime import DEFAULT_DETECTOR, EmotionRecognizer, FaceResult, draw, iou
from fer_utils.realtime.footage import camera_feed, make_clip

PHOTOS_JSON, VIDEO_JSON = MODELS_DIR / "devfaces-detectors.json", MODELS_DIR / "devfaces-video.json"
# The loop of the figures at the top of the JSON: a video file's, which sees every frame as this benchmark hands them,
# and whose frames per second on the real clips devfaces_video.py measures as VIDEO_FILE_LOOP; the live camera's
# ("ours, <default detector>" there) comes beside it
HEADLINE = "tracking"
VIDEO_FILE_LOOP = "ours, a video file's loop"
CAMERA_LOOP = "ours, a camera's loop"
SCENES = [((640, 480), 1), ((640, 480), 2), ((640, 480), 4), ((1280, 720), 1), ((1280, 720), 3),
          ((1280, 720), 6), ((1280, 720), 8)]


class OriginalLoop:
    """The original study's demo loop: frontal cascade on the full frame, one model call per face."""

    def __init__(self, classifier):
        self.classifier = classifier
        self.cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")

    def __call__(self, frame) -> list[FaceResult]:
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        results = []
        for x, y, w, h in self.cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(30, 30)):
            probs = self.classifier.predict_proba(cv2.resize(gray[y:y + h, x:x + w], (48, 48))[None])[0]
            results.append(FaceResult((int(x), int(y), int(w), int(h)), probs, 0))
        return results


def run(make_loop, clip) -> tuple[float, list]:
    """Seconds for the whole clip (recognition and drawing) by a fresh loop, and the results of each frame."""
    loop, outputs = make_loop(), []
    started = time.perf_counter()
    for frame in clip.frames:
        results = loop(frame)
        draw(frame, results)
        outputs.append(results)
    took = time.perf_counter() - started
    return took, outputs


def run_camera(make_loop, clip, fps: float) -> tuple[float, list]:
    """Frames processed a second by a fresh loop fed ``clip`` as a live camera of ``fps`` frames a second
    (``camera_feed``), and the results on screen over each frame."""
    loop = make_loop()

    def process(frame):
        results = loop(frame)
        draw(frame, results)
        return results

    shown, processed = camera_feed(clip.frames, process, fps)
    return len(processed) * fps / len(clip.frames), [results or [] for results in shown]


def score(clips, outputs_per_clip, reference_correct) -> dict:
    """Recall by face size, false positives per face-free frame, label accuracy of the faces found."""
    found = {"30_48": [0, 0], "ge48": [0, 0]}
    empty_frames = false_positives = correct = hits = reference = 0
    for clip, outputs in zip(clips, outputs_per_clip):
        for truth, results in zip(clip.truth, outputs):
            if not truth:
                empty_frames += 1
                false_positives += len(results)
                continue
            for face in truth:
                size = "ge48" if face["box"][3] >= 48 else "30_48"
                found[size][1] += 1
                overlaps = [iou(face["box"], r.box) for r in results]
                if overlaps and max(overlaps) >= 0.3:
                    found[size][0] += 1
                    hits += 1
                    correct += results[int(np.argmax(overlaps))].label == EMOTIONS[face["label"]]
                    reference += reference_correct[face["index"]]
    return {"recall_ge48": found["ge48"][0] / max(found["ge48"][1], 1),
            "recall_30_48": found["30_48"][0] / max(found["30_48"][1], 1),
            "faces_ge48": found["ge48"][1], "faces_30_48": found["30_48"][1],
            "false_positives_per_frame": false_positives / max(empty_frames, 1), "face_free_frames": empty_frames,
            "label_accuracy_found": correct / max(hits, 1), "label_accuracy_dataset_crops": reference / max(hits, 1)}


def rounded(figures: dict) -> dict:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}


def real_footage(detector: str) -> dict:
    """The default detector's figures on the real photos and videos, from the JSON that
    benchmarks/devfaces_detectors.py and devfaces_video.py write (run them first), or a note of what is missing."""
    try:
        photos = json.loads(PHOTOS_JSON.read_text())["detectors"][detector]
        video = json.loads(VIDEO_JSON.read_text())
        fps = video["fps_single_person"][VIDEO_FILE_LOOP]
        camera = video["fps_single_person"][CAMERA_LOOP]
    except (OSError, KeyError) as err:
        return {"real_footage": f"not measured for {detector}: run benchmarks/devfaces_detectors.py and "
                                f"devfaces_video.py with --write first ({type(err).__name__}: {err})"}
    return {"real_photos_found": photos["found"], "real_photos_false_per_photo": photos["beyond_per_photo"],
            "real_video_fps": fps,
            "real_video_fps_ratio_vs_original": round(fps / video["fps_single_person"]["original"], 2),
            "real_video_fps_live_camera": camera}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; the best time of each loop counts")
    parser.add_argument("--frames", type=int, default=60, help="frames per clip")
    parser.add_argument("--camera-fps", type=float, default=30.0, help="the frame rate of the live camera's feed")
    parser.add_argument("--write", action="store_true", help="store the JSON in models/realtime-benchmark.json")
    args = parser.parse_args()

    classifier = load_classifier(args.checkpoint, "cpu")
    fast = fast_classifier(classifier)
    test = load_arrays(verbose=False).split("test")
    reference_correct = SingleView(classifier).predict_proba(test.images).argmax(1) == test.labels
    one_face = make_clip(test.images, test.labels, (640, 480), 1, args.frames, min_side=100, max_side=220,
                         empty=(0, 0), seed=100)  # one face moving (and changing) throughout
    clips = [make_clip(test.images, test.labels, size, count, args.frames, seed=i)
             for i, (size, count) in enumerate(SCENES)]

    loops = {"camera": lambda: EmotionRecognizer.for_camera(fast),
             "tracking": lambda: EmotionRecognizer(fast),
             "tracking_haar": lambda: EmotionRecognizer(fast, detector="haar"),
             "original": lambda: OriginalLoop(SingleView(classifier, TorchForward(classifier.model)))}
    seconds = {name: {"one_face": np.inf, "scenes": [np.inf] * len(clips)} for name in loops}
    outputs, camera = {}, {name: {"processed": [], "shown": []} for name in loops}
    for round_index in range(args.rounds):
        names = list(loops)[round_index % len(loops):] + list(loops)[:round_index % len(loops)]
        for name in names:  # a fresh loop per clip, so that no track carries over
            took, _ = run(loops[name], one_face)
            seconds[name]["one_face"] = min(seconds[name]["one_face"], took)
            outputs[name] = []
            for k, clip in enumerate(clips):
                took, results = run(loops[name], clip)
                seconds[name]["scenes"][k] = min(seconds[name]["scenes"][k], took)
                outputs[name].append(results)
            for clip in clips:
                processed, shown = run_camera(loops[name], clip, args.camera_fps)
                camera[name]["processed"].append(processed)
                camera[name]["shown"].append(shown)
            print(f"round {round_index + 1}: {name} done", flush=True)

    report = {}
    for name in loops:
        fps_scenes = {f"{w}x{h}_{count}": round(args.frames / s, 1)
                      for ((w, h), count), s in zip(SCENES, seconds[name]["scenes"])}
        report[name] = {"fps_one_face": args.frames / seconds[name]["one_face"],
                        "fps_all_scenes": len(clips) * args.frames / sum(seconds[name]["scenes"]),
                        "fps_by_scene": fps_scenes, **score(clips, outputs[name], reference_correct),
                        "camera_feed": {"frames_processed_per_second": float(np.mean(camera[name]["processed"])),
                                        **score(clips * args.rounds, camera[name]["shown"], reference_correct)}}
    print(f"\nclassifier: {classifier}; our path: {fast}; {cpu_description()}")
    keys = ["fps_one_face", "fps_all_scenes", "recall_ge48", "recall_30_48", "false_positives_per_frame",
            "label_accuracy_found", "label_accuracy_dataset_crops"]
    print(f"{'measure':<32}" + "".join(f"{name:>16}" for name in loops))
    for key in keys:
        print(f"{key:<32}" + "".join(f"{report[name][key]:>16.3f}" for name in loops))
    for key in keys[2:]:
        print(f"{'camera ' + key:<32}" + "".join(f"{report[name]['camera_feed'][key]:>16.3f}" for name in loops))
    print(f"{'camera frames processed/s':<32}"
          + "".join(f"{report[name]['camera_feed']['frames_processed_per_second']:>16.1f}" for name in loops))
    for scene in report["tracking"]["fps_by_scene"]:
        print(f"{'fps ' + scene:<32}" + "".join(f"{report[name]['fps_by_scene'][scene]:>16.1f}" for name in loops))
    ours = report[HEADLINE]
    summary = {
        "benchmark": "realtime_footage", "device": cpu_description(), "rounds": args.rounds,
        "detector": DEFAULT_DETECTOR, "headline_loop": HEADLINE, "classifier": repr(fast),
        "frames_per_clip": args.frames, "scenes": [f"{w}x{h} with {n} face(s)" for (w, h), n in SCENES],
        "fps_one_face": round(ours["fps_one_face"], 1),
        "fps_ratio_vs_original": round(ours["fps_one_face"] / report["original"]["fps_one_face"], 2),
        **{k: round(ours[k], 4) for k in ("recall_ge48", "recall_30_48", "false_positives_per_frame",
                                          "label_accuracy_found", "label_accuracy_dataset_crops")},
        "camera_fps": args.camera_fps,
        # a camera's loop fed as a camera: the figures the live demo shows
        "camera_feed_recall_ge48": round(report["camera"]["camera_feed"]["recall_ge48"], 4),
        "camera_feed_recall_30_48": round(report["camera"]["camera_feed"]["recall_30_48"], 4),
        "camera_feed_false_per_face_free_frame": round(report["camera"]["camera_feed"]["false_positives_per_frame"], 4),
        **real_footage(DEFAULT_DETECTOR),
        "loops": {name: rounded(r) | {"camera_feed": rounded(r["camera_feed"])} for name, r in report.items()},
    }
    line = json.dumps(summary)
    if args.write:
        (MODELS_DIR / "realtime-benchmark.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(line)


if __name__ == "__main__":
    main()
