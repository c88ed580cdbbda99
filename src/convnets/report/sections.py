"""The visual report: what the network sees, as sections of figures for one HTML page.

Each `*_section` function draws its figures into the report's figure folder and returns a
`Section`; `report/html.py` turns the list into the page. Models run in float32 on the CPU
threads of `base.threads`, from seeded noise, so the same inputs give the same pictures.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from convnets import io
from convnets.data.prepared import PreparedData
from convnets.data.tensors import to_nchw, to_unit_float
from convnets.evaluation.inference import predict_logits
from convnets.figures import capsules as capsule_visuals
from convnets.figures import filters, layers
from convnets.figures import saliency as attribution_visuals
from convnets.figures.curves import curves_figure
from convnets.figures.projection import dream_figure, embed_2d, projection_figure
from convnets.figures.reliability import reliability_figure
from convnets.figures.samples import class_samples_figure
from convnets.figures.style import save_figure
from convnets.figures.top_patches import TOP, Peaks, top_patches
from convnets.models.checkpoint import Checkpoint
from convnets.report.attribution import (
    edge_map,
    grad_cam,
    integrated_gradients,
    saliency,
    smoothgrad,
)
from convnets.report.html import (
    benchmark_table,
    label_issues_table,
    leaderboard_table,
    notes_table,
    sanity_table,
    trust_tables,
)
from convnets.report.inspection import (
    activations,
    conv_layers,
    map_layers,
    measure_receptive_field,
)
from convnets.report.maximization import (
    AscentSettings,
    FourierSettings,
    channel_images,
    class_images,
)
from convnets.report.sanity import cascading_randomization
from convnets.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportSettings:
    samples_per_class: int
    kernel_name: str
    kernel: list[list[float]]
    sample_index: int  # the test image of the filter, shape and activation panels
    channels: int  # channels per layer in the activation, top-patch and ascent panels
    patch_images: int  # test images searched for top-activating patches
    attributions: int  # right and wrong predictions explained (each)
    projection_images: int
    ascent_steps: int
    seed: int


@dataclass(frozen=True)
class FigureLink:
    """A PNG shown on the page: where it lies relative to the page, and its caption."""

    src: str  # relative to the HTML page
    caption: str


@dataclass
class Section:
    anchor: str
    title: str
    intro: str
    figures: list[FigureLink] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)  # HTML tables, already escaped


@dataclass(frozen=True)
class Canvas:
    """Where figures go: PNGs in `folder`, linked from the page at `page`."""

    folder: Path
    page: Path

    def save(self, fig: Figure, name: str, caption: str) -> FigureLink:
        save_figure(fig, self.folder / name)
        return self.link(self.folder / name, caption)

    def link(self, path: Path, caption: str) -> FigureLink:
        """A figure another stage wrote, linked where it lies (relative, so the page moves)."""
        return FigureLink(Path(os.path.relpath(path, self.page.parent)).as_posix(), caption)


@dataclass(frozen=True)
class Subject:
    """The trained network the inside-view sections look at."""

    variant: str
    ckpt: Checkpoint
    model: nn.Module  # eval mode, float32, CPU
    why: str


def float_images(images: np.ndarray) -> torch.Tensor:
    """uint8 NHWC -> float NCHW in [0, 1], the models' input."""
    return to_unit_float(to_nchw(images))


def data_section(canvas: Canvas, data: PreparedData, preview: Path, s: ReportSettings) -> Section:
    section = Section(
        "data",
        "Data",
        "A few training images of every class, then the augmentation the training used: each "
        "row is one image and random draws of its shifts, flips and erasing.",
    )
    fig = class_samples_figure(data.x_train, data.y_train, data.classes, s.samples_per_class)
    section.figures.append(canvas.save(fig, "samples.png", "Training samples per class"))
    section.figures.append(canvas.link(preview, "Augmentation preview (stage augment)"))
    return section


