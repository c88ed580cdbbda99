"""A folder of the user's own pictures: its layout refused or listed, every odd file decoded or
reported, and the same bytes whatever the number of processes."""

from __future__ import annotations

import io as stdio

import numpy as np
import pytest
from PIL import Image

from convnets.data.decoding import Decoding, decode_folder
from convnets.data.folder import list_folder
from convnets.data.ingested import assemble, hold_out, load_ingested, save_ingested
from convnets.errors import ConvnetsError
from convnets.photos import fit
from tests.folders import DIGIT_NAMES, write_digit_folder

GREY_PAD = Decoding(16, 16, "auto", "pad", "skip")


def _square(colour, size=(20, 12), mode="RGB") -> Image.Image:
    """A picture with a bright square on a dark ground: its centre pixel is `colour`."""
    image = Image.new(mode, size, 0)
    w, h = size
    image.paste(colour, (w // 4, h // 4, 3 * w // 4, 3 * h // 4))
    return image


def _two_classes(root, **files):
    """root/a and root/b with the given {name: PIL image or bytes} in class a, one PNG in b."""
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    _square(200, mode="L").save(root / "b" / "plain.png")
    for name, content in files.items():
        path = root / "a" / name.replace("__", ".")
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            content.save(path)
    return root


def test_class_names_are_the_sorted_subfolders_spaces_and_accents_kept(tmp_path):
    write_digit_folder(tmp_path / "digits", size=8, per_class=3)
    (tmp_path / "digits" / "notes.txt").write_text("a stray file at the top")
    listing = list_folder(tmp_path / "digits")
    assert listing.classes == tuple(sorted(DIGIT_NAMES))
    assert len(listing.files) == 30 and set(listing.splits) == {"train"}
    for path, label in zip(listing.files, listing.labels, strict=True):
        assert path.parent.name == listing.classes[label]
    assert any("notes.txt" in note and "class folder" in note for note in listing.notes)


def test_train_and_test_subfolders_give_the_users_own_test_split(tmp_path):
    write_digit_folder(tmp_path / "d", size=8, per_class=4, test_every=4)
    listing = list_folder(tmp_path / "d")
    assert listing.has_test and listing.classes == tuple(sorted(DIGIT_NAMES))
    tests = [f for f, s in zip(listing.files, listing.splits, strict=True) if s == "test"]
    assert tests and all(path.parts[-3] == "test" for path in tests)


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda root: None, "does not exist"),
        (lambda root: root.mkdir(), "no class subfolders"),
        (
            lambda root: (root / "x.png").parent.mkdir() or _square(9).save(root / "x.png"),
            "no class",
        ),
        (lambda root: (root / "only").mkdir(parents=True), "one class"),
        (
            lambda root: (
                [(root / c).mkdir(parents=True) for c in "ab"]
                and _square(9).save(root / "a" / "x.png")
            ),
            "class folder 'b' holds no picture",
        ),
        (
            lambda root: [
                (root / s / c).mkdir(parents=True)
                for s, c in [("train", "a"), ("train", "b"), ("test", "a"), ("test", "c")]
            ],
            "same class subfolders",
        ),
    ],
    ids=["missing", "empty", "no-subfolders", "one-class", "empty-class", "test-classes-differ"],
)
def test_a_folder_of_the_wrong_shape_is_refused_before_any_decoding(tmp_path, make, problem):
    root = tmp_path / "images"
    make(root)
    with pytest.raises(ConvnetsError, match=problem) as caught:
        list_folder(root)
    assert "Fix:" in str(caught.value) and "\n" not in str(caught.value)


def _png_16bit(level: int) -> bytes:
    buffer = stdio.BytesIO()
    Image.fromarray(np.full((10, 10), level, dtype=np.uint16)).save(buffer, format="PNG")
    return buffer.getvalue()


def _exif_rotated() -> bytes:
    """A 20x10 picture whose EXIF says: rotate 90 degrees (a phone held upright)."""
    image = Image.new("L", (20, 10), 0)
    image.paste(255, (0, 0, 5, 10))  # bright on the left edge
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    buffer = stdio.BytesIO()
    image.save(buffer, format="JPEG", exif=exif, quality=95)
    return buffer.getvalue()


def test_odd_modes_and_formats_decode_to_the_right_pixels(tmp_path):
    palette = _square(200, mode="L").convert("P")
    rgba = Image.new("RGBA", (12, 12), (255, 255, 255, 0))
    rgba.paste((0, 0, 255, 255), (3, 3, 9, 9))
    root = _two_classes(
        tmp_path / "odd",
        grey16__png=_png_16bit(65535),
        palette__gif=palette,
        cmyk__jpg=_square((0, 255, 255, 0), mode="CMYK"),  # cyan ink off, so red on black
        rgba__png=rgba,
        bmp__bmp=_square((0, 255, 0)),
        webp__webp=_square((0, 0, 255)),
        upright__jpg=_exif_rotated(),
    )
    listing = list_folder(root)
    decoded = decode_folder(listing, Decoding(12, 12, 3, "stretch", "fail"), workers=1)
    assert decoded.images.shape == (8, 12, 12, 3) and decoded.bad == ()
    by_name = {listing.files[i].stem: decoded.images[n] for n, i in enumerate(decoded.kept)}
    centre = {name: tuple(int(v) for v in image[6, 6]) for name, image in by_name.items()}
    assert centre["grey16"] == (255, 255, 255)  # 16-bit white scaled, not clipped to 255 grey
    assert centre["palette"] == (200, 200, 200)
    assert centre["cmyk"][0] > 200 and max(centre["cmyk"][1:]) < 60
    assert centre["rgba"] == (0, 0, 255)  # transparency over white, the square opaque
    assert centre["bmp"] == (0, 255, 0)
    assert centre["webp"][2] > 200 and max(centre["webp"][:2]) < 60  # lossy, so nearly
    upright = by_name["upright"]  # rotated by its EXIF: the bright edge is now on top
    assert upright[0].mean() > 150 and upright[-1].mean() < 60


