"""A folder of the user's own labelled pictures: its layout, its classes and its files.

The layout is torchvision's `ImageFolder`: one subfolder per class, named for it. A folder with
`train/` (and usually `test/`) subfolders gives its own test split; without `test/`, `ingest`
holds out a seeded, stratified fraction. Class names are the subfolder names, sorted by their
code points, so the same folder gives the same class indices on every machine and locale.

Everything here is refused or reported before any picture is decoded: the folder's shape is
cheap to check, and a wrong one should cost the user seconds, not a decoding pass.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

from convnets.errors import ConvnetsError

# What Pillow decodes for us; anything else in a class folder is listed as not an image.
IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".jpe", ".bmp", ".webp", ".gif", ".tif", ".tiff", ".ppm", ".pgm"}
)
SPLIT_DIRS = ("train", "test")


@dataclass(frozen=True)
class FolderListing:
    """Every picture of the folder with its class index and given split, in a fixed order."""

    classes: tuple[str, ...]
    files: tuple[Path, ...]  # by split, class, then path within the class (code points)
    labels: tuple[int, ...]
    splits: tuple[str, ...]  # "train" or "test": where the user put each file
    notes: tuple[str, ...]  # problems that do not stop the run, one line each with the fix

    @property
    def has_test(self) -> bool:
        return "test" in self.splits


def list_folder(root: Path) -> FolderListing:
    """The pictures under `root`, or one ConvnetsError naming what is wrong and the fix."""
    if not root.is_dir():
        raise ConvnetsError(
            f"the image folder {root} does not exist. Fix: put one subfolder per class there "
            f"(e.g. {root}/cat/001.jpg), run `dvc add {root}`, or point folders.<name>.path at it."
        )
    notes = [_lone_file_note(path) for path in _sorted(root.iterdir()) if path.is_file()]
    if (root / "train").is_dir():
        train = _class_folders(root / "train")
        test = _class_folders(root / "test") if (root / "test").is_dir() else {}
        notes += [_lone_file_note(p) for p in _sorted(root.iterdir()) if _is_stray_dir(p)]
        if test and sorted(test) != sorted(train):
            raise ConvnetsError(
                f"{root}/test has classes {sorted(test)} but {root}/train has {sorted(train)}. "
                "Fix: give test/ the same class subfolders as train/ (or remove test/ to hold "
                "out a fraction of train/)."
            )
        sources = {"train": train, "test": test}
    else:
        sources = {"train": _class_folders(root)}
    classes = tuple(sorted(sources["train"]))
    _check_classes(root, classes)
    files, labels, splits = [], [], []
    for split, class_dirs in sources.items():
        for index, name in enumerate(classes):
            if name not in class_dirs:  # no test/ folder at all: ingest holds a share out
                continue
            found, strays = _pictures(class_dirs[name])
            notes += strays
            files += found
            labels += [index] * len(found)
            splits += [split] * len(found)
    _check_nonempty(root, classes, labels)
    return FolderListing(classes, tuple(files), tuple(labels), tuple(splits), tuple(notes))


def _check_nonempty(root: Path, classes: tuple[str, ...], labels: list[int]) -> None:
    """A class folder with no picture file at all is refused before any decoding."""
    present = set(labels)
    empty = [name for index, name in enumerate(classes) if index not in present]
    if empty:
        raise ConvnetsError(
            f"{root}: the class folder {empty[0]!r} holds no picture"
            f"{f' ({len(empty)} such folders)' if len(empty) > 1 else ''}. Fix: add pictures "
            "of that class, or remove the folder if the class is not wanted."
        )


def _class_folders(folder: Path) -> dict[str, Path]:
    """Subfolders by class name (NFC-normalised, so é typed either way is one class)."""
    dirs = [p for p in _sorted(folder.iterdir()) if p.is_dir() and not p.name.startswith(".")]
    named = {unicodedata.normalize("NFC", p.name): p for p in dirs}
    if len(named) < len(dirs):
        raise ConvnetsError(
            f"{folder} has class folders whose names differ only in Unicode form (é typed two "
            "ways). Fix: merge them into one folder."
        )
    return named


def _check_classes(root: Path, classes: tuple[str, ...]) -> None:
    if not classes:
        raise ConvnetsError(
            f"{root} has no class subfolders. Fix: put each class's pictures in a subfolder "
            f"named for the class, e.g. {root}/cat/ and {root}/dog/."
        )
    if len(classes) < 2:
        raise ConvnetsError(
            f"{root} has one class ({classes[0]!r}); a classifier needs at least two. "
            "Fix: add a subfolder of pictures for each other class."
        )


def _pictures(class_dir: Path) -> tuple[list[Path], list[str]]:
    """Image files of one class folder (nested folders included) and a note per other file."""
    found, strays = [], []
    for path in sorted(class_dir.rglob("*"), key=lambda p: str(p.relative_to(class_dir))):
        if path.is_dir() or any(part.startswith(".") for part in path.relative_to(class_dir).parts):
            continue
        if path.suffix.lower() in IMAGE_SUFFIXES:
            found.append(path)
        else:
            strays.append(f"{path}: not an image file (skipped). Fix: move it out of the folder.")
    return found, strays


def _lone_file_note(path: Path) -> str:
    return (
        f"{path}: outside any class folder, so it has no label (skipped). "
        "Fix: move it into the subfolder of its class."
    )


def _is_stray_dir(path: Path) -> bool:
    return path.is_dir() and path.name not in SPLIT_DIRS and not path.name.startswith(".")


def _sorted(paths) -> list[Path]:
    """Code-point order of the names: the same on every machine, whatever the locale."""
    return sorted(paths, key=lambda p: p.name)
