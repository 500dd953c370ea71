"""The realtime loop's ablation: the simplest loop, then each mechanism added to it alone, then the loop we ship.

The simplest loop searches the whole frame at its own size every 15 frames, holds each face's box between searches
(matched by IoU at the next), classifies every third frame and smooths, cutting faces by their box as it is. Each
mechanism of the realtime v3 loop is added to it alone, as a subclass below (``MECHANISMS``); a mechanism that needs a
face followed (a patch, a lost face) is added to "near search" instead, and its gain is measured against that. Each
loop is measured on:

- real footage (../shared/devfaces): the exactly counted photos (faces found, boxes beyond the counts per photo; a
  mechanism of the detector or the whole-frame search only), and the videos scaled to 640 px: frames per second on
  the two single-person clips, the share of their frames with the face boxed, and faces a frame on the crowd clip;
- the synthetic scenes of benchmarks/realtime_fps.py, handed every frame and fed as a 30 frames/s camera: recall of
  the faces of 48 px and more and of 30-48 px, false faces per face-free frame, label accuracy of the faces found.

Each loop's lines are those of its subclass here, or of the shipped code it uses. The last line is JSON; --write
stores it in models/realtime-ablation.json and the table in docs/realtime.md.

    python benchmarks/realtime_ablation.py [--rounds 2] [--frames 60] [--write]
"""

import argparse
import inspect
import json
import multiprocessing
import time
import weakref
from concurrent.futures import ProcessPoolExecutor

import cv2
import numpy as np
from devfaces import devfaces
from devfaces_video import run as run_video
from realtime_fps import SCENES, run, run_camera, score

from fer_utils.data.fer2013 import load_arrays
from fer_utils.model.classifier import SingleView, load_classifier
from fer_utils.model.onnx_twin import fast_classifier
from fer_utils.paths import MODELS_DIR, ROOT
from fer_utils.provenance import cpu_description, git_commit
from fer_utils.realtime import EmotionRecognizer, iou, make_detector
from fer_utils.realtime.detectors import LibFaceDetector, search, search_near
from fer_utils.realtime.footage import make_clip
from fer_utils.realtime.recognizer import match_patch, patch_of

WRITTEN, TABLE = MODELS_DIR / "realtime-ablation.json", ROOT / "docs" / "realtime.md"


class Simplest(EmotionRecognizer):
    """A whole-frame search at the frame's own size every ``search_every`` frames; boxes held between searches."""

    margins = (0.0, 0.0, 0.0)

    def __init__(self, classifier, **kwargs):
        super().__init__(classifier, **{"upscale": 1, "near_every": 1, "detector": OneLook(), **kwargs})
        self.held = []

    def _due(self) -> bool:
        return (self.frames - 1) % self.search_every == 0

    def _follow(self, frame, gray) -> None:
        if self._due():  # the search replaces the boxes: matched by IoU, the faces it misses dropped
            self.held, self.faces = self.faces, []

    def _add_new(self, boxes) -> None:
        for box in boxes:
            best = max(self.held, key=lambda f: iou(f.box, box), default=None)
            if best is not None and iou(best.box, box) >= 0.3:
                self.held.remove(best)
                best.box = box
                self.faces.append(best)
            elif not any(iou(box, f.box) >= 0.3 for f in self.faces):
                self.faces.append(self._new_face(box))
        self.held = []


class IdleSearch(Simplest):
    """+ a whole-frame search on every frame that starts with no face held."""

    def _due(self) -> bool:
        return not self.faces or super()._due()


class Near(Simplest):
    """+ each face held searched for near its box on every frame, and dropped where it is not found there."""

    _follow, _add_new = EmotionRecognizer._follow, EmotionRecognizer._add_new


class NearEvery3(Near):
    """+ each face held followed by its patch, searched for near its box every third frame or where the patch does
    not match (the shipped following)."""

    def __init__(self, classifier, **kwargs):
        super().__init__(classifier, near_every=3, **kwargs)


