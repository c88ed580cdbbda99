"""The corruption benchmark's names, families and strengths, without torch: params validation
reads the names from here, the benchmark (`corruptions`) applies them.

Strengths are one per severity 1 to 5, in grey levels (0 to 255) and pixels of a 28x28 picture
(scaled to other sizes), chosen so that severity 1 is a picture people would still call clean and
severity 5 one they would call bad. docs/corruptions.md explains each.
"""

from __future__ import annotations

SEVERITIES = (1, 2, 3, 4, 5)
FAMILIES = ("noise", "blur", "digital", "geometric", "occlusion")  # the report's panels

# name: (family, strength at severities 1..5, unit)
SUITE: dict[str, tuple[str, tuple[float, ...], str]] = {
    "gaussian_noise": ("noise", (8, 16, 24, 36, 48), "std, grey levels"),
    "shot_noise": ("noise", (60, 30, 15, 8, 4), "photons at full white"),
    "impulse_noise": ("noise", (0.01, 0.02, 0.04, 0.07, 0.1), "fraction of pixels"),
    "gaussian_blur": ("blur", (0.5, 0.7, 0.9, 1.1, 1.4), "sigma, pixels"),
    "motion_blur": ("blur", (2, 3, 4, 5, 6), "streak length, pixels"),
    "pixelate": ("blur", (2, 3, 4, 5, 6), "block side, pixels"),
    "jpeg": ("digital", (60, 40, 25, 15, 8), "JPEG quality"),
    "brightness": ("digital", (20, 40, 60, 80, 100), "grey levels added"),
    "contrast": ("digital", (0.7, 0.55, 0.4, 0.3, 0.2), "factor about the mean"),
    "rotate": ("geometric", (8, 15, 22, 30, 40), "degrees, either way"),
    "shear": ("geometric", (0.1, 0.2, 0.3, 0.4, 0.5), "shear factor, either way"),
    "scale": ("geometric", (0.08, 0.15, 0.22, 0.3, 0.4), "zoom in or out by 1 +- x"),
    "translate": ("geometric", (1, 2, 3, 4, 5), "pixels, any direction"),
    "occlusion": ("occlusion", (4, 6, 8, 10, 12), "side of a grey square, pixels"),
    "stripes": ("occlusion", (0.08, 0.14, 0.2, 0.27, 0.35), "amplitude, fraction of white"),
}
NAMES = tuple(SUITE)


def family(name: str) -> str:
    return SUITE[name][0]


def strength(name: str, severity: int) -> float:
    return SUITE[name][1][severity - 1]
