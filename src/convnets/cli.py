"""`convnets <command>`: one thin sub-command per DVC stage, plus `bench-train` and `predict`.

Each sub-command takes its paths from the command line that `dvc.yaml` writes, validates
`params.yaml` before any work, runs its module, and turns a `ConvnetsError` into one clear
message and a non-zero exit. Only the chosen command's module is imported, so `convnets --help`
answers at once and `convnets download` never loads torch.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path

from convnets.errors import ConvnetsError

# name -> (module with `arguments(parser)` and `run(args, params)`, one-line help)
COMMANDS = {
    "download": ("convnets.stages.download", "fetch and verify the dataset's upstream files"),
    "ingest": (
        "convnets.stages.ingest",
        "check and decode a folder of your own labelled pictures (folders in params.yaml)",
    ),
    "prepare": ("convnets.stages.prepare", "decode and split into train/val/test; data checks"),
    "augment": ("convnets.stages.augment", "augmented copies of the training split, and a preview"),
    "train": (
        "convnets.stages.train",
        "train one variant, keeping the checkpoint with the best validation loss",
    ),
    "evaluate": (
        "convnets.stages.evaluate",
        "evaluate one variant on the test and validation splits",
    ),
    "corruptions": (
        "convnets.stages.corruptions",
        "accuracy of one variant on test images with noise, blur, shifts and more, by severity",
    ),
    "compare": (
        "convnets.stages.compare",
        "compare every variant and choose the best by validation accuracy",
    ),
    "label_issues": (
        "convnets.stages.label_issues",
        "likely label errors in val and test, by confident learning on the chosen variant",
    ),
    "export": (
        "convnets.stages.export",
        "export the best variant to ONNX (fp32 and int8) with parity checks",
    ),
    "benchmark": (
        "convnets.stages.benchmark",
        "time PyTorch and onnxruntime (fp32, int8) on the same images and threads",
    ),
    "report": (
        "convnets.stages.report",
        "build the visual report (an HTML page) of data, filters and trained models",
    ),
    "model_card": (
        "convnets.stages.model_card",
        "write the model card from the artifacts: use, data, metrics, speed, failures",
    ),
    "explorer": (
        "convnets.stages.explorer",
        "write the explorer site: the exported model in the browser, every layer live",
    ),
    "explore": (
        "convnets.explorer.serve",
        "serve the explorer site on 127.0.0.1 (a free port) until Ctrl-C",
    ),
    "bench-train": (
        "convnets.benchmarks.train_command",
        "benchmark training throughput against torchvision's DataLoader pattern",
    ),
}


PREDICT = "convnets.predict"  # `convnets predict`: its own parser, onnxruntime only

# A stage takes every path from the command line that dvc.yaml writes; the user's own commands
# read what the pipeline made, by default from where dvc.yaml puts it. Named here, not in the
# library: dest -> default, per command.
DEFAULT_PATHS = {
    "predict": {"model": Path("models/best.onnx")},  # export's --onnx
    "explore": {"site": Path("reports/explorer")},  # the explorer stage's --out
    "bench-train": {  # the default dataset's download and prepare outputs
        "raw": Path("data/raw/fashion-mnist"),
        "prepared": Path("data/prepared/fashion-mnist.npz"),
        "out": Path("reports/bench_train.json"),
    },
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only `command`'s module is imported, to declare its own arguments."""
    parser = argparse.ArgumentParser(prog="convnets", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        if name == command:
            module = importlib.import_module(module_name)
            sub.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file")
            module.arguments(sub)
            sub.set_defaults(run=module.run, **DEFAULT_PATHS.get(name, {}))
    subparsers.add_parser("predict", help="classify image files (convnets predict --help)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["predict"]:  # before any other import: predict never loads torch
        return importlib.import_module(PREDICT).main(argv[1:], **DEFAULT_PATHS["predict"])
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    from convnets.config import load_params

    try:
        params = load_params(args.params)
        args.run(args, params)
    except ConvnetsError as exc:
        print(f"convnets {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"convnets {args.command}: interrupted; outputs left as they were", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