def filters_section(canvas: Canvas, data: PreparedData, s: ReportSettings) -> Section:
    section = Section(
        "filters",
        "Filters and edges",
        "Before a network learns its filters, hand-made ones show what a convolution does: "
        "Sobel kernels respond to vertical and horizontal edges, the Laplacian to any change "
        f"(a high-pass filter), and '{s.kernel_name}' is the kernel written in params.yaml "
        "(report.kernel). In frequency terms, a high-pass filter removes the centre of the "
        "spectrum, the smooth areas, and keeps the edges.",
    )
    kernels = {**filters.CLASSIC_KERNELS, f"{s.kernel_name} (params.yaml)": s.kernel}
    samples = data.x_test[_sample_rows(data, 3, s.sample_index)]
    fig = filters.kernels_figure(samples, kernels)
    section.figures.append(canvas.save(fig, "kernels.png", "Classic kernels on test images"))
    fig = filters.frequency_figure(data.x_test[s.sample_index])
    section.figures.append(canvas.save(fig, "frequency.png", "FFT magnitude and a high-pass"))
    return section


def _sample_rows(data: PreparedData, count: int, first: int) -> list[int]:
    """`first`, then the first images of other classes: varied samples, chosen reproducibly."""
    rows = [first]
    for label in range(len(data.classes)):
        candidates = np.flatnonzero(data.y_test == label)
        if len(rows) < count and len(candidates) and label != data.y_test[first]:
            rows.append(int(candidates[0]))
    return rows


def shapes_section(canvas: Canvas, data: PreparedData, s: ReportSettings) -> Section:
    section = Section(
        "shapes",
        "Stride, padding and pooling",
        "One image through a 3x3 convolution: without padding the map loses a pixel at each "
        "border, stride 2 halves it, and 2x2 pooling halves it again while keeping the strongest "
        "(max) or the mean (average) response. Each panel is titled with its output shape: "
        "out = floor((in + 2 x padding - kernel) / stride) + 1.",
    )
    fig = filters.shapes_figure(data.x_test[s.sample_index])
    section.figures.append(canvas.save(fig, "shapes.png", "Output shapes of conv and pooling"))
    return section


def learned_section(canvas: Canvas, subject: Subject, data: PreparedData, s: ReportSettings):
    name, first = conv_layers(subject.model)[0]
    section = Section(
        "learned",
        "Learned filters and activation maps",
        f"The first-layer filters that {subject.variant} learned ({name}), many of them edge "
        "and blob detectors like the hand-made kernels above; then the activation maps of "
        "every convolution and pooling layer for one test image: early maps look like "
        "filtered copies of the image, later ones are smaller and more abstract.",
    )
    fig = layers.filters_figure(first.weight, name)
    section.figures.append(canvas.save(fig, "learned_filters.png", f"{name} filters"))
    image = data.x_test[s.sample_index : s.sample_index + 1]
    maps = activations(subject.model, float_images(image), map_layers(subject.model))
    spatial = {name: out[0] for name, out in maps.items() if out.shape[-1] > 1}  # not 1x1 pools
    fig = layers.activation_maps_figure(image[0], spatial, s.channels)
    section.figures.append(canvas.save(fig, "activation_maps.png", "Activation maps"))
    return section


def patches_section(canvas: Canvas, subject: Subject, data: PreparedData, s: ReportSettings):
    section = Section(
        "patches",
        "What each layer sees",
        f"After Zeiler & Fergus (2014): for {s.channels} channels of each convolution, the {TOP} "
        f"patches of the first {s.patch_images} test images that excite it most, each cropped "
        "to the input region the layer can see (its receptive field, measured by backprop). "
        "Early layers pick edges and corners; deeper ones, larger parts of garments or objects.",
    )
    images = data.x_test[: s.patch_images]
    convs = conv_layers(subject.model)
    peaks = _peaks(subject.model, images, convs)
    shown = {}
    for name, module in convs:
        field_ = measure_receptive_field(subject.model, module, subject.ckpt.input_shape)
        shown[name] = list(enumerate(top_patches(peaks[name], images, field_)[: s.channels]))
    title = f"Top-{TOP} test patches per channel, {subject.variant}"
    fig = layers.top_patches_figure(shown, title)
    section.figures.append(canvas.save(fig, "top_patches.png", "Top-activating patches"))
    return section