class PatchFallback(Near):
    """near search + the patch matched where the near search misses, for up to 5 frames (v3's ``max_followed``)."""

    def _follow(self, frame, gray) -> None:
        kept = []
        for face in self.faces:
            box = search_near(self.detector, frame, face.box)
            if box is not None:
                face.patch, face.followed = patch_of(gray, box), 0
            elif face.followed < 5:
                box = match_patch(gray, face)
                face.followed += 1
            if box is not None and not any(iou(box, other.box) > 0.5 for other in kept):
                face.box = box
                kept.append(face)
        self.faces = kept


class Changed(Near):
    """near search + a face whose look changes at once (patch correlation under 0.5: another face took its place)
    classified at once and averaged afresh (v3's ``FaceTrack.changed``)."""

    def _follow(self, frame, gray) -> None:
        before = {face.id: face.patch for face in self.faces}
        super()._follow(frame, gray)
        for face in self.faces:
            if cv2.matchTemplate(face.patch, before[face.id], cv2.TM_CCOEFF_NORMED)[0, 0] < 0.5:
                face.probs = None  # classified on this frame, with no past


class LostSearch(Near):
    """near search + a whole-frame search on the frame after a face was lost."""

    def _due(self) -> bool:
        return super()._due() or self.lost


class Enlarged(Simplest):
    """+ the whole-frame searches also of the frame enlarged twice, where no face or a small one is held."""

    def __init__(self, classifier, **kwargs):
        super().__init__(classifier, upscale=2, **kwargs)


class OneLook(LibFaceDetector):
    """libfacedetection without its second look at doubtful boxes."""

    def _second_look(self, rgb, box):
        return None


class WithSecondLook(Simplest):
    """+ the second look at doubtful boxes (``detectors.LibFaceDetector``)."""

    def __init__(self, classifier, **kwargs):
        super().__init__(classifier, detector=make_detector("libfacedetection"), **kwargs)


class Narrowed(Simplest):
    """+ whole-frame searches of a frame wider than 800 px made on it shrunk to 800 px (the camera's)."""

    def __init__(self, classifier, **kwargs):
        super().__init__(classifier, search_width=800, **kwargs)


_WORKER = None  # the background process's detector


def _search_in_background(frame: np.ndarray) -> list[tuple]:
    global _WORKER
    if _WORKER is None:
        _WORKER = make_detector("libfacedetection")
    return [tuple(int(round(v)) for v in box) for box in search(_WORKER, frame).boxes]


class Background(Simplest):
    """+ the whole-frame searches made while faces are held in a second process (v3's ``BackgroundSearch``): the loop
    sends a frame when a search is due and none is running, goes on with the boxes it holds, and takes the new boxes
    when they come back; with no face held it searches in the loop, as it has nothing else to do."""

    def __init__(self, classifier, **kwargs):
        super().__init__(classifier, **kwargs)
        self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        self.pool.submit(_search_in_background, np.zeros((64, 64, 3), np.uint8)).result()  # started, detector loaded
        weakref.finalize(self, self.pool.shutdown, wait=False, cancel_futures=True)
        self.pending = None

    def _due(self) -> bool:
        return self._came_back or not self.faces

    def _came_back_now(self, frame) -> bool:
        """Sends ``frame`` where a search is due, a face is held and no search runs; whether one has come back."""
        if self.pending is None and self.faces and self.frames % self.search_every == 0:
            self.pending = self.pool.submit(_search_in_background, np.ascontiguousarray(frame))
        return self.pending is not None and self.pending.done()

    def _follow(self, frame, gray) -> None:
        if self._came_back:
            self.held, self.faces = self.faces, []

    def _search(self, frame) -> list[tuple]:
        if not self._came_back:
            return super()._search(frame)
        boxes, self.pending = self.pending.result(), None
        return boxes

    def __call__(self, frame):
        self._came_back = self._came_back_now(frame)
        return super().__call__(frame)


class Margins(Simplest):
    """+ faces cut by the margins of models/crop-margins.json instead of the detector's box as it is."""

    margins = EmotionRecognizer.margins


class VideoWithoutLostSearch(EmotionRecognizer):
    """The shipped video file's loop without its whole-frame search after a face was lost."""

    def _due(self) -> bool:
        return not self.faces or (self.frames - 1) % self.search_every == 0


