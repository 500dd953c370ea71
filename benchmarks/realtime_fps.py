"""Realtime benchmark on this machine: end-to-end frames per second on 640x480 frames with one and with four faces
(through onnxruntime when it is installed, as the demo runs), per-face classification latency at batch 1 (PyTorch, and
onnxruntime when installed), and Haar detection recall on synthetic frames (each FER2013 test crop
enlarged to 200x200 on a mid-grey 640x480 canvas). Prints a table, then a final line of JSON.

    python benchmarks/realtime_fps.py [--checkpoint PATH] [--recall-images 0] [--margins]

--margins also measures, for several crop margins, how often the label from a Haar crop of the synthetic frame
matches the label from the dataset's own crop (this chose fer_utils.realtime.CROP_MARGINS).
"""

import argparse
import json
import time

import cv2
import numpy as np

from fer_utils.classifier import OnnxClassifier, SingleView, fast_classifier, load_classifier
from fer_utils.data import load_arrays
from fer_utils.provenance import cpu_description
from fer_utils.realtime import CROP_MARGINS, EmotionRecognizer, FaceDetector, crop_face, draw

CANVAS = (480, 640)
SIDE = 200


def synthetic_frame(faces, side: int = SIDE, positions=None) -> tuple[np.ndarray, list]:
    """Faces enlarged to side x side on a mid-grey 640x480 canvas (centred, or at the given positions)."""
    frame = np.full(CANVAS, 128, np.uint8)
    positions = positions or [((CANVAS[1] - side) // 2, (CANVAS[0] - side) // 2)]
    for face, (x, y) in zip(faces, positions):
        frame[y:y + side, x:x + side] = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    return frame, [(x, y, side, side) for x, y in positions]


def fps(recognizer: EmotionRecognizer, frame: np.ndarray, repeats: int) -> float:
    for _ in range(5):
        draw(frame, recognizer(frame))
    started = time.perf_counter()
    for _ in range(repeats):
        draw(frame, recognizer(frame))
    return repeats / (time.perf_counter() - started)


def latency(classifier, face: np.ndarray, repeats: int) -> float:
    """Median milliseconds of predict_proba on one face."""
    for _ in range(10):
        classifier.predict_proba(face)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        classifier.predict_proba(face)
        times.append(time.perf_counter() - started)
    return 1000 * float(np.median(times))


def contains(box, true_box) -> bool:
    """The detection's centre lies inside the placed face."""
    x, y, w, h = box
    tx, ty, tw, th = true_box
    return tx <= x + w / 2 <= tx + tw and ty <= y + h / 2 <= ty + th


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=200, help="frames timed per FPS figure")
    parser.add_argument("--recall-images", type=int, default=0, help="test images for the recall; 0 uses all")
    parser.add_argument("--margins", action="store_true", help="also compare crop margins")
    args = parser.parse_args()

    classifier = load_classifier(args.checkpoint, args.device)
    fast = fast_classifier(classifier)  # one view: onnxruntime when installed, else PyTorch
    test = load_arrays(verbose=False).split("test")
    recognizer = EmotionRecognizer(fast, smoothing=0.6)

    one, _ = synthetic_frame([test.images[0]])
    four, _ = synthetic_frame(test.images[1:5], 150, [(60, 60), (430, 60), (60, 270), (430, 270)])
    fps_one, fps_four = fps(recognizer, one, args.repeats), fps(recognizer, four, args.repeats // 2)

    single_view = SingleView(classifier)
    latency_ms = latency(single_view, test.images[:1], args.repeats)
    onnx_ms = latency(fast, test.images[:1], args.repeats) if isinstance(fast, OnnxClassifier) else None

    detector = FaceDetector()
    count = args.recall_images or len(test)
    order = np.random.default_rng(0).permutation(len(test))[:count]
    found, detect_ms, crops, kept = 0, [], [], []
    for i in order:
        frame, (true_box,) = synthetic_frame([test.images[i]])
        started = time.perf_counter()
        boxes = detector.detect(frame)
        detect_ms.append(1000 * (time.perf_counter() - started))
        hits = [b for b in boxes if contains(b, true_box)]
        if hits:
            found += 1
            crops.append((frame, hits[0]))
            kept.append(i)
    recall = found / count

    margin_rows = []
    if args.margins and crops:
        from_dataset_crops = single_view.predict_proba(test.images[kept]).argmax(1)
        labels = test.labels[kept]
        for margins in [(0.0, 0.0, 0.0), (0.05, 0.0, 0.05), (0.1, 0.0, 0.1), (0.0, -0.05, 0.05), (0.1, -0.05, 0.1),
                        (0.15, 0.0, 0.15), (0.1, 0.05, 0.1), (-0.05, -0.05, 0.0)]:
            faces = np.stack([crop_face(frame, box, margins) for frame, box in crops])
            predicted = single_view.predict_proba(faces).argmax(1)
            margin_rows.append((margins, float((predicted == from_dataset_crops).mean()),
                                float((predicted == labels).mean())))

    print(f"\nclassifier: {classifier}; realtime path: {fast}")
    print(f"{'measure':<64} {'value':>10}")
    print(f"{'end-to-end FPS, 640x480, one face':<64} {fps_one:>10.1f}")
    print(f"{'end-to-end FPS, 640x480, four faces':<64} {fps_four:>10.1f}")
    print(f"{'classification latency per face, batch 1, PyTorch (ms, median)':<64} {latency_ms:>10.2f}")
    if onnx_ms is not None:
        print(f"{'classification latency per face, batch 1, onnxruntime (ms)':<64} {onnx_ms:>10.2f}")
    print(f"{'detection time per frame (ms, median)':<64} {float(np.median(detect_ms)):>10.2f}")
    print(f"{f'detection recall on {count} synthetic frames':<64} {recall:>10.3f}")
    for margins, agree, accuracy in margin_rows:
        print(f"  margins {margins}: label agrees with dataset crop {agree:.3f}, accuracy {accuracy:.3f}")
    print(json.dumps({
        "benchmark": "realtime_fps", "device": cpu_description() if args.device == "cpu" else args.device,
        "fps_one_face": round(fps_one, 1), "fps_four_faces": round(fps_four, 1),
        "latency_ms_per_face": round(latency_ms, 2),
        "latency_ms_per_face_onnxruntime": None if onnx_ms is None else round(onnx_ms, 2),
        "detect_ms": round(float(np.median(detect_ms)), 2),
        "recall": round(recall, 4), "recall_images": count, "crop_margins": list(CROP_MARGINS),
        "margins": [{"margins": list(m), "agreement": round(a, 4), "accuracy": round(c, 4)} for m, a, c in margin_rows],
    }))


if __name__ == "__main__":
    main()
