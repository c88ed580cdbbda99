"""`convnets <stage>`: one thin sub-command per DVC stage, and `convnets predict`.

Each sub-command takes its paths from the command line that `dvc.yaml` writes, validates
`params.yaml` before any work, runs its stage module, and turns a `ConvnetsError` into one
clear message and a non-zero exit.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path

from convnets.errors import ConvnetsError

STAGES = (
    "download",
    "prepare",
    "augment",
    "train",
    "evaluate",
    "compare",
    "export",
    "benchmark",
    "report",
    "bench-train",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="convnets", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in STAGES:
        stage = importlib.import_module(f"convnets.stages.{name.replace('-', '_')}")
        sub = subparsers.add_parser(name, help=stage.HELP, description=stage.HELP)
        sub.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file")
        stage.arguments(sub)
        sub.set_defaults(run=stage.run)
    subparsers.add_parser("predict", help="classify image files (convnets predict --help)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["predict"]:  # before any heavy import: predict never loads torch
        from convnets.predict import main as predict_main

        return predict_main(argv[1:])
    from convnets.config import load_params

    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
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