class CameraWithoutLostSearch(VideoWithoutLostSearch):
    """The shipped camera's loop without its whole-frame search after a face was lost."""

    def __init__(self, classifier, **kwargs):
        super().__init__(classifier, **{"upscale": 1, "search_width": 800, **kwargs})


class VideoWithoutMargins(EmotionRecognizer):
    """The shipped video file's loop cutting faces by their box as it is."""

    margins = (0.0, 0.0, 0.0)


class CameraAtOwnSize(EmotionRecognizer):
    """The shipped camera's loop with its whole-frame searches at the frame's own size, however wide."""

    def __init__(self, classifier, **kwargs):
        super().__init__(classifier, **{"upscale": 1, **kwargs})


VIDEO, CAMERA = "shipped: a video file's loop", "shipped: a camera's loop"
MECHANISMS = {  # name: (loop, the loop it adds to; for a name that starts with "without", the loop it is taken from)
    "simplest": (Simplest, None),
    "search every frame while no face is held": (IdleSearch, "simplest"),
    "near search every frame": (Near, "simplest"),
    "patch match, near search every 3rd frame or where it fails": (NearEvery3, "near search every frame"),
    "patch match where the near search misses": (PatchFallback, "near search every frame"),
    "reclassify when another face takes a face's place (changed)": (Changed, "near search every frame"),
    "whole-frame search after a face is lost": (LostSearch, "near search every frame"),
    "enlarged whole-frame searches (x2, none or a small face held)": (Enlarged, "simplest"),
    "second look at doubtful boxes": (WithSecondLook, "simplest"),
    "whole-frame searches at most 800 px wide": (Narrowed, "simplest"),
    "crop margins": (Margins, "simplest"),
    "whole-frame searches in a second process": (Background, "simplest"),
    VIDEO: (EmotionRecognizer, "simplest"),
    CAMERA: (EmotionRecognizer.for_camera, "simplest"),
    "without the search after a face is lost (video file)": (VideoWithoutLostSearch, VIDEO),
    "without the search after a face is lost (camera)": (CameraWithoutLostSearch, CAMERA),
    "without crop margins (video file)": (VideoWithoutMargins, VIDEO),
    "without the 800 px searches (camera)": (CameraAtOwnSize, CAMERA),
}
PHOTO_MECHANISMS = {"simplest", "enlarged whole-frame searches (x2, none or a small face held)",
                    "second look at doubtful boxes", VIDEO}