def test_channels_auto_is_grey_unless_a_picture_is_in_colour(tmp_path):
    grey = _two_classes(tmp_path / "grey", one__png=_square(90, mode="L"))
    assert decode_folder(list_folder(grey), GREY_PAD, 1).images.shape[-1] == 1
    colour = _two_classes(tmp_path / "colour", one__png=_square((90, 10, 10)))
    assert decode_folder(list_folder(colour), GREY_PAD, 1).images.shape[-1] == 3
    # grey pictures saved as RGB (R = G = B everywhere): one channel, the same pixels as "L"
    saved = _two_classes(
        tmp_path / "saved", one__jpg=_square((90, 90, 90)), two__png=_square((200, 200, 200))
    )
    decoded = decode_folder(list_folder(saved), GREY_PAD, 1)
    as_grey = decode_folder(list_folder(saved), Decoding(16, 16, 1, "pad", "skip"), 1)
    assert decoded.images.shape[-1] == 1
    np.testing.assert_array_equal(decoded.images, as_grey.images)


def _truncated_jpeg() -> bytes:
    buffer = stdio.BytesIO()
    Image.effect_noise((64, 64), 40).save(buffer, format="JPEG")
    return buffer.getvalue()[:400]


def test_broken_files_are_listed_with_their_fix_and_skipped(tmp_path):
    root = _two_classes(
        tmp_path / "broken",
        good__png=_square(120, mode="L"),
        empty__png=b"",
        text__jpg=b"this is not a picture",
        cut__jpg=_truncated_jpeg(),
    )
    listing = list_folder(root)
    decoded = decode_folder(listing, GREY_PAD, workers=1)
    assert len(decoded.images) == 2  # good.png and b/plain.png
    kept = {listing.files[i].name for i in decoded.kept}
    assert kept == {"good.png", "plain.png"}
    assert len(decoded.bad) == 3
    for name in ("empty.png", "text.jpg", "cut.jpg"):
        line = next(line for line in decoded.bad if name in line)
        assert "Fix:" in line
    assert "empty file" in next(line for line in decoded.bad if "empty.png" in line)
    with pytest.raises(ConvnetsError, match="bad_files"):
        decode_folder(listing, Decoding(16, 16, "auto", "pad", "fail"), workers=1)


def test_a_class_with_no_readable_picture_is_refused(tmp_path):
    root = tmp_path / "f"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    _square(99, mode="L").save(root / "a" / "ok.png")
    (root / "b" / "broken.png").write_bytes(b"")
    listing = list_folder(root)
    decoded = decode_folder(listing, GREY_PAD, 1)
    with pytest.raises(ConvnetsError, match="'b' has no readable picture"):
        assemble(root, listing, decoded, "pad", 0.2, 1, seed=0)


def test_prepare_at_scale_is_byte_identical_with_one_and_two_processes(tmp_path):
    root = write_digit_folder(tmp_path / "digits", size=24, per_class=60, suffix=".jpg")
    listing = list_folder(root)
    decoding = Decoding(20, 20, "auto", "pad", "skip")
    written = []
    for workers in (1, 2):
        decoded = decode_folder(listing, decoding, workers)
        data = assemble(root, listing, decoded, "pad", 0.2, 10, seed=3)
        save_ingested(tmp_path / f"{workers}.npz", data)
        written.append((tmp_path / f"{workers}.npz").read_bytes())
    assert written[0] == written[1]
    loaded = load_ingested(tmp_path / "2.npz")
    assert loaded.images.shape == (600, 20, 20, 1) and loaded.classes == tuple(sorted(DIGIT_NAMES))
    assert loaded.files[0].startswith(f"{sorted(DIGIT_NAMES)[0]}/") and loaded.files[0].endswith(
        ".jpg"
    )


def test_held_out_test_split_is_seeded_and_stratified():
    labels = np.repeat(np.arange(3), [10, 20, 5])
    mask = hold_out(labels, 0.2, seed=1)
    assert [int(mask[labels == c].sum()) for c in range(3)] == [2, 4, 1]
    assert np.array_equal(mask, hold_out(labels, 0.2, seed=1))
    assert not np.array_equal(mask, hold_out(labels, 0.2, seed=2))


@pytest.mark.parametrize("framing", ["pad", "crop", "stretch"])
def test_each_framing_gives_the_size_asked_and_keeps_what_it_promises(framing):
    wide = Image.new("L", (40, 20), 30)  # a wide picture: grey ground, white bar in the middle
    wide.paste(255, (18, 0, 22, 20))
    out = fit(wide, 16, 16, grey=True, framing=framing)
    assert out.shape == (16, 16, 1)
    column = out[:, 8, 0]
    if framing == "pad":  # whole picture kept: bands of the border colour above and below
        assert out[0, :, 0].max() <= 31 and out[-1, :, 0].max() <= 31 and column.max() > 200
    elif framing == "crop":  # the centre 20x20 scaled up: the bar fills top to bottom
        assert column.min() > 200
    else:  # squeezed: the bar narrower than the crop's
        assert (
            column.min() > 150
            and (out[8, :, 0] > 150).sum() < (fit(wide, 16, 16, True, "crop")[8, :, 0] > 150).sum()
        )
