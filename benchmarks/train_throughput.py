"""Training throughput, side by side in one run: the original input pipeline against ours.

original: ImageFolder + PIL transforms + DataLoader, fp32, batch 32 (the study's recipe)
ours:     uint8 faces on the device, batched augmentation there, bf16 autocast and channels-last where the profile's
          ``auto`` turns them on, the profile's batch

Both train the same model variant (the profile's stem, channels and input size) on the same device. ``--ablation``
also times ours in fp32 and fp32 channels-last and, where bf16 is native, in bf16 and bf16 channels-last. Prints a
table, then a final line of JSON with the rates and the ratio.

    python benchmarks/train_throughput.py [--profile cpu] [--images 1536] [--device auto] [--ablation]
"""

import argparse
import json
import time
from dataclasses import replace

import torch

from fer_utils.data.fer2013 import load_arrays, pixel_stats
from fer_utils.device import describe_device, native_bf16, pick_device
from fer_utils.model.network import model_config
from fer_utils.training.config import training_config
from fer_utils.training.distributed import Ranks
from fer_utils.training.schedule import Clock
from fer_utils.training.train import (
    Run,
    build,
    fast_batches,
    torchvision_loader,
    train_step,
    use_bf16,
    use_channels_last,
)


def images_per_second(config, model_cfg: dict, device: torch.device, batches, images: int, bf16: bool,
                      channels_last: bool, warmup: int = 3) -> float:
    """Train on ``batches`` until ``images`` images have passed after ``warmup`` steps; return images/second."""
    torch.manual_seed(0)
    run = Run(config, device, Ranks(), Clock(config, 1), torch.Generator(device=device).manual_seed(0), bf16,
              channels_last, progress=False)
    model, optimizer, _, _, _ = build(run)
    model.train()
    seen, started = 0, None
    for step, (x, y) in enumerate(batches):
        if step == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
        train_step(model, optimizer, x.to(device), y.to(device), run)
        if started is not None:
            seen += len(y)
            if seen >= images:
                break
    if device.type == "cuda":
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - started)


def forever(make_batches):
    while True:
        yield from make_batches()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--images", type=int, default=1536, help="images timed per pipeline")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; the best of each is reported")
    parser.add_argument("--ablation", action="store_true",
                        help="also time ours in fp32, in bf16, and in bf16 with channels_last, in alternating rounds")
    args = parser.parse_args()

    config = training_config(args.profile, {"device": args.device})
    device = pick_device(config.device)
    arrays = load_arrays(verbose=False).split("train")
    mean, std = pixel_stats(arrays.images)
    model_cfg = model_config(config.stem, config.in_channels, config.input_size, mean, std, config.crop)

    original_cfg = replace(config, batch_size=32, amp="off", channels_last="off", mixup=0.0, cutmix=0.0)
    faces, labels = torch.from_numpy(arrays.images).to(device), torch.from_numpy(arrays.labels).to(device)
    generator = torch.Generator(device=device).manual_seed(0)
    bf16, channels_last = use_bf16(config, device), use_channels_last(config, device)

    def time_original() -> float:
        """The original at its best: with 0 or 2 DataLoader workers, whichever is faster here."""
        rates = []
        for workers in (0, 2):
            cfg = replace(original_cfg, num_workers=workers)
            loader = torchvision_loader(cfg, model_cfg, arrays.names, seed=0)
            rates.append(images_per_second(cfg, model_cfg, device, forever(lambda loader=loader: loader),
                                           args.images, bf16=False, channels_last=False))
        return max(rates)

    def time_ours(cfg=config) -> float:
        batches = forever(lambda: fast_batches(faces, labels, cfg, model_cfg, generator, None))
        return images_per_second(cfg, model_cfg, device, batches, args.images, use_bf16(cfg, device),
                                 use_channels_last(cfg, device))

    variants = {"ours in fp32": replace(config, amp="off", channels_last="off"),
                "ours in fp32 with channels_last": replace(config, amp="off", channels_last="on")}
    if native_bf16(device):
        variants.update({"ours with bf16": replace(config, amp="bf16", channels_last="off"),
                         "ours with bf16 and channels_last": replace(config, amp="bf16", channels_last="on")})
    elif args.ablation:
        print("bf16 left out of the ablation: this device has no native bf16, where it only emulates it")
    # Alternate every contender, best of ``rounds`` each, so that none gains from running at a quieter moment.
    original = ours = 0.0
    ablation = dict.fromkeys(variants if args.ablation else (), 0.0)
    for _ in range(args.rounds):
        original = max(original, time_original())
        ours = max(ours, time_ours())
        for label in ablation:
            ablation[label] = max(ablation[label], time_ours(variants[label]))

    variant = f"resnet18 stem={model_cfg['stem']} {model_cfg['input_size']}px x{model_cfg['in_channels']}"
    print(f"\ndevice: {describe_device(device)}; model: {variant}; {args.images} images timed per pipeline\n")
    print(f"{'pipeline':<62} {'images/s':>9}")
    print(f"{'original: ImageFolder + PIL + DataLoader, fp32, batch 32':<62} {original:>9.1f}")
    ours_name = (f"ours: uint8 on device, batched aug, {'bf16' if bf16 else 'fp32'}"
                 f"{', channels_last' if channels_last else ''}, batch {config.batch_size}")
    print(f"{ours_name:<62} {ours:>9.1f}")
    print(f"{'ratio':<62} {ours / original:>9.2f}x\n")
    for label, rate in ablation.items():
        print(f"{label:<62} {rate:>9.1f}")
    print(json.dumps({"benchmark": "train_throughput", "device": describe_device(device), "model": variant,
                      "original_images_per_s": round(original, 1), "ours_images_per_s": round(ours, 1),
                      "ratio": round(ours / original, 2), "bf16": bf16, "channels_last": channels_last,
                      "batch_size": config.batch_size, "ablation": {k: round(v, 1) for k, v in ablation.items()}}))


if __name__ == "__main__":
    main()
