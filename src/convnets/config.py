"""Typed, frozen configuration: the only module that knows `params.yaml` exists.

Each group of `params.yaml` maps to one pydantic model with `extra="forbid"` and strict types, so
a typo, a string where a number belongs or an out-of-range value stops the stage before any work,
with one line per problem naming the key, what was given, what is allowed and how to fix it
(after scikit-learn's parameter validation).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    ValidationError,
    field_validator,
)

from convnets.data.datasets import DATASETS, get_dataset
from convnets.errors import ConvnetsError
from convnets.evaluation.corruption_suite import NAMES as CORRUPTION_NAMES
from convnets.evaluation.corruption_suite import SEVERITIES
from convnets.models.registry import MODELS, validate_options
from convnets.threads import AUTO, resolve_threads

# Named from the registries, so that a new dataset or model is one edit there, none here.
BUILT_IN = ", ".join(DATASETS)
REGISTERED = ", ".join(MODELS)
TtaSetting = Literal["none", "flip", "shifts"]  # evaluate.tta; inference.tta_views applies it
_MD5 = re.compile(r"[0-9a-f]{32}")
MirrorUrl = Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+/$")]
ImageSize = Annotated[int, Field(ge=8, le=1024)]
SIZES_HELP = "a list of image sizes in [8, 1024], one per early epoch ([] = all at full size)"


def _processes(value: Any) -> int | str:
    """train.processes: a count or `auto` (one per CUDA device, else 1), which the train stage
    resolves, since counting devices needs torch. One check, so an error is one line."""
    if value == AUTO or (type(value) is int and 1 <= value <= 1024):
        return value
    raise ValueError("not a process count")


Processes = Annotated[int | Literal["auto"], PlainValidator(_processes)]


def _corruption_names(value: Any) -> tuple[str, ...]:
    """corruptions.names: `all`, or a list of suite names without repeats; one line if not."""
    if value == "all":
        return CORRUPTION_NAMES
    if not isinstance(value, list) or not value or len(set(map(str, value))) != len(value):
        raise ValueError("not `all` or a list of distinct names")
    unknown = [name for name in value if name not in CORRUPTION_NAMES]
    if unknown:
        raise ValueError(f"no corruption is called {', '.join(map(repr, unknown))}")
    return tuple(value)


def _severities(value: Any) -> tuple[int, ...]:
    levels = value if isinstance(value, list) else []
    known = all(type(v) is int and v in SEVERITIES for v in levels)
    if levels and known and len(set(levels)) == len(levels):
        return tuple(sorted(levels))
    raise ValueError("not a list of distinct severities")


# Tuples in the program, lists when recorded (JSON has no tuples: pydantic warns otherwise).
CorruptionNames = Annotated[
    tuple[str, ...], PlainValidator(_corruption_names), PlainSerializer(list, return_type=list)
]
Severities = Annotated[
    tuple[int, ...], PlainValidator(_severities), PlainSerializer(list, return_type=list)
]
PROCESSES_HELP = "auto (one per CUDA device, else 1) or an integer in [1, 1024]"


class _Group(BaseModel):
    """A params.yaml group: frozen, strict (no "3" for 3), unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class BaseConfig(_Group):
    seed: int = Field(ge=0, description="an integer >= 0")
    dataset: str = Field(
        description=f"a built-in dataset ({BUILT_IN}) or the name of one of `folders`"
    )
    threads: int = Field(
        ge=1, le=256, description="auto (every core this process may use) or an integer in [1, 256]"
    )
    device: Literal["auto", "cpu", "cuda"] = Field(description="one of auto, cpu, cuda")

    @field_validator("threads", mode="before")
    @classmethod
    def _resolve_auto(cls, threads: Any) -> Any:
        """`auto` becomes this machine's number here, so every stage and record sees a number."""
        return resolve_threads(threads) if threads == AUTO else threads


class DownloadConfig(_Group):
    local_dirs: list[str] = Field(description="a list of folders holding the upstream files")
    mirrors: list[MirrorUrl] = Field(
        description="a list of http(s) base URLs ending in /, tried before the built-in mirrors"
    )
    timeout_s: float = Field(gt=0, le=3600, description="seconds in (0, 3600]")
    checksums: dict[str, str] = Field(
        default_factory=dict,
        description="a mapping of upstream file name to the payload md5 a private mirror serves",
    )


