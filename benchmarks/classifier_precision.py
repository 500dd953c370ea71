"""The realtime classifier at each precision on this CPU: latency per face at batch 1 (alternating rounds, median of
each round, best round counts) and single-view accuracy on the 7,178 FER2013 test faces.

- onnxruntime fp32: the exported network (fer_utils.model.engines);
- onnxruntime int8: static quantisation calibrated on 512 training faces (fer_utils.model.engines.int8_forward);
- PyTorch fp32, and PyTorch bf16 (autocast, channels-last) where the CPU has native bf16. onnxruntime's CPU
  provider has no bf16 convolutions, so bf16 is measured in PyTorch.

A faster variant is kept for the realtime path only if its accuracy moves by at most 0.3 points.

    python benchmarks/classifier_precision.py [--rounds 3]
"""

import argparse
import json
import time

import numpy as np

from fer_utils.data.fer2013 import load_arrays
from fer_utils.device import cpu_has_bf16
from fer_utils.model.classifier import SingleView, fast_classifier, load_classifier
from fer_utils.model.engines import TorchForward
from fer_utils.paths import MODELS_DIR
from fer_utils.provenance import cpu_description
from fer_utils.scores import accuracy


def median_ms(classifier, face, repeats: int) -> float:
    for _ in range(10):
        classifier.predict_proba(face)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        classifier.predict_proba(face)
        times.append(time.perf_counter() - started)
    return 1000 * float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=200, help="timed calls per variant and round")
    parser.add_argument("--write", action="store_true", help="store the JSON in models/classifier-precision.json")
    args = parser.parse_args()

    classifier = load_classifier(args.checkpoint, "cpu")
    variants = {"onnxruntime fp32": fast_classifier(classifier, "fp32"),
                "onnxruntime int8": fast_classifier(classifier, "int8"),
                "pytorch fp32": SingleView(classifier, TorchForward(classifier.model))}
    if cpu_has_bf16():  # as training runs on such a CPU
        variants["pytorch bf16"] = SingleView(classifier, TorchForward(classifier.model, bf16=True, channels_last=True))
    if variants["onnxruntime int8"].forward.name != "onnxruntime int8":
        raise SystemExit("no int8 model: see the line above")
    test = load_arrays(verbose=False).split("test")
    face = test.images[:1]
    latency = {name: [] for name in variants}
    for round_index in range(args.rounds):
        names = list(variants)[round_index % len(variants):] + list(variants)[:round_index % len(variants)]
        for name in names:
            latency[name].append(median_ms(variants[name], face, args.repeats))
    test_accuracy = {name: accuracy(np.concatenate([v.predict_proba(test.images[i:i + 512])
                                                     for i in range(0, len(test), 512)]), test.labels)
                     for name, v in variants.items()}
    base = "onnxruntime fp32"
    print(f"\n{classifier}; {cpu_description()}; batch 1, best of {args.rounds} alternating rounds")
    print(f"{'variant':<20}{'ms per face':>12}{'speed-up':>10}{'test acc':>10}{'change':>9}")
    for name in variants:
        print(f"{name:<20}{min(latency[name]):>12.2f}{min(latency[base]) / min(latency[name]):>9.2f}x"
              f"{test_accuracy[name]:>10.2%}{100 * (test_accuracy[name] - test_accuracy[base]):>+8.2f}p")
    summary = {"benchmark": "classifier_precision", "device": cpu_description(), "rounds": args.rounds,
               "ms_per_face": {n: round(min(v), 3) for n, v in latency.items()},
               "test_accuracy": {n: round(a, 4) for n, a in test_accuracy.items()}}
    if args.write:
        (MODELS_DIR / "classifier-precision.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
