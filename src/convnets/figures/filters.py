"""The lesson's hand-made filters: edges, frequency content, and how stride, padding and pooling
change a feature map's shape. Everything here is a fixed kernel, so no model is needed."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from convnets.figures.style import bare, show_image

CLASSIC_KERNELS: dict[str, list[list[float]]] = {
    "Sobel x (vertical edges)": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "Sobel y (horizontal edges)": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "Laplacian (high-pass)": [[0, -1, 0], [-1, 4, -1], [0, -1, 0]],
}


def grayscale(image: np.ndarray) -> np.ndarray:
    """A uint8 (H, W, C) image as float (H, W) in [0, 1]; colour images by ITU-R 601 luma."""
    pixels = image.astype(np.float32) / 255.0
    if pixels.shape[-1] == 1:
        return pixels[..., 0]
    return pixels @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def convolve(image: np.ndarray, kernel, stride: int = 1, padding: int = 1) -> np.ndarray:
    """Cross-correlate a (H, W) image with a 2-D kernel, as nn.Conv2d does."""
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None, None]
    w = torch.tensor(kernel, dtype=torch.float32)[None, None]
    return F.conv2d(x, w, stride=stride, padding=padding)[0, 0].numpy()


def kernels_figure(images: np.ndarray, kernels: dict[str, list[list[float]]]):
    """Rows: sample images; columns: the image, then its response to each kernel."""
    rows, cols = len(images), 1 + len(kernels)
    fig = plt.figure(figsize=(2.0 * cols, 2.0 * rows + 0.5))
    axes = fig.subplots(rows, cols, squeeze=False)
    for row, image in enumerate(images):
        show_image(axes[row, 0], image, "image" if row == 0 else None)
        gray = grayscale(image)
        for col, (name, kernel) in enumerate(kernels.items(), start=1):
            response = convolve(gray, kernel, padding=len(kernel) // 2)
            limit = float(np.abs(response).max()) or 1.0
            axes[row, col].imshow(response, cmap="RdBu_r", vmin=-limit, vmax=limit)
            bare(axes[row, col])
            if row == 0:
                axes[row, col].set_title(name, fontsize=8)
    fig.suptitle("Hand-made kernels: red is a positive response, blue negative", fontsize=10)
    fig.tight_layout()
    return fig


def high_pass(image: np.ndarray, keep_radius: float) -> np.ndarray:
    """Remove spatial frequencies within `keep_radius` of zero (the smooth parts of the image)."""
    spectrum = np.fft.fftshift(np.fft.fft2(image))
    h, w = image.shape
    yy, xx = np.ogrid[:h, :w]
    spectrum[np.hypot(yy - h // 2, xx - w // 2) <= keep_radius] = 0
    return np.real(np.fft.ifft2(np.fft.ifftshift(spectrum)))


def log_magnitude(image: np.ndarray) -> np.ndarray:
    """The centred FFT magnitude on a log scale: low frequencies in the middle."""
    return np.log1p(np.abs(np.fft.fftshift(np.fft.fft2(image))))


def frequency_figure(image: np.ndarray, radius: float = 3.0):
    """An image and its spectrum, before and after a high-pass filter (which keeps the edges)."""
    gray = grayscale(image)
    filtered = high_pass(gray, radius)
    panels = (
        ("image", gray, "gray"),
        ("FFT magnitude (log)", log_magnitude(gray), "magma"),
        (f"high-pass (r <= {radius:g} removed)", filtered, "gray"),
        ("its FFT magnitude (log)", log_magnitude(filtered), "magma"),
    )
    fig, axes = plt.subplots(1, 4, figsize=(10, 2.9))
    for ax, (title, data, cmap) in zip(axes, panels, strict=True):
        ax.imshow(data, cmap=cmap)
        ax.set_title(title, fontsize=8)
        bare(ax)
    fig.suptitle("Frequency content: a high-pass filter keeps the edges, drops the flat areas")
    fig.tight_layout()
    return fig


def shape_panels(image: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """One image through convolutions of stride 1 and 2, padding 0 and 1, then max and average
    pooling, each titled with its output shape, so the arithmetic
    out = floor((in + 2*padding - kernel) / stride) + 1 can be read off the panels."""
    gray = grayscale(image)
    edges = CLASSIC_KERNELS["Sobel x (vertical edges)"]
    panels = [(f"input {gray.shape[0]}x{gray.shape[1]}", gray)]
    for stride, padding in ((1, 0), (1, 1), (2, 0), (2, 1)):
        out = convolve(gray, edges, stride=stride, padding=padding)
        panels.append((f"3x3 conv, stride {stride}, pad {padding}: {_shape(out)}", out))
    same = torch.from_numpy(convolve(gray, edges, padding=1))[None, None]
    for name, pool in (("max", F.max_pool2d), ("average", F.avg_pool2d)):
        out = pool(same.abs(), kernel_size=2)[0, 0].numpy()
        panels.append((f"|conv| then 2x2 {name} pool: {_shape(out)}", out))
    return panels


def _shape(array: np.ndarray) -> str:
    return f"{array.shape[0]}x{array.shape[1]}"


def shapes_figure(image: np.ndarray):
    """The panels of `shape_panels`, drawn at the same pixel scale so sizes compare by eye."""
    panels = shape_panels(image)
    fig, axes = plt.subplots(1, len(panels), figsize=(2.3 * len(panels), 2.9))
    size = panels[0][1].shape[0]
    for ax, (title, data) in zip(axes, panels, strict=True):
        ax.imshow(data, cmap="gray", extent=(0, data.shape[1], data.shape[0], 0))
        ax.set_xlim(0, size)
        ax.set_ylim(size, 0)
        ax.set_title(title, fontsize=7)
        bare(ax)
    fig.suptitle("Stride shrinks the map, padding keeps the border, pooling halves it")
    fig.tight_layout()
    return fig