class PrepareConfig(_Group):
    val_fraction: float = Field(gt=0, lt=1, description="a fraction in (0, 1)")
    subset: int = Field(ge=0, description="0 (all images) or a per-class cap >= 1")
    near_duplicate_bits: int = Field(  # pHashes have 32 of 64 bits set: distances are even
        ge=0, le=8, description="perceptual-hash bits two near-duplicates may differ in, 0 to 8"
    )
    drop_test_duplicates: bool = Field(
        description="true or false: drop test images that duplicate a train or val image"
    )


class FolderConfig(_Group):
    """A folder of the user's own labelled pictures (`ingest@<name>`); README: Your own images."""

    path: str = Field(min_length=1, description="the folder, one subfolder per class")
    size: list[Annotated[int, Field(ge=1, le=1024)]] = Field(
        min_length=2, max_length=2, description="[height, width] in pixels, each 1 to 1024"
    )
    channels: Literal[1, 3, "auto"] = Field(
        default="auto", description="1 (grey), 3 (colour) or auto (3 if any picture has colour)"
    )
    framing: Literal["pad", "crop", "stretch"] = Field(
        default="pad",
        description="pad (whole picture, border colour around), crop (centre) or stretch",
    )
    test_fraction: float = Field(
        default=0.2, gt=0, lt=1, description="a fraction in (0, 1), held out when no test/"
    )
    min_per_class: int = Field(default=10, ge=1, description="an integer >= 1")
    bad_files: Literal["skip", "fail"] = Field(
        default="skip", description="skip (list and skip unreadable files) or fail"
    )
    subject: str = Field(
        default="", max_length=300, description="what the pictures show, for the model card"
    )


class AugmentConfig(_Group):
    copies: int = Field(ge=0, le=10, description="extra augmented copies per image, 0 to 10")
    crop_padding: int = Field(ge=0, le=8, description="pixels of random shift, 0 to 8")
    flip: bool = Field(description="true or false (false for digits: a flip changes them)")
    rotation_deg: float = Field(ge=0, le=45, description="degrees in [0, 45]")
    erasing_p: float = Field(ge=0, le=1, description="a probability in [0, 1]")
    scale: float = Field(ge=0, le=0.5, description="a zoom range in [0, 0.5]")
    distort_p: float = Field(ge=0, le=1, description="a probability in [0, 1]")
    blur_sigma: float = Field(ge=0, le=4, description="pixels in [0, 4]")
    contrast: float = Field(ge=0, lt=1, description="a number in [0, 1)")
    brightness: float = Field(ge=0, le=255, description="grey levels in [0, 255]")
    noise_std: float = Field(ge=0, le=128, description="grey levels in [0, 128]")
    preview: int = Field(ge=1, le=32, description="images in the preview grid, 1 to 32")


class TrainConfig(_Group):
    epochs: int = Field(ge=1, le=1000, description="an integer in [1, 1000]")
    batch_size: int = Field(ge=1, le=65536, description="an integer in [1, 65536]")
    optimizer: Literal["sgd", "adamw"] = Field(description="one of sgd, adamw")
    lr: float = Field(gt=0, le=10, description="a learning rate in (0, 10]")
    momentum: float = Field(ge=0, lt=1, description="a number in [0, 1)")
    weight_decay: float = Field(ge=0, le=1, description="a number in [0, 1]")
    schedule: Literal["onecycle", "cosine"] = Field(description="one of onecycle, cosine")
    warmup_fraction: float = Field(gt=0, lt=1, description="a fraction in (0, 1)")
    label_smoothing: float = Field(ge=0, lt=1, description="a number in [0, 1)")
    patience: int = Field(ge=0, description="epochs >= 0 (0 turns early stopping off)")
    precision: Literal["auto", "fp32", "bf16"] = Field(description="one of auto, fp32, bf16")
    batch_augment: bool = Field(description="true or false: re-augment every batch")
    progressive_sizes: list[ImageSize] = Field(description=SIZES_HELP)
    bias_lr_scale: float = Field(gt=0, le=100, description="a factor in (0, 100]")
    processes: Processes = Field(description=PROCESSES_HELP)
    nodes: int = Field(ge=1, le=1024, description="machines in the run, an integer in [1, 1024]")