def _peaks(model: nn.Module, images: np.ndarray, convs, batch: int = 256) -> dict[str, Peaks]:
    """Each conv channel's strongest response per image, batch by batch (bounded memory)."""
    parts: dict[str, list[Peaks]] = {name: [] for name, _ in convs}
    for start in range(0, len(images), batch):
        maps = activations(model, float_images(images[start : start + batch]), convs)
        for name, _ in convs:
            parts[name].append(Peaks.of(maps[name].numpy()))
    return {name: Peaks.concat(found) for name, found in parts.items()}


def attribution_section(canvas: Canvas, subject: Subject, data: PreparedData, s: ReportSettings):
    section = Section(
        "attribution",
        "Saliency, SmoothGrad and Grad-CAM, with their sanity check",
        "Which pixels a prediction depends on, for right and wrong predictions of "
        f"{subject.variant}. Saliency is the gradient of the predicted score with respect to "
        "each pixel (captum Saliency), noisy on these images; SmoothGrad averages it over "
        f"{SMOOTHGRAD_SAMPLES} noisy copies of the image (Smilkov et al. 2017) and reads better; "
        "Grad-CAM weighs the last convolution's maps by their gradient (captum LayerGradCam). "
        "The table is the sanity check of Adebayo et al. (2018): the layers are re-initialized "
        "from the output down and each column gives the Spearman rank correlation between the "
        "maps of the trained and the partly random network (mean over the images shown). A map "
        "that explains the model must lose its ranking; a Sobel edge map of the image, which "
        "never looks at the model, is the control that must fail. Integrated Gradients is "
        "checked too but not drawn: multiplying by the input keeps the image's outline.",
    )
    cpu = Runtime(torch.device("cpu"), "fp32", torch.get_num_threads())
    predicted = predict_logits(subject.model, to_nchw(data.x_test), cpu).argmax(1)
    truth = torch.from_numpy(data.y_test)
    right = torch.nonzero(predicted == truth).flatten()[: s.attributions]
    wrong = torch.nonzero(predicted != truth).flatten()[: s.attributions]
    methods = _attribution_methods(s.seed)
    shown = ("saliency", "SmoothGrad", "Grad-CAM")
    for kind, rows in (("right", right), ("wrong", wrong)):
        examples = [
            {"index": int(i), "true": int(truth[i]), "predicted": int(predicted[i])} for i in rows
        ]
        targets, x = predicted[rows], float_images(data.x_test[rows.numpy()])
        maps = {m: methods[m](subject.model, x, targets) if len(rows) else None for m in shown}
        fig = attribution_visuals.attribution_figure(
            data.x_test, examples, maps, data.classes, f"{kind.capitalize()} predictions"
        )
        section.figures.append(canvas.save(fig, f"attribution_{kind}.png", f"{kind} predictions"))
    rows = torch.cat([right, wrong])
    x = float_images(data.x_test[rows.numpy()])
    results = cascading_randomization(subject.model, x, predicted[rows], methods, s.seed)
    for result in results:
        log.info("sanity check, %s: %s", result.method, result.verdict)
    section.tables.append(sanity_table(results))
    return section


SMOOTHGRAD_SAMPLES = 16  # noisy copies per image; 16 is already smooth at 28x28


def _attribution_methods(seed: int) -> dict:
    """Name -> (model, images, targets) -> maps, in the sanity table's order."""
    return {
        "saliency": saliency,
        "SmoothGrad": lambda m, x, t: smoothgrad(m, x, t, SMOOTHGRAD_SAMPLES, seed=seed),
        "Integrated Gradients": integrated_gradients,
        "Grad-CAM": lambda m, x, t: grad_cam(m, conv_layers(m)[-1][1], x, t),
        "Sobel edges (control)": edge_map,
    }


