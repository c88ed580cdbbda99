"""Batched augmentation: per-image randomness, seeded, shape- and dtype-preserving."""

from __future__ import annotations

import torch

from convnets.data.augmentation import AugmentSettings, augment_batch, augmented_copies

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