class VariantConfig(_Group):
    """One trained model: a registered architecture, its options, and training overrides."""

    model: str = Field(description=f"a registered model name ({REGISTERED})")
    options: dict[str, Any] = Field(description="a mapping of the model's options")
    epochs: int | None = Field(
        default=None, ge=1, le=1000, description="an integer in [1, 1000] (overrides train.epochs)"
    )
    lr: float | None = Field(
        default=None, gt=0, le=10, description="a learning rate in (0, 10] (overrides train.lr)"
    )
    batch_size: int | None = Field(
        default=None, ge=1, le=65536, description="an integer in [1, 65536] (overrides train's)"
    )
    weight_decay: float | None = Field(
        default=None, ge=0, le=1, description="a number in [0, 1] (overrides train's)"
    )
    batch_augment: bool | None = Field(
        default=None, description="true or false (overrides train.batch_augment)"
    )
    progressive_sizes: list[ImageSize] | None = Field(
        default=None, description=SIZES_HELP + " (overrides train's)"
    )
    bias_lr_scale: float | None = Field(
        default=None, gt=0, le=100, description="a factor in (0, 100] (overrides train's)"
    )
    processes: Processes | None = Field(
        default=None, description=PROCESSES_HELP + " (overrides train's)"
    )


class EvaluateConfig(_Group):
    tta: TtaSetting = Field(
        description="one of none, flip (with the mirror image), shifts (mirror and 1-pixel shifts)"
    )
    mistakes: int = Field(ge=0, le=100, description="images in the mistakes grid, 0 to 100")
    batch_size: int = Field(ge=1, le=65536, description="an integer in [1, 65536]")


class CorruptionsConfig(_Group):
    images: int = Field(ge=10, le=10000, description="first test images corrupted, 10 to 10000")
    severities: Severities = Field(
        description="a list of distinct severities, each one of 1, 2, 3, 4, 5"
    )
    names: CorruptionNames = Field(
        description=f"all, or a list of corruptions, each one of {', '.join(CORRUPTION_NAMES)}"
    )


class ExportConfig(_Group):
    max_int8_drop: float = Field(ge=0, le=100, description="percentage points in [0, 100]")
    calibration_images: int = Field(ge=1, le=60000, description="an integer in [1, 60000]")
    parity_atol: float = Field(gt=0, le=1, description="a logit tolerance in (0, 1]")
    ood_images: int = Field(ge=10, le=1797, description="images per OOD set, 10 to 1797")


class BenchmarkConfig(_Group):
    latency_runs: int = Field(ge=10, le=100000, description="an integer in [10, 100000]")
    throughput_runs: int = Field(ge=1, le=10000, description="an integer in [1, 10000]")
    warmup: int = Field(ge=0, le=10000, description="an integer in [0, 10000]")
    batch_sizes: list[int] = Field(min_length=1, description="a list of batch sizes >= 1")
    torch_compile: bool = Field(description="true or false: also time torch.compile")


class ReportConfig(_Group):
    samples_per_class: int = Field(ge=1, le=20, description="images per class row, 1 to 20")
    kernel_name: str = Field(min_length=1, max_length=40, description="a short name")
    kernel: list[list[float]] = Field(
        description="a square kernel of odd size (3, 5 or 7) as a list of rows of numbers"
    )
    sample_index: int = Field(ge=0, description="an index into the test split, >= 0")
    channels: int = Field(ge=1, le=16, description="channels per layer, 1 to 16")
    patch_images: int = Field(ge=9, le=60000, description="test images searched, 9 to 60000")
    attributions: int = Field(ge=1, le=16, description="examples of each kind, 1 to 16")
    projection_images: int = Field(ge=20, le=10000, description="test images, 20 to 10000")
    ascent_steps: int = Field(ge=1, le=2000, description="gradient-ascent steps, 1 to 2000")

    @field_validator("kernel")
    @classmethod
    def _square_odd(cls, kernel: list[list[float]]) -> list[list[float]]:
        size = len(kernel)
        if size not in (3, 5, 7) or any(len(row) != size for row in kernel):
            raise ValueError(f"kernel must be square with 3, 5 or 7 rows; got {size} rows")
        return kernel


class ExplorerConfig(_Group):
    test_images: int = Field(ge=1, le=10000, description="test images shipped, 1 to 10000")
    patch_images: int = Field(ge=9, le=60000, description="test images searched, 9 to 60000")


VariantName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]*$")]


# The `train` keys a variant may set for itself.
OVERRIDES = (
    "epochs",
    "lr",
    "batch_size",
    "weight_decay",
    "batch_augment",
    "progressive_sizes",
    "bias_lr_scale",
    "processes",
)


