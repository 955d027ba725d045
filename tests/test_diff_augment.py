"""DiffAugment: each transformation does what it says, per image, and lets gradients through."""

import pytest
import torch

from training.models import diff_augment as da


def images(n: int = 8, channels: int = 3, size: int = 16) -> torch.Tensor:
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(0))


def test_translation_moves_each_image_by_whole_pixels_within_an_eighth():
    torch.manual_seed(0)
    x = images(size=32)
    moved = da.translation(x)
    for before, after in zip(x, moved, strict=True):
        found = [
            (dy, dx)
            for dy in range(-4, 5)
            for dx in range(-4, 5)
            if torch.equal(after[:, 8:24, 8:24], before[:, 8 - dy : 24 - dy, 8 - dx : 24 - dx])
        ]
        assert len(found) == 1, "not a whole-pixel shift of at most 4 pixels"
    assert not torch.equal(moved, x)


def test_cutout_zeroes_one_square_of_half_the_side_per_image():
    torch.manual_seed(1)
    cut = da.cutout(torch.ones(6, 1, 16, 16))
    for one in cut[:, 0]:
        zeros = (one == 0).nonzero()
        height = zeros[:, 0].max() - zeros[:, 0].min() + 1
        width = zeros[:, 1].max() - zeros[:, 1].min() + 1
        assert len(zeros) == height * width and max(height, width) <= 8  # one square, clipped


def test_color_draws_per_image_and_keeps_grey_images_grey():
    torch.manual_seed(2)
    shifted = da.color(images(channels=3)) - images(channels=3)
    assert len({round(float(d.mean()), 4) for d in shifted}) == 8
    assert da.color(images(channels=1)).shape == (8, 1, 16, 16)


def test_gradients_flow_through_every_policy():
    x = images().requires_grad_()
    da.diff_augment(x, "color,translation,cutout").sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_an_empty_policy_is_the_identity_and_unknown_names_are_refused():
    x = images()
    assert torch.equal(da.diff_augment(x, ""), x)
    with pytest.raises(ValueError, match="color, translation, cutout"):
        da.parse("color,flip")
