"""Find faces and their emotions in images and videos.

    python -m fer_utils.realtime.predict photo.jpg clip.mp4 [--output annotated/]
"""

import argparse
import sys
from pathlib import Path

import cv2

from ..model.classifier import load_classifier
from ..model.onnx_twin import fast_classifier
from . import DEFAULT_DETECTOR, DETECTORS, VIDEO_SUFFIXES, EmotionRecognizer, SourceError, draw, frames
from .video import run_video


def describe(results) -> str:
    if not results:
        return "no face found"
    return "; ".join(f"face at (x={f.box[0]}, y={f.box[1]}, w={f.box[2]}, h={f.box[3]}): {f.label} "
                     f"{f.confidence:.0%}" for f in results)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", help="images, videos or folders of images")
    parser.add_argument("--output", type=Path, help="folder for annotated images and videos")
    parser.add_argument("--checkpoint", help="checkpoint to use (default: the shipped model, else the newest run)")
    parser.add_argument("--smoothing", type=float, default=0.6, help="temporal smoothing for videos; 0 turns it off")
    parser.add_argument("--fps", type=float, help="rate of annotated videos (default: the source's own)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--detector", default=DEFAULT_DETECTOR, choices=list(DETECTORS),
                        help=f"face detector (default {DEFAULT_DETECTOR}; haar is the original study's)")
    args = parser.parse_args(argv)
    classifier = fast_classifier(load_classifier(args.checkpoint, args.device))
    status = 0
    for source in args.inputs:
        recognizer = EmotionRecognizer.for_source(classifier, source, smoothing=args.smoothing,
                                                    detector=args.detector)
        try:
            if Path(source).suffix.lower() in VIDEO_SUFFIXES:
                if args.output:
                    result = run_video(recognizer, source, args.output, Path(source).stem, fps=args.fps)
                    timeline = result["timeline_df"]
                    print(f"{source}: {result['frames']} frames, {timeline['frame'].nunique()} with faces; "
                          f"wrote {result['video']} and {result['timeline']}")
                    continue
                for t, frame in frames(source):
                    print(f"{source} @ {t:.2f}s: {describe(recognizer(frame))}")
                continue
            for index, (_, frame) in enumerate(frames(source)):
                results = recognizer(frame)
                name = Path(source).name if Path(source).is_file() else f"{Path(source).name}[{index}]"
                print(f"{name}: {describe(results)}")
                if args.output:
                    args.output.mkdir(parents=True, exist_ok=True)
                    cv2.imwrite(str(args.output / f"{Path(source).stem}-{index:04d}.png"), draw(frame, results))
        except SourceError as err:
            print(f"{source}: {err}", file=sys.stderr)
            status = 2
    return status


if __name__ == "__main__":
    sys.exit(main())