def projection_section(canvas: Canvas, subject: Subject, data: PreparedData, s: ReportSettings):
    section = Section(
        "features",
        "Feature vectors",
        f"The penultimate-layer features of {subject.variant} for {s.projection_images} test "
        "images, projected to 2-D by PCA (a linear view) and t-SNE (which keeps neighbours "
        "together), coloured by true class. Classes that overlap here are the ones the "
        "network confuses.",
    )
    images = data.x_test[: s.projection_images]
    model = subject.model
    with torch.no_grad():
        features = model.features((float_images(images) - model.mean) / model.std)
    points = embed_2d(features.flatten(1).numpy(), s.seed)
    fig = projection_figure(
        points, data.y_test[: len(images)], data.classes, "Penultimate features"
    )
    section.figures.append(canvas.save(fig, "projection.png", "PCA and t-SNE of features"))
    return section


def maximization_section(canvas: Canvas, subject: Subject, s: ReportSettings) -> Section:
    section = Section(
        "maximization",
        "How the network sees a class",
        "Activation maximization: start from noise and follow the gradient that raises one "
        "class score (top row) or one channel of the last convolution (bottom row). Before: "
        "ascent on the pixels, jittering and blurring as it goes, which still draws textures. "
        "After: the image parameterized by its 1/f-scaled Fourier spectrum and optimized "
        "through random shifts, zooms and rotations (Olah et al. 2017, Feature Visualization), "
        "so that only shapes that survive small moves grow. These are what the network looks "
        "for, not what the data look like.",
    )
    shape = subject.ckpt.input_shape
    classes = list(subject.ckpt.classes)
    name, last_conv = conv_layers(subject.model)[-1]
    channels = list(range(min(s.channels, last_conv.out_channels)))
    labels = [f"ch {c}" for c in channels]
    for settings, file, caption in (
        (AscentSettings(steps=s.ascent_steps), "maximization.png", "before: pixel space"),
        (FourierSettings(steps=s.ascent_steps), "maximization_fourier.png", "after: Fourier"),
    ):
        dreams = class_images(subject.model, shape, len(classes), settings, s.seed)
        channel_dreams = channel_images(subject.model, last_conv, channels, shape, settings, s.seed)
        rows = {"class": (dreams, classes), name: (channel_dreams, labels)}
        fig = dream_figure(rows, f"Images {subject.variant} would most like to see ({caption})")
        section.figures.append(canvas.save(fig, file, f"Activation maximization, {caption}"))
    return section


def capsule_section(canvas: Canvas, subject: Subject, data: PreparedData, count: int = 6):
    """The capsule network's own view (Sabour et al. 2017): lengths as class presence and,
    with the decoder, what the dimensions of a class capsule encode (the paper's figure 4)."""
    section = Section(
        "capsules",
        "Capsules",
        f"{subject.variant} is a capsule network: each class is a vector whose length is the "
        "probability that the class is present (the dashed lines are the margin loss's 0.1 and "
        "0.9 targets). With the reconstruction decoder, the predicted capsule alone rebuilds the "
        "image, and nudging one of its dimensions at a time shows what each encodes.",
    )
    images, labels = to_nchw(data.x_test[:count]), data.y_test[:count]
    model, folder = subject.model, canvas.folder
    capsule_visuals.capsule_lengths_figure(
        model, images, labels, data.classes, folder / "capsule_lengths.png"
    )
    section.figures.append(canvas.link(folder / "capsule_lengths.png", "Class-capsule lengths"))
    if model.decoder is not None:
        capsule_visuals.reconstruction_figure(
            model, images, data.classes, folder / "reconstructions.png"
        )
        capsule_visuals.perturbation_figure(
            model, images[0], data.classes, folder / "perturbations.png"
        )
        section.figures += [
            canvas.link(folder / "reconstructions.png", "Reconstructions from the capsule"),
            canvas.link(folder / "perturbations.png", "One capsule dimension at a time"),
        ]
    return section


