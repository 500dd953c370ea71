"""Faces followed across the frames of a video (``FaceTracker``), and their probabilities smoothed (``Smoother``)."""

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from .detect import FaceDetector, iou, neighbourhood, shrink

# With patches scaled by ``shrink``, a face seen again by the detector correlates with its last patch at 0.60 or more
# on the real single-person videos (1st percentile of 100 sightings) and at 0.54 or more in 95 % of the synthetic
# scenes' sightings, and below 0.5 in 91 % of the synthetic sightings where another face had taken its place
# (docs/experiments.md)
MIN_SAME = 0.5


@dataclass
class Track:
    id: int
    box: tuple
    probs: np.ndarray
    missed: int = 0


@dataclass
class Smoother:
    """Matches faces across frames by box overlap and keeps an exponential moving average of their probabilities.

    ``strength`` in [0, 1): the weight of the past a frame; 0 turns smoothing off.
    """

    strength: float = 0.6
    min_iou: float = 0.3
    max_missed: int = 5
    tracks: list = field(default_factory=list)
    next_id: int = 0

    def __post_init__(self):
        if not 0 <= self.strength < 1:
            raise ValueError(f"smoothing strength must be in [0, 1), got {self.strength}")

    def update(self, boxes, probs: np.ndarray, ids=None, restart=(), frames=None) -> tuple[list[int], np.ndarray]:
        """Smoothed probabilities for this frame's faces, and the track id of each. Faces are matched to the past by
        ``ids`` when a tracker gives them, else by box overlap; the faces of the ids in ``restart`` start a new
        average from this frame's probabilities. ``frames`` (1 each by default) are the frames since each face's
        last probabilities: the past weighs ``strength`` to their power, as if it had been updated on each."""
        free = list(self.tracks)
        given, ids, out = ids, [], np.array(probs, np.float32, copy=True)
        for i, box in enumerate(boxes):
            if given is not None:
                best = next((t for t in free if t.id == given[i]), None)
            else:
                best = max(free, key=lambda t: iou(t.box, box), default=None)
                best = best if best is not None and iou(best.box, box) >= self.min_iou else None
            if best is not None:
                free.remove(best)
                past = 0.0 if best.id in restart else self.strength ** (1 if frames is None else frames[i])
                best.probs = past * best.probs + (1 - past) * out[i]
                best.box, best.missed = tuple(box), 0
                track = best
            else:
                track = Track(self.next_id if given is None else given[i], tuple(box), out[i].copy())
                self.next_id += 1
                self.tracks.append(track)
            out[i] = track.probs
            ids.append(track.id)
        for track in free:
            track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return ids, out


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised correlation of two patches of one size (1 where either is flat or they differ in size: no
    evidence of a change)."""
    if a.shape != b.shape or not a.size or a.std() == 0 or b.std() == 0:
        return 1.0
    return float(cv2.matchTemplate(b, a, cv2.TM_CCOEFF_NORMED)[0, 0])


@dataclass
class FaceTrack:
    """A face followed by ``FaceTracker``: its box, and its look (a small gray patch) when the detector last saw it."""

    id: int
    box: tuple
    patch: np.ndarray
    missed: int = 0
    followed: int = 0  # frames in a row kept by the patch alone, without the detector
    seen: bool = True  # the detector found it in the last frame (not the patch alone)
    changed: bool = False  # ... and its look changed at once: another face took its place


class FaceTracker:
    """Follows faces in video between full-frame detections.

    A full-frame detection runs every ``redetect_every`` frames while faces are tracked (to find new ones), every
    ``idle_every`` frames while none is (by default every frame, so that a face is boxed on the frame it comes into
    view: on the synthetic scenes of benchmarks/realtime_fps.py, whose faces come back together after ten face-free
    frames, a search every third frame missed them for up to two frames: 90.3 against 94.5 % of the faces of 48 px and
    more found), and on the frame after a tracked face was lost. On the other frames each face
    is searched for only near its last box (``FaceDetector.detect_near``), which costs a small fraction of a full
    search; with ``near_every`` above 1, that search runs every ``near_every`` frames, and on the frames between the
    face's patch is matched first (a CNN detector's search near a face costs more than the match). Where the
    detector misses a face it just saw (it misses about one frame in eight), the face's patch is
    matched in that window instead, for at most ``max_followed`` frames in a row, and only where it still matches
    (normalised correlation at least ``min_match``), so a face that has left is not followed onto the background.
    A face neither found nor matched for more than ``max_missed`` frames is dropped. Where the detector finds a
    face whose patch no longer matches the one it had when last seen (normalised correlation below ``min_same``),
    another face has taken its place, and the track is marked ``changed`` for that frame. Calling the tracker with a
    frame gives (id, box) for each face seen in it.

    With ``small_face`` (pixels), a detector whose full searches also search the frame enlarged (``upscale`` above 1,
    at about 5x the cost) enlarges them only where no face is followed or a face held is under ``small_face`` high: a
    scene whose faces are all large is searched at its own size for newcomers (its large faces; a small one is found
    once the faces are gone, or a small one is followed).

    With a ``background`` search (``BackgroundSearch``), the full-frame detections made while faces are tracked run
    in another process, one at a time, and the loop does not wait for them: when one comes back, a few frames later,
    each face it found that no track covers is searched for near where it was, and followed from there if found
    (``_adopt``). With no face followed, a full detection runs in the loop, as there is nothing else to do, and one
    is sent to the background too (``EmotionRecognizer`` searches in the loop at the frame's own size, and enlarged
    in the background); a full detection also runs in the loop on the frame after a face was lost: waiting on the
    background, the loop lost such faces for the frames of a search (on the synthetic scenes of
    benchmarks/realtime_fps.py, 93.8 % of the faces of 48 px and more found while waiting, 95.6 % searching in the
    loop; on the real single-person clips of benchmarks/devfaces_video.py the loop keeps its speed, since a face is
    seldom lost there, but the crowd clip's fell from 38.4 to 14.6 frames/s).
    """

    PATCH = 24  # side of the patch a face is matched by, in pixels

    def __init__(self, detector: FaceDetector | None = None, redetect_every: int = 15, idle_every: int = 1,
                 max_missed: int = 2, max_followed: int = 5, min_match: float = 0.7, min_iou: float = 0.3,
                 near_every: int = 1, min_same: float = MIN_SAME, background=None, small_face: int | None = None):
        if min(redetect_every, idle_every, near_every) < 1:
            raise ValueError(f"redetect_every, idle_every and near_every must be at least 1, got {redetect_every}, "
                             f"{idle_every}, {near_every}")
        if max_followed < near_every - 1:
            raise ValueError(f"max_followed ({max_followed}) must be at least near_every - 1 ({near_every - 1})")
        self.detector = detector or FaceDetector()
        self.redetect_every, self.idle_every = redetect_every, idle_every
        self.max_missed, self.max_followed, self.min_match, self.min_iou = max_missed, max_followed, min_match, min_iou
        self.near_every, self.min_same = near_every, min_same
        if small_face is not None and not hasattr(self.detector, "upscale"):
            raise ValueError(f"small_face needs a detector that enlarges its full searches, not {self.detector!r}")
        self.small_face = small_face
        self.tracks: list[FaceTrack] = []
        self.next_id = self.full_detections = 0
        self.since_full: int | None = None  # frames since the last full detection; None before the first
        self.lost = False
        self.detect_seconds = 0.0  # spent in full detections, the rest of the time in following faces
        self.background, self.pending = background, None  # the background search, and the one it is running
        self.background_seconds = 0.0  # spent by the background searches, in their own process

    def __call__(self, gray: np.ndarray, frame: np.ndarray | None = None) -> list[tuple[int, tuple]]:
        """(id, box) of each face seen in ``gray``; the detector searches ``frame`` (the colour frame that a CNN
        detector reads better), or ``gray``, and patches are matched in ``gray``."""
        frame = gray if frame is None else frame
        every = self.redetect_every if self.tracks else self.idle_every
        due = self.since_full is None or self.since_full + 1 >= every
        full = due or self.lost
        if self.background is not None:
            following = any(t.missed == 0 for t in self.tracks)
            full = self.lost or (due and not following)  # in the loop only with nothing else to do
            if self.pending is None and (due or not following):  # the next once the one before has come back
                self.pending, self.since_full = self.background.submit(frame), -1
        self.since_full = 0 if full else self.since_full + 1
        unmatched = list(self.tracks)
        for track in self.tracks:
            track.changed = False
        if full:
            self.full_detections += 1
            started = time.perf_counter()
            detected = self._full_search(frame)
            self.detect_seconds += time.perf_counter() - started
            for box in detected:
                box = tuple(int(v) for v in box)
                best = max(unmatched, key=lambda t: iou(t.box, box), default=None)
                if best is not None and iou(best.box, box) >= self.min_iou:
                    unmatched.remove(best)
                    self._seen(best, gray, box)
                elif not any(iou(t.box, box) >= self.min_iou for t in self.tracks):
                    self.tracks.append(FaceTrack(self.next_id, box, self._patch(gray, box)))
                    self.next_id += 1
        self.lost = False
        for track in unmatched:
            between = track.followed + 1 < self.near_every  # a frame between near searches: the patch first
            box = self._match_patch(gray, track) if between else None
            if box is None:
                box = self.detector.detect_near(frame, track.box)
                if box is not None:
                    self._seen(track, gray, box)
                    continue
                if not between and track.followed < self.max_followed:  # a failed match is not tried twice
                    box = self._match_patch(gray, track)
            if box is not None:
                track.box, track.missed, track.followed, track.seen = box, 0, track.followed + 1, False
            else:
                track.missed += 1
                self.lost = True
        if self.pending is not None and self.pending.done():
            try:
                self._adopt(gray, frame, *self.pending.result())
            except Exception as err:  # the worker died: a dead process must not end the demo
                print(f"face tracker: the background search failed ({err!r}); searching in the loop from now on")
                self.background = None
            self.pending = None
        self._drop_duplicates()
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return [(t.id, t.box) for t in self.tracks if t.missed == 0]

    def _full_search(self, frame: np.ndarray) -> np.ndarray:
        """The detector's full search of ``frame``; with ``small_face``, enlarged (as the detector's are) only where no
        face is followed or a face held is under ``small_face`` pixels high, else at the frame's own size."""
        if self.small_face is None:
            return self.detector.detect(frame)
        following = any(t.missed == 0 for t in self.tracks)
        enlarge = not following or any(t.box[3] < self.small_face for t in self.tracks)
        return self.detector.detect(frame, None if enlarge else 1)

    def _adopt(self, gray: np.ndarray, frame: np.ndarray, boxes, seconds: float, margin: float = 1.0) -> None:
        """The faces of a background search of a frame a few frames back that no track covers, each searched for
        near where it was (its box widened by ``margin`` on each side: it may have moved since) and followed from
        there if found. On the crowd clip of ../shared/devfaces a margin of 1.0 kept 3.8 faces a frame, 0.5 kept 3.2;
        following the search's own box where the near search missed kept 4.5, but on the synthetic scenes it drew
        1.03 false faces per face-free frame (on faces that had gone meanwhile), against none."""
        self.full_detections += 1
        self.background_seconds += seconds
        started = time.perf_counter()
        for box in boxes:
            box = tuple(int(v) for v in box)
            if any(iou(t.box, box) >= self.min_iou for t in self.tracks):
                continue
            found = self.detector.detect_near(frame, box, margin)
            if found is not None and not any(iou(t.box, found) >= self.min_iou for t in self.tracks):
                self.tracks.append(FaceTrack(self.next_id, found, self._patch(gray, found)))
                self.next_id += 1
        self.detect_seconds += time.perf_counter() - started

    def _patch(self, gray: np.ndarray, box) -> np.ndarray:
        x, y, w, h = box
        crop = gray[max(y, 0):y + h, max(x, 0):x + w]
        return shrink(crop, self.PATCH / crop.shape[1], self.PATCH / crop.shape[0]) if crop.size else crop

    def _seen(self, track: FaceTrack, gray: np.ndarray, box) -> None:
        patch = self._patch(gray, box)
        track.changed = similarity(track.patch, patch) < self.min_same
        track.box, track.missed, track.followed, track.seen, track.patch = box, 0, 0, True, patch

    def _match_patch(self, gray: np.ndarray, track: FaceTrack, margin: float = 0.5) -> tuple | None:
        """Where the track's patch matches best near its last box, if it matches well enough."""
        x, y, w, h = track.box
        if not track.patch.size or min(w, h) < 2:
            return None
        x0, y0, x1, y1 = neighbourhood(gray.shape, track.box, margin)
        sx, sy = self.PATCH / w, self.PATCH / h
        window = shrink(gray[y0:y1, x0:x1], sx, sy)
        if window.shape[0] < self.PATCH or window.shape[1] < self.PATCH:
            return None
        scores = cv2.matchTemplate(window, track.patch, cv2.TM_CCOEFF_NORMED)
        _, best, _, (mx, my) = cv2.minMaxLoc(scores)
        found = window[my:my + self.PATCH, mx:mx + self.PATCH]
        if best < self.min_match or found.std() < 0.5 * track.patch.std():  # a smooth wall matches any shading
            return None
        return int(round(x0 + mx / sx)), int(round(y0 + my / sy)), w, h

    def _drop_duplicates(self) -> None:
        """Two tracks that ended on the same face: the newer one goes."""
        kept = []
        for track in sorted(self.tracks, key=lambda t: t.id):
            if not any(t.missed == 0 and track.missed == 0 and iou(t.box, track.box) > 0.5 for t in kept):
                kept.append(track)
        self.tracks = kept
