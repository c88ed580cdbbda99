"""Batched augmentation: per-image randomness, seeded, shape- and dtype-preserving."""

from __future__ import annotations

import torch

from convnets.data.augmentation import (
    AugmentSettings,
    Photometric,
    augment_batch,
    augmented_copies,
)

OFF = AugmentSettings(0, False, 0.0, 0.0)


def images(n=64, c=1, size=12):
    return torch.randint(
        0, 256, (n, c, size, size), generator=torch.Generator().manual_seed(1), dtype=torch.uint8
    )


def test_identity_settings_return_equal_copy():
    x = images()
    out = augment_batch(x, OFF, torch.Generator().manual_seed(0))
    assert torch.equal(out, x) and out.data_ptr() != x.data_ptr()


def test_flip_only_flips_some_images_exactly():
    x = images()
    out = augment_batch(x, AugmentSettings(0, True, 0.0, 0.0), torch.Generator().manual_seed(0))
    flipped = torch.tensor([torch.equal(o, i.flip(-1)) for o, i in zip(out, x, strict=True)])
    kept = torch.tensor([torch.equal(o, i) for o, i in zip(out, x, strict=True)])
    assert (flipped | kept).all()
    assert 10 < flipped.sum() < 54  # per-image draws, not one draw for the whole batch


def test_crop_padding_shifts_by_whole_pixels_within_range():
    x = images(n=32, size=10)
    out = augment_batch(x, AugmentSettings(2, False, 0.0, 0.0), torch.Generator().manual_seed(3))
    shifts = set()
    for o, i in zip(out, x, strict=True):
        padded = torch.nn.functional.pad(i, (2, 2, 2, 2))
        matches = [
            (dy, dx)
            for dy in range(5)
            for dx in range(5)
            if torch.equal(padded[:, dy : dy + 10, dx : dx + 10], o)
        ]
        assert matches, "every output is a crop of the zero-padded input"
        shifts.add(matches[0])
    assert len(shifts) > 5


def test_erasing_zeroes_a_rectangle_in_chosen_images():
    x = images(n=40).clamp_min(1)  # no natural zeros, so every zero is an erased pixel
    settings = AugmentSettings(0, False, 0.0, 1.0)
    out = augment_batch(x, settings, torch.Generator().manual_seed(0))
    for o in out:
        zeros = (o[0] == 0).nonzero()
        assert len(zeros) > 0
        rows, cols = zeros[:, 0], zeros[:, 1]
        height = rows.max() - rows.min() + 1
        width = cols.max() - cols.min() + 1
        assert len(zeros) == height * width  # one solid rectangle


def test_rotation_keeps_shape_dtype_and_changes_pixels():
    x = images(n=8, c=3, size=16)
    out = augment_batch(x, AugmentSettings(0, False, 30.0, 0.0), torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == torch.uint8
    assert not torch.equal(out, x)


def test_copies_are_seeded():
    x = images()
    settings = AugmentSettings(2, True, 10.0, 0.5)
    first = augmented_copies(x, settings, copies=2, seed=5, batch_size=16)
    again = augmented_copies(x, settings, copies=2, seed=5, batch_size=16)
    other = augmented_copies(x, settings, copies=2, seed=6, batch_size=16)
    assert first.shape == (128, *x.shape[1:])
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert augmented_copies(x, settings, copies=0, seed=5).shape == (0, *x.shape[1:])


def photometric(p=1.0, blur=0.0, contrast=0.0, brightness=0.0, noise=0.0) -> AugmentSettings:
    return AugmentSettings(
        0, False, 0.0, 0.0, photometric=Photometric(p, blur, contrast, brightness, noise)
    )


def garments(n=64, size=16) -> torch.Tensor:
    """Mid-grey squares on dark grey: room to get lighter, darker, blurrier and noisier."""
    gen = torch.Generator().manual_seed(2)
    x = torch.full((n, 1, size, size), 40.0)
    x[..., 4:12, 4:12] = torch.randint(80, 170, (n, 1, 1, 1), generator=gen).float()
    return x.to(torch.uint8)


def changed(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return (out != x).flatten(1).any(1)


def roughness(x: torch.Tensor) -> torch.Tensor:
    """Per image: mean squared difference of neighbouring pixels."""
    x = x.float()
    return (x.diff(dim=-1) ** 2).mean((1, 2, 3)) + (x.diff(dim=-2) ** 2).mean((1, 2, 3))


def test_blur_smooths_and_noise_roughens_each_image_it_reaches():
    x, gen = garments(), torch.Generator().manual_seed(0)
    for settings, rougher in ((photometric(blur=1.5), False), (photometric(noise=30), True)):
        out = augment_batch(x, settings, gen)
        hit = (out.float() - x.float()).abs().mean((1, 2, 3)) > 1.5  # not a near-zero strength
        assert hit.float().mean() > 0.5
        assert ((roughness(out) > roughness(x))[hit] == rougher).all()


def test_brightness_goes_both_ways_and_contrast_only_fades():
    x, gen = garments(), torch.Generator().manual_seed(0)
    shift = augment_batch(x, photometric(brightness=60), gen).float().mean((1, 2, 3))
    shift -= x.float().mean((1, 2, 3))
    assert (shift > 5).sum() > 10 and (shift < -5).sum() > 10
    faded = augment_batch(x, photometric(contrast=0.8), gen).float().std((1, 2, 3))
    assert (faded <= x.float().std((1, 2, 3)) + 0.5).all() and (
        faded < x.float().std((1, 2, 3)) - 5
    ).any()


def test_photometric_changes_reach_the_stated_share_of_images_seeded():
    x = garments(n=400)
    out = augment_batch(x, photometric(p=0.3, noise=30), torch.Generator().manual_seed(4))
    assert 0.22 < changed(out, x).float().mean() < 0.38
    again = augment_batch(x, photometric(p=0.3, noise=30), torch.Generator().manual_seed(4))
    assert torch.equal(out, again)
    assert AugmentSettings(0, False, 0.0, 0.0, photometric=None).is_identity


def test_scale_zooms_each_image_within_the_range():
    x = torch.zeros(64, 1, 28, 28, dtype=torch.uint8)
    x[..., 10:18, 10:18] = 200
    out = augment_batch(
        x, AugmentSettings(0, False, 0.0, 0.0, scale=0.3), torch.Generator().manual_seed(0)
    )
    side = out.float().sum((1, 2, 3)).div(200).sqrt()  # mass is kept as area: side ~ 8 * zoom
    assert (side > 8 * 0.68).all() and (side < 8 * 1.32).all()
    assert (side < 8 * 0.85).any() and (side > 8 * 1.15).any()


def test_a_changed_image_gets_one_of_the_changes_and_the_rest_stay_clean():
    x = garments(n=200)  # 40 to 170: nothing clips, a brightness change is one offset everywhere
    settings = photometric(p=0.6, brightness=35, noise=12)
    out = augment_batch(x, settings, torch.Generator().manual_seed(5)).float()
    difference = (out - x.float()).flatten(1)
    spread, offset = difference.std(1), difference.mean(1).abs()
    assert (offset[spread > 0] < 2).all(), "noise, and no change of brightness with it"
    lit, noisy = (spread == 0) & (offset > 0), spread > 0.5
    assert lit.sum() > 40 and noisy.sum() > 40
    assert 0.3 < (difference == 0).all(1).float().mean() < 0.5  # 1 - p, and near-zero strengths
