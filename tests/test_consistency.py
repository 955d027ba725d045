"""bCR: the discriminator's penalty for scoring a flipped, shifted image unlike the image."""

import torch

from training.models.consistency import consistency_penalty, flip_and_shift


def centred_blobs(count: int = 32) -> torch.Tensor:
    """Images whose content sits well inside the frame: a shift of up to 1/8 keeps all of it."""
    images = torch.zeros(count, 1, 28, 28)
    images[:, :, 10:18, 11:16] = torch.rand(count, 1, 8, 5)
    return images


def test_flip_and_shift_mirrors_about_half_and_moves_content_by_at_most_an_eighth():
    torch.manual_seed(0)
    images = torch.zeros(400, 1, 28, 28)
    images[:, :, 14, 8] = 1  # one lit pixel, left of centre: x = 8, or 19 when mirrored
    moved = flip_and_shift(images)
    rows, cols = (moved[:, 0] == 1).nonzero()[:, 1:].T
    assert len(rows) == 400 and (moved.sum(dim=(1, 2, 3)) == 1).all()  # moved, never lost
    assert (rows - 14).abs().max() <= 4
    mirrored = cols > 13
    assert ((cols[~mirrored] - 8).abs().max() <= 4) and ((cols[mirrored] - 19).abs().max() <= 4)
    assert 150 < mirrored.sum() < 250


def test_the_penalty_is_zero_for_an_invariant_discriminator_and_not_for_others():
    torch.manual_seed(0)
    real, fake = centred_blobs(), centred_blobs()

    def total(images: torch.Tensor) -> torch.Tensor:  # blind to where the content is
        return images.sum(dim=(1, 2, 3))

    def left_half(images: torch.Tensor) -> torch.Tensor:  # sees where it is
        return images[..., :14].sum(dim=(1, 2, 3))

    assert consistency_penalty(total, (real, total(real)), (fake, total(fake))) < 1e-9
    judged = [(images, left_half(images)) for images in (real, fake)]
    penalty = consistency_penalty(left_half, *judged)
    assert penalty > 0.1
    one_kind = consistency_penalty(left_half, judged[0])
    assert 0 < one_kind < penalty  # the sum over real and generated images


def test_gradients_reach_the_discriminator_through_both_passes():
    weights = torch.randn(1, 1, 28, 28, requires_grad=True)

    def linear(images: torch.Tensor) -> torch.Tensor:
        return (images * weights).sum(dim=(1, 2, 3))

    images = centred_blobs(8)
    consistency_penalty(linear, (images, linear(images))).backward()
    assert weights.grad is not None and weights.grad.abs().sum() > 0
