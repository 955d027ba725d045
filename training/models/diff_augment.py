"""Differentiable augmentation for GANs trained on little data (Zhao et al., NeurIPS 2020).

The discriminator sees every image, real or generated, through the same random transformations,
and the generator's gradients flow back through them; so the discriminator cannot memorise a small
training set, and the generator is not taught to draw the augmentations (they are never applied to
what it is scored on alone). Images are float ``[batch, channels, size, size]`` in 0..1; each image
draws its own transformation.
"""

import argparse

import torch
from torch.nn import functional as F

POLICIES = ("color", "translation", "cutout")


def brightness(x: torch.Tensor) -> torch.Tensor:
    return x + (torch.rand(len(x), 1, 1, 1, device=x.device) - 0.5) / 2


def saturation(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (torch.rand(len(x), 1, 1, 1, device=x.device) * 2) + mean


def contrast(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(len(x), 1, 1, 1, device=x.device) + 0.5) + mean


def color(x: torch.Tensor) -> torch.Tensor:
    """Brightness, saturation (colour images only) and contrast, each drawn per image."""
    x = brightness(x)
    return contrast(saturation(x) if x.shape[1] == 3 else x)


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by whole pixels, up to ``ratio`` of its side either way; zeros come in."""
    batch, _, height, width = x.shape
    limit = torch.tensor([width, height], device=x.device) * ratio
    shift = ((torch.rand(batch, 2, device=x.device) * 2 - 1) * limit).round()
    theta = torch.zeros(batch, 2, 3, device=x.device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    theta[:, :, 2] = -2 * shift / torch.tensor([width, height], device=x.device)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero one square of ``ratio`` of the side, somewhere in each image."""
    batch, _, height, width = x.shape
    side = torch.tensor([height, width], device=x.device)
    half = (side * ratio / 2).floor()
    centre = (torch.rand(batch, 2, device=x.device) * side).floor()
    rows = torch.arange(height, device=x.device)[None, :, None]
    cols = torch.arange(width, device=x.device)[None, None, :]
    inside = ((rows - centre[:, 0, None, None]).abs() < half[0]) & (
        (cols - centre[:, 1, None, None]).abs() < half[1]
    )
    return x * (~inside)[:, None].to(x.dtype)


TRANSFORMS = {"color": color, "translation": translation, "cutout": cutout}


def parse(policy: str) -> tuple[str, ...]:
    """``"color,translation,cutout"`` (or ``""``: none) as the transformations' names, checked."""
    names = tuple(n.strip() for n in policy.split(",") if n.strip())
    unknown = [n for n in names if n not in TRANSFORMS]
    if unknown:
        raise ValueError(f"unknown DiffAugment policy {unknown}; choose from {', '.join(POLICIES)}")
    return names


def diff_augment(x: torch.Tensor, policy: str) -> torch.Tensor:
    """``x`` through each transformation that ``policy`` names, in order."""
    for name in parse(policy):
        x = TRANSFORMS[name](x)
    return x


def policy(text: str) -> str:
    """A --diffaugment value (an argparse type), checked when the command line is read."""
    try:
        return ",".join(parse(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