def photos_found(make_loop) -> dict:
    """Faces found in the exactly counted photos (boxes capped at each count) and boxes beyond the counts per photo,
    by the loop's detector and whole-frame search, as a photo is searched."""
    photos = [f for f in devfaces("image") if f.exact]
    loop = make_loop()
    found = beyond = 0
    for photo in photos:
        boxes = len(search(loop.detector, cv2.imread(str(photo.path)), loop.upscale, loop.search_width))  # as a photo
        found, beyond = found + min(boxes, photo.faces), beyond + max(boxes - photo.faces, 0)
    return {"photos_found": round(found / max(sum(p.faces for p in photos), 1), 4),
            "photos_beyond_per_photo": round(beyond / max(len(photos), 1), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--frames", type=int, default=60, help="frames per synthetic clip")
    parser.add_argument("--video-frames", type=int, default=150, help="frames of each real video")
    parser.add_argument("--only", nargs="*", help="measure only these mechanisms")
    parser.add_argument("--write", action="store_true", help=f"store {WRITTEN} and the table in {TABLE}")
    parser.add_argument("--table", action="store_true", help=f"only write the table of {WRITTEN} into {TABLE}")
    args = parser.parse_args()
    if args.table:
        return write_table(json.loads(WRITTEN.read_text()))
    classifier = load_classifier(device="cpu")
    fast = fast_classifier(classifier)
    test = load_arrays(verbose=False).split("test")
    reference = SingleView(classifier).predict_proba(test.images).argmax(1) == test.labels
    clips = [make_clip(test.images, test.labels, size, count, args.frames, seed=i)
             for i, (size, count) in enumerate(SCENES)]
    videos = devfaces("video")
    names = args.only or list(MECHANISMS)
    loops = {name: (lambda loop=MECHANISMS[name][0]: loop(fast)) for name in names}
    fps = {(name, v.path.name): 0.0 for name in names for v in videos}
    found = {}
    synthetic = {name: {"outputs": [], "shown": [], "processed": []} for name in names}
    for round_ in range(args.rounds):
        for name in (names if round_ % 2 == 0 else names[::-1]):
            started = time.perf_counter()
            for video in videos:
                result = run_video(loops[name], video.path, args.video_frames)
                fps[name, video.path.name] = max(fps[name, video.path.name], result["fps"])
                counts = np.array(result["faces_in_each_frame"])
                found[name, video.path.name] = {"boxed": np.minimum(counts, 1).mean(),
                                                 "beyond": np.maximum(counts - 1, 0).mean(),
                                                 "faces_per_frame": counts.mean()}
            for clip in clips:
                synthetic[name]["outputs"].append(run(loops[name], clip)[1])
                processed, shown = run_camera(loops[name], clip, 30.0)
                synthetic[name]["processed"].append(processed)
                synthetic[name]["shown"].append(shown)
            print(f"round {round_ + 1}: {name} ({time.perf_counter() - started:.0f} s)", flush=True)
    single = [v.path.name for v in videos if v.faces == 1]
    crowd = [v.path.name for v in videos if v.faces > 1]
    table = {}
    for name in names:
        every = score(clips * args.rounds, synthetic[name]["outputs"], reference)
        camera = score(clips * args.rounds, synthetic[name]["shown"], reference)
        table[name] = {
            "adds_to": MECHANISMS[name][1], "lines": lines_of(name),
            "real_video_fps": round(float(np.mean([fps[name, n] for n in single])), 1),
            "real_video_boxed": round(float(np.mean([found[name, n]["boxed"] for n in single])), 4),
            "real_video_beyond": round(float(np.mean([found[name, n]["beyond"] for n in single])), 4),
            "crowd_faces_per_frame": round(float(np.mean([found[name, n]["faces_per_frame"] for n in crowd])), 2),
            **(photos_found(loops[name]) if name in PHOTO_MECHANISMS else {}),
            **{k: round(every[k], 4) for k in ("recall_ge48", "recall_30_48", "false_positives_per_frame",
                                               "label_accuracy_found", "label_accuracy_dataset_crops")},
            "camera": {"frames_processed_per_second": round(float(np.mean(synthetic[name]["processed"])), 1),
                       **{k: round(camera[k], 4) for k in ("recall_ge48", "recall_30_48",
                                                           "false_positives_per_frame")}}}
        print(name, table[name], flush=True)
    summary = {"benchmark": "realtime_ablation", "machine": cpu_description(), "git_commit": git_commit(),
               "rounds": args.rounds, "frames_per_clip": args.frames, "video_frames": args.video_frames,
               "single_person_clips": single, "crowd_clips": crowd, "loops": table}
    if args.write:
        if args.only and WRITTEN.is_file():  # these loops measured again: the others kept, in their order
            kept = json.loads(WRITTEN.read_text())
            summary["loops"] = {**kept["loops"], **table}
            summary["git_commit"] = f"{kept['git_commit']}, {summary['git_commit']} for {', '.join(args.only)}"
        WRITTEN.write_text(json.dumps(summary, indent=1) + "\n")
        write_table(summary)
    print(json.dumps(summary))


def earns(row: dict, base: dict, swing: float = 0.0) -> list[str]:
    """What a mechanism buys over the loop it adds to, by the rule it stays by: on real footage 2 points of faces
    found or 10 % of frames/s; for video files, 5 points of synthetic recall of the faces of 30-48 px. A gain of
    frames/s no larger than ``swing`` (two rows of the same work differed by as much) is marked as within it."""
    bought = []
    for key, what in (("photos_found", "photos' faces"), ("real_video_boxed", "clips' frames boxed")):
        if key in row and key in base and row[key] - base[key] >= 0.02:
            bought.append(f"+{100 * (row[key] - base[key]):.1f} pts {what}")
    gain = row["real_video_fps"] / base["real_video_fps"] - 1
    if gain >= 0.1:
        bought.append(f"+{100 * gain:.0f} % frames/s" + (" (within the swing)" if gain <= swing else ""))
    if row["recall_30_48"] - base["recall_30_48"] >= 0.05:
        bought.append(f"+{100 * (row['recall_30_48'] - base['recall_30_48']):.1f} pts synthetic 30-48 px")
    return bought


def write_table(summary: dict) -> None:
    """The ablation table, between the markers of docs/realtime.md (the prose around it is written by hand)."""
    def pct(value) -> str:
        return f"{100 * value:.1f}"

    loops = summary["loops"]
    # Rows of the same work on the single-person clips: a crop's coordinates cost nothing, and their one face is never
    # lost there (150 frames of each, both loops: no search after a loss ran)
    same = [(VIDEO, "without crop margins (video file)"),
            (VIDEO, "without the search after a face is lost (video file)"),
            (CAMERA, "without the search after a face is lost (camera)")]
    ratios = [loops[a]["real_video_fps"] / loops[b]["real_video_fps"] for a, b in same if a in loops and b in loops]
    swing = max((max(r, 1 / r) - 1 for r in ratios), default=0.0)
    lines = [f"`benchmarks/realtime_ablation.py` on {summary['machine']}, {summary['rounds']} alternating rounds, "
             f"commit {summary['git_commit']}. Real: photos' faces found (exactly counted photos), share of the "
             "single-person clips' frames with their face boxed, faces a frame on the crowd clip, frames/s on the "
             "single-person clips. Synthetic: recall of the faces of 48 px and more / 30-48 px, false faces per "
             "face-free frame, and label accuracy of the faces found (their dataset crops' in brackets), handed every "
             "frame, then fed as a 30 frames/s camera. Each mechanism is measured against the loop it adds to. The "
             "swing of frames/s: rows of the same work on the single-person clips (each shipped loop and that loop "
             f"without crop margins or without its search after a lost face) differed by up to {100 * swing:.0f} %.",
             "",
             "| mechanism | adds to | real: photos found | real: clips boxed | real: crowd faces/frame | "
             "real: frames/s | synthetic: recall ≥ 48 / 30–48 % | false | labels % | camera: recall ≥ 48 / 30–48 % "
             "| camera: false | lines | what it buys, by the rule |", "|---" * 13 + "|"]
    # a row "without" a mechanism is the shipped loop it names less that mechanism: what it buys is the difference
    for name, row in loops.items():
        base = loops.get(row["adds_to"])
        removed = name.startswith("without")  # what the mechanism buys: the loop with it against the loop without
        bought = "–" if base is None else ", ".join(earns(base, row, swing) if removed else earns(row, base, swing)) \
            or "nothing"
        camera = row["camera"]
        lines.append(
            f"| {name} | {row['adds_to'] or '–'} | {pct(row['photos_found']) if 'photos_found' in row else '–'} | "
            f"{pct(row['real_video_boxed'])} | {row['crowd_faces_per_frame']:.2f} | {row['real_video_fps']:.0f} | "
            f"{pct(row['recall_ge48'])} / {pct(row['recall_30_48'])} | {row['false_positives_per_frame']:.2f} | "
            f"{pct(row['label_accuracy_found'])} ({pct(row['label_accuracy_dataset_crops'])}) | "
            f"{pct(camera['recall_ge48'])} / {pct(camera['recall_30_48'])} | "
            f"{camera['false_positives_per_frame']:.2f} | {row['lines']} | {bought} |")
    text = TABLE.read_text()
    start, end = "<!-- ablation table: benchmarks/realtime_ablation.py --write -->", "<!-- end of the table -->"
    if start not in text or end not in text:
        raise SystemExit(f"{TABLE} has lost its markers {start!r} and {end!r}: put them back around the table")
    head, rest = text.split(start, 1)
    TABLE.write_text(head + start + "\n" + "\n".join(lines) + "\n" + end + rest.split(end, 1)[1])


def lines_of(name: str) -> int:
    """Lines of a mechanism's subclass here (the shipped loops: their module's)."""
    loop = MECHANISMS[name][0]
    loop = getattr(loop, "__self__", loop)
    source = inspect.getsource(inspect.getmodule(loop) if loop is EmotionRecognizer else loop)
    return sum(1 for line in source.splitlines() if line.strip() and not line.strip().startswith("#"))


if __name__ == "__main__":
    main()
