"""`convnets <stage>`: one thin sub-command per DVC stage.

Each sub-command takes its paths from the command line that `dvc.yaml` writes, validates
`params.yaml` before any work, calls the library, and turns a `ConvnetsError` into one clear
message and a non-zero exit.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from convnets import io
from convnets.config import Params, load_params
from convnets.errors import ConvnetsError
from convnets.versions import library_versions

log = logging.getLogger("convnets")


@dataclass(frozen=True)
class SubCommand:
    run: Callable[[argparse.Namespace, Params], None]
    arguments: Callable[[argparse.ArgumentParser], None]
    help: str


def _download_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="folder for the payloads")


def _download(args: argparse.Namespace, params: Params) -> None:
    from convnets.data.download import default_sources, download_dataset
    from convnets.data.registry import get_dataset

    spec = get_dataset(params.base.dataset)
    sources = default_sources(spec, params.download.local_dirs, params.download.mirrors)
    manifest = download_dataset(spec, args.out, sources, params.download.timeout_s)
    log.info("%s: %d verified files in %s", spec.name, len(manifest["files"]), args.out)


def _prepare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--raw", type=Path, required=True, help="the download stage's folder")
    parser.add_argument("--out", type=Path, required=True, help="the prepared .npz to write")
    parser.add_argument("--summary", type=Path, required=True, help="summary JSON to write")


def _prepare(args: argparse.Namespace, params: Params) -> None:
    from convnets.data.decode import decode
    from convnets.data.prepared import make_splits, save_prepared, summarize
    from convnets.data.registry import get_dataset

    spec = get_dataset(params.base.dataset)
    train, test = decode(args.raw, spec)
    cfg = params.prepare
    data = make_splits(train, test, spec.classes, cfg.val_fraction, cfg.subset, params.base.seed)
    summary = summarize(data, spec.name) | {"versions": library_versions()}
    save_prepared(args.out, data)
    io.write_json(args.summary, summary)
    log.info("prepared %s: %s", spec.name, summary["sizes"])


COMMANDS = {
    "download": SubCommand(_download, _download_arguments, "fetch and verify the upstream files"),
    "prepare": SubCommand(_prepare, _prepare_arguments, "decode and split into train/val/test"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="convnets", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, sub_command in COMMANDS.items():
        sub = subparsers.add_parser(name, help=sub_command.help, description=sub_command.help)
        sub.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file")
        sub_command.arguments(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        params = load_params(args.params)
        COMMANDS[args.command].run(args, params)
    except ConvnetsError as exc:
        print(f"convnets {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"convnets {args.command}: interrupted; outputs left as they were", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
