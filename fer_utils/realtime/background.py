"""A detector's full-frame searches in a process of its own (``BackgroundSearch``), so that the demo's loop goes on
following and classifying faces while one runs, instead of stopping for it every half second. A thread would not
run beside the loop: libfacedetection's search holds Python's lock for its whole call."""

import multiprocessing
import sys
import time
import weakref
from concurrent.futures import Future, ProcessPoolExecutor

import numpy as np

_detector = None  # the worker process's own, made by _start


def _start(factory, threads: int) -> None:
    global _detector
    # PyTorch is loaded by now (unpickling the factory imports fer_utils), so an OMP_NUM_THREADS set here would reach
    # no OpenMP runtime: MTCNN's threads are PyTorch's, libfacedetection's its own ``threads``
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    _detector = factory()
    if hasattr(_detector, "threads"):
        _detector.threads = threads


def _ready() -> bool:
    return _detector is not None


def _search(frame: np.ndarray) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    boxes = np.asarray(_detector(frame).boxes, float).reshape(-1, 4)
    return boxes, time.perf_counter() - started


class BackgroundSearch:
    """Calls the detector that ``factory()`` makes (a picklable callable: a detector class, or ``functools.partial``
    of ``detectors.make_detector``) on whole frames in one worker process with ``threads`` threads, one frame at a
    time. ``submit(frame)`` gives a ``Future`` of (boxes (N,4) float (x, y, w, h), seconds the search took).

    The worker is started (spawned: forking a process whose PyTorch and OpenMP threads run can hang) and its detector
    loaded before the constructor returns, so a frame submitted later waits for nothing but the search itself."""

    def __init__(self, factory, threads: int = 1):
        self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_start,
                                        initargs=(factory, threads))
        weakref.finalize(self, self.pool.shutdown, wait=False, cancel_futures=True)
        self.pool.submit(_ready).result()  # a detector that cannot load raises here, not in the middle of a video

    def submit(self, frame: np.ndarray) -> Future:
        return self.pool.submit(_search, np.ascontiguousarray(frame))

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
