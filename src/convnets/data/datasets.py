"""The registry of built-in datasets: upstream files, checksums, mirrors, classes, subject.

A new built-in dataset is one entry of `DATASETS`; `config.py` derives the names it allows from
it. The user's own folders of pictures are the other kind of entry: each is named under
`folders` in params.yaml and read by `data/folder.py` and `data/decoding.py`.

Checksums are upstream's published values. For the IDX datasets they are of the decompressed
payload, not the `.gz`: Debian's `dataset-fashion-mnist` re-gzips the genuine files, so the `.gz`
bytes differ from upstream's while the payload is identical, and both must verify.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from convnets.errors import ConvnetsError


@dataclass(frozen=True)
class RemoteFile:
    """One upstream file and the checksum of what we keep from it."""

    name: str  # the upstream file name, as on the mirrors
    md5: str  # IDX: md5 of the decompressed payload; tar: md5 of the archive itself
    size: int | None  # bytes of what the md5 covers; None where only the md5 is known
    sha256: str = ""  # recorded where known; md5 is what upstream publishes
    md5_from: str = "upstream"  # who vouches for the md5, named when it does not match


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    format: Literal["idx", "cifar-binary"]
    files: tuple[RemoteFile, ...]
    mirrors: tuple[str, ...]  # base URLs, tried in order after the user's own mirrors
    classes: tuple[str, ...]
    image_shape: tuple[int, int, int]  # (H, W, C)
    subject: str  # what the images show, for the model card's intended use


FASHION_MNIST = DatasetSpec(
    name="fashion-mnist",
    format="idx",
    files=(
        RemoteFile(
            "train-images-idx3-ubyte.gz",
            "f4a8712d7a061bf5bd6d2ca38dc4d50a",
            47040016,
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        ),
        RemoteFile(
            "train-labels-idx1-ubyte.gz",
            "9018921c3c673c538a1fc5bad174d6f9",
            60008,
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        ),
        RemoteFile(
            "t10k-images-idx3-ubyte.gz",
            "8181f5470baa50b63fa0f6fddb340f0a",
            7840016,
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        ),
        RemoteFile(
            "t10k-labels-idx1-ubyte.gz",
            "15d484375f8d13e6eb1aabb0c3f46965",
            10008,
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        ),
    ),
    # Upstream's own S3 website serves http only, which we never fall back to.
    mirrors=(
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    classes=(
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    image_shape=(28, 28, 1),
    subject="small grayscale product photos of clothing, shoes and bags, one item centred on a "
    "black background (Zalando's article images)",
)

MNIST = DatasetSpec(
    name="mnist",
    format="idx",
    files=(
        RemoteFile("train-images-idx3-ubyte.gz", "6bbc9ace898e44ae57da46a324031adb", 47040016),
        RemoteFile("train-labels-idx1-ubyte.gz", "a25bea736e30d166cdddb491f175f624", 60008),
        RemoteFile("t10k-images-idx3-ubyte.gz", "2646ac647ad5339dbf082846283269ea", 7840016),
        RemoteFile("t10k-labels-idx1-ubyte.gz", "27ae3e4e09519cfbb04c329615203637", 10008),
    ),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    classes=tuple(str(digit) for digit in range(10)),
    image_shape=(28, 28, 1),
    subject="handwritten digits, one per image, centred, white on black",
)

CIFAR10 = DatasetSpec(
    name="cifar10",
    format="cifar-binary",
    files=(
        RemoteFile(
            "cifar-10-binary.tar.gz",
            "c32a1d4ab5d03f1284b67883e8d87530",
            170052171,
            "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
        ),
    ),
    mirrors=("https://www.cs.toronto.edu/~kriz/",),
    classes=(
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ),
    image_shape=(32, 32, 3),
    subject="small colour photos of one vehicle or animal each, centred",
)

# The binary archive's layout: six files of 10,000 records, each a label byte then 3x32x32 pixels.
CIFAR_DIR = "cifar-10-batches-bin"
CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR_TEST_BATCH = "test_batch.bin"
CIFAR_RECORD_BYTES = 1 + 32 * 32 * 3

DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in (FASHION_MNIST, MNIST, CIFAR10)}


def get_dataset(name: str) -> DatasetSpec:
    """Look a dataset up by name; an unknown name lists the known ones."""
    try:
        return DATASETS[name]
    except KeyError:
        known = ", ".join(sorted(DATASETS))
        raise ConvnetsError(f"unknown dataset {name!r}; known datasets: {known}") from None


def with_checksums(spec: DatasetSpec, checksums: dict[str, str]) -> DatasetSpec:
    """`spec` with a private mirror's md5s (`download.checksums`) in place of upstream's.

    Only the named files change, and each still has to match its md5 exactly; the size check is
    dropped for them because a private copy's size is not upstream's.
    """
    unknown = set(checksums) - {remote.name for remote in spec.files}
    if unknown:
        raise ConvnetsError(
            f"download.checksums names files {sorted(unknown)} that {spec.name} does not have. "
            "Fix: use the dataset's upstream file names."
        )
    files = tuple(
        replace(remote, md5=checksums[remote.name], size=None, sha256="", md5_from=_OVERRIDE)
        if remote.name in checksums
        else remote
        for remote in spec.files
    )
    return replace(spec, files=files)


_OVERRIDE = "download.checksums in params.yaml"


def payload_name(remote: RemoteFile) -> str:
    """The name we store a verified IDX payload under: the upstream name without `.gz`."""
    return remote.name.removesuffix(".gz")
