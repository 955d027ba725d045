"""Balanced consistency regularisation of a GAN's discriminator (bCR; Zhao, Zhang et al. 2020,
"Improved Consistency Regularization for GANs", after Zhang et al., ICLR 2020).

The discriminator should score an image and a flipped, shifted copy of it alike, whether the image
is real or generated; the penalty is the mean squared difference of the two logits. Unlike
DiffAugment (:mod:`training.models.diff_augment`) the generator is never scored through the
augmentation: only the discriminator learns from it, at the cost of two more of its forward passes
a step. Images are float ``[batch, channels, size, size]`` in 0..1.
"""

from collections.abc import Callable

import torch

from training.models.diff_augment import translation


def flip_and_shift(images: torch.Tensor) -> torch.Tensor:
    """Each image mirrored left-right with probability 1/2, then moved by up to 1/8 of its side
    (the paper's CIFAR-10 augmentation: flips and shifts of up to 4 of 32 pixels)."""
    flip = torch.rand(len(images), 1, 1, 1, device=images.device) < 0.5
    return translation(torch.where(flip, images.flip(-1), images))


def consistency_penalty(
    discriminator: Callable[[torch.Tensor], torch.Tensor], *judged: tuple[torch.Tensor, ...]
) -> torch.Tensor:
    """The sum over ``(images, scores)`` pairs (the discriminator's logits of those images, real
    ones and generated ones) of the mean squared difference between ``scores`` and its logits of
    the same images flipped and shifted."""
    return sum((discriminator(flip_and_shift(images)) - scores).pow(2).mean()
               for images, scores in judged)  # fmt: skip