@dataclass(frozen=True)
class Results:
    """What earlier stages wrote that the results section shows."""

    curves: dict  # variant -> curves from figures.curves.read_curves
    leaderboard: object  # pandas DataFrame
    best: dict  # models/best.json
    confusion: Path  # the best variant's confusion PNG
    tradeoff: Path
    corruptions: Path  # accuracy against corruption severity, one line per variant
    benchmark: dict | None  # reports/benchmark.json when present
    benchmark_plot: Path | None


def results_section(canvas: Canvas, results: Results) -> Section:
    best = results.best["variant"]
    section = Section(
        "results",
        "Results",
        f"Every variant's training curves and the leaderboard (chosen: {best}, "
        f"{results.best['reason']}), accuracy on corrupted test images (docs/corruptions.md), "
        "the chosen model's test confusion matrix and, when the benchmark stage has run, "
        "inference speed of PyTorch and onnxruntime.",
    )
    fig = curves_figure(results.curves)
    section.figures.append(canvas.save(fig, "curves.png", "Training curves of every variant"))
    section.tables.append(leaderboard_table(results.leaderboard))
    section.figures.append(canvas.link(results.tradeoff, "Accuracy against cost"))
    section.figures.append(
        canvas.link(results.corruptions, "Accuracy on corrupted test images, by severity")
    )
    section.figures.append(canvas.link(results.confusion, f"Test confusion matrix of {best}"))
    if results.benchmark is not None:
        section.tables.append(benchmark_table(results.benchmark))
        if results.benchmark_plot is not None:
            section.figures.append(canvas.link(results.benchmark_plot, "Inference benchmark"))
    return section


def trust_section(canvas: Canvas, export: dict) -> Section:
    """Calibration and the out-of-distribution flag of the exported model (stage export)."""
    cal, ood = export["calibration"], export["ood"]
    section = Section(
        "trust",
        "Calibrated probabilities and inputs unlike the training data",
        f"The exported {export['variant']} divides its logits by T = {cal['temperature']:.3f}, "
        f"fitted on the validation split to minimize NLL, before the softmax of its "
        f"probabilities output; below, test ECE and NLL before and after. `convnets predict` "
        f"calls an input unsure when its {ood['score']} score is below {ood['threshold']:.4g} "
        f"(95% of validation images pass; {ood['test_pass_rate']:.1%} of test images do), or "
        "when nothing stands out from its background. The OOD sets ship offline with "
        "scikit-learn (handwritten digits, crops of two photographs) or are generated (noise, "
        "one-colour images); AUROC uses the test split as the in-distribution side.",
    )
    fig = reliability_figure(cal["bins"], f"Reliability of {export['variant']} on the test split")
    section.figures.append(canvas.save(fig, "reliability.png", "Reliability diagram"))
    section.tables.extend(trust_tables(export))
    return section


def data_checks_section(canvas: Canvas, folder: Path) -> Section:
    """What `prepare` found in the data and what `label_issues` suspects (reports/data)."""
    checks = io.read_json(folder / "checks.json", producer="prepare")
    issues = io.read_json(folder / "label_issues.json", producer="label_issues")
    notes = checks["notes"]
    doubted = (
        f"not checked: {issues['skipped']}"
        if issues["skipped"]
        else f"confident learning (cleanlab) on the out-of-sample probabilities of "
        f"{issues['variant']} flags {issues['total']['flagged']} validation and test images "
        "whose given label the model doubts; the most likely first, with the label it suggests"
    )
    section = Section(
        "data-checks",
        "Data checks and likely label errors",
        f"{len(notes)} finding(s) before training (bad or stray files, duplicates within and "
        "across splits, small or imbalanced classes), each with its fix; the full list is "
        f"{(folder / 'checks.md').as_posix()}. Likely label errors: {doubted}. A flag is a "
        "reason to look, not a verdict.",
    )
    section.figures.append(canvas.link(folder / "balance.png", "Images per class and split"))
    section.figures.append(
        canvas.link(folder / "label_issues.png", "Most likely label errors (given / suggested)")
    )
    section.tables.append(notes_table(notes))
    section.tables.append(label_issues_table(issues["top"]))
    return section