class Params(_Group):
    """All of params.yaml; a stage reads the groups it needs from it."""

    base: BaseConfig
    download: DownloadConfig
    prepare: PrepareConfig
    augment: AugmentConfig
    train: TrainConfig
    evaluate: EvaluateConfig
    corruptions: CorruptionsConfig
    export: ExportConfig
    benchmark: BenchmarkConfig
    report: ReportConfig
    explorer: ExplorerConfig
    variants: dict[VariantName, VariantConfig] = Field(
        min_length=1, description="a mapping of variant names (lowercase) to variants"
    )
    folders: dict[VariantName, FolderConfig] = Field(
        default_factory=dict, description="a mapping of your folder datasets' names to folders"
    )

    @property
    def folder(self) -> FolderConfig | None:
        """The folder `base.dataset` names, or None for a built-in dataset."""
        return self.folders.get(self.base.dataset)

    def variant(self, name: str) -> VariantConfig:
        """The variant called `name`; an unknown name lists the known ones."""
        if name not in self.variants:
            known = ", ".join(self.variants)
            raise ConvnetsError(f"variant {name!r} is not in params.yaml variants ({known})")
        return self.variants[name]

    def training(self, name: str) -> TrainConfig:
        """The `train` group with variant `name`'s overrides applied (epochs, lr, ...)."""
        variant = self.variant(name)
        overrides = {
            key: getattr(variant, key) for key in OVERRIDES if getattr(variant, key) is not None
        }
        return self.train.model_copy(update=overrides)

    def recipe(self, name: str) -> VariantRecipe:
        """What training variant `name` reads of params, resolved: the library's only view of it."""
        return VariantRecipe(
            name=name,
            variant=self.variant(name),
            train=self.training(name),
            augment=self.augment,
            seed=self.base.seed,
            threads=self.base.threads,
            provenance=self._provenance(name),
        )

    def _provenance(self, name: str) -> dict[str, Any]:
        """The params that make variant `name`'s model, as JSON: what its checkpoint records
        (evaluation reads its augmentation back) and its params hash covers. Only the groups
        `train@<name>` depends on, so the record changes exactly when the stage reruns."""
        return {
            "base": self.base.model_dump(mode="json"),
            "augment": self.augment.model_dump(mode="json"),
            "train": self.train.model_dump(mode="json"),
            "variants": {name: self.variants[name].model_dump(mode="json")},
        }


@dataclass(frozen=True)
class VariantRecipe:
    """The settings `train@<variant>` and `bench-train` use for one variant, taken from params.

    Training code takes this rather than `Params`, so it never looks a key up in params.yaml.
    """

    name: str  # the key under `variants`
    variant: VariantConfig  # the registered model and its options
    train: TrainConfig  # the `train` group with this variant's overrides applied
    augment: AugmentConfig  # what batch augmentation draws from
    seed: int
    threads: int
    provenance: dict[str, Any]  # the params that make this model, as JSON: the checkpoint's record


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate params.yaml, raising one ConvnetsError that lists every problem."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConvnetsError(f"{path} not found. Fix: run from the repository root.") from None
    except yaml.YAMLError as exc:
        raise ConvnetsError(f"{path} is not valid YAML: {exc}") from None
    return parse_params(raw, source=str(path))


def parse_params(raw: Any, source: str = "params.yaml") -> Params:
    """Validate an already-parsed params mapping (tests and `load_params` share this)."""
    if not isinstance(raw, dict):
        raise ConvnetsError(f"{source}: expected a mapping of groups, got {type(raw).__name__}")
    try:
        params = Params.model_validate(raw)
    except ValidationError as exc:
        lines = [_describe(error, raw, source) for error in exc.errors()]
        raise ConvnetsError("\n".join(lines)) from None
    _check_dataset(params, source)
    _check_models(params, source)
    _check_progressive_sizes(params, source)
    _check_checksums(params, source)
    return params


def _check_dataset(params: Params, source: str) -> None:
    """`base.dataset` is a built-in or one of `folders`, and no folder hides a built-in."""
    clash = sorted(set(params.folders) & set(DATASETS))
    if clash:
        raise ConvnetsError(
            f"{source}: folders.{clash[0]} has the name of a built-in dataset. "
            f"Fix: rename the folder dataset (built-ins: {BUILT_IN})."
        )
    if params.base.dataset not in DATASETS and params.folder is None:
        named = ", ".join(params.folders) or "none yet"
        raise ConvnetsError(
            f"{source}: 'base.dataset' must be a built-in dataset ({BUILT_IN}) or a key of "
            f"`folders` ({named}); got {params.base.dataset!r}. Fix: use one of those, or add "
            f"folders.{params.base.dataset} with the path of your images (README: Your own images)."
        )


def _check_models(params: Params, source: str) -> None:
    """Each variant names a registered model with options that model accepts."""
    for name, variant in params.variants.items():
        try:
            validate_options(variant.model, variant.options, f"variants.{name}.options")
        except ConvnetsError as exc:
            raise ConvnetsError(
                f"{source}: variants.{name}: {exc}. Fix: edit {source} or use `dvc exp run -S`."
            ) from None


def _check_progressive_sizes(params: Params, source: str) -> None:
    """Progressive resizing leaves the last epoch at full size, the size the model is tested at."""
    for name in params.variants:
        recipe = params.training(name)
        if len(recipe.progressive_sizes) >= recipe.epochs:
            raise ConvnetsError(
                f"{source}: variants.{name}: progressive_sizes sets the size of "
                f"{len(recipe.progressive_sizes)} epochs, but the variant trains {recipe.epochs}, "
                f"so it would never train at the full size it is tested at. Fix: list fewer "
                f"sizes than epochs, e.g. `dvc exp run -S 'variants.{name}.progressive_sizes=[]'`."
            )


def _check_checksums(params: Params, source: str) -> None:
    """download.checksums names files the dataset has, each with a 32-character hex md5.

    The option replaces upstream's checksum for the files it names only (a private mirror's own
    copies); a typo must fail here rather than silently leave upstream's checksum in force.
    """
    if params.folder is not None:
        return  # a folder of the user's own pictures has no upstream files to vouch for
    spec = get_dataset(params.base.dataset)
    names = [remote.name for remote in spec.files]
    for name, md5 in params.download.checksums.items():
        key = f"download.checksums[{name!r}]"
        if name not in names:
            raise ConvnetsError(
                f"{source}: {key} names no file of {spec.name}; its files are "
                f"{', '.join(names)}. Fix: use one of those names or remove the key."
            )
        if not _MD5.fullmatch(md5):
            raise ConvnetsError(
                f"{source}: {key} must be a hex md5 of 32 characters (0-9, a-f); got {md5!r}. "
                f"Fix: put the output of `md5sum` of the payload there (for .gz files, of the "
                f"decompressed payload: `gunzip -c {name} | md5sum`)."
            )


def _describe(error: dict[str, Any], raw: dict[str, Any], source: str) -> str:
    """One line: the key, the value given, what is allowed, and how to fix it."""
    loc = [str(part) for part in error["loc"] if not isinstance(part, int)]
    key = ".".join(loc)  # the params key; a list item's index is shown beside the value
    if error["type"] == "extra_forbidden":
        group_model = _model_at(loc[:-1])
        allowed = ", ".join(group_model.model_fields) if group_model else "?"
        return (
            f"{source}: unknown key '{key}'. Allowed keys here: {allowed}. "
            f"Fix: remove or rename '{key}' in {source}."
        )
    if error["type"] == "missing":
        return f"{source}: missing key '{key}' ({_allowed(loc)}). Fix: add it to {source}."
    index = "".join(f"[{part}]" for part in error["loc"] if isinstance(part, int))
    given = f"{key}{index} = {error.get('input')!r}" if index else repr(error.get("input"))
    return (
        f"{source}: '{key}' must be {_allowed(loc)}; got {given} ({error['msg']}). "
        f"Fix: edit {source} or run `dvc exp run -S {key}=<value>`."
    )


def _model_at(loc: list[str]) -> type[BaseModel] | None:
    """The pydantic model that validates the mapping at `loc`, if `loc` names a group."""
    model: type[BaseModel] = Params
    parts = iter(loc)
    for part in parts:
        field = model.model_fields.get(part)
        annotation = field.annotation if field else None
        if get_origin(annotation) is dict:  # e.g. variants: the next part is a user's name
            annotation = get_args(annotation)[1]
            if next(parts, None) is None:
                return None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _allowed(loc: list[str]) -> str:
    """The field's description, which states its allowed values."""
    model = _model_at(loc[:-1]) if len(loc) > 1 else Params
    field = model.model_fields.get(loc[-1]) if model else None
    if field and field.description:
        return field.description
    return "a valid value"
