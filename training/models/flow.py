"""A prior fitted to a trained VAE's latents: a RealNVP flow (Dinh et al., 2017), fitted ex post.

A VAE's decoder learns from the latents its encoder produces, and those do not fill N(0, I), the
prior samples are drawn from: many N(0, I) latents land where the decoder never trained and come
out as blurred mixtures of garments, while the same decoder renders encoded images sharply. An
invertible network fitted by maximum likelihood to the encoder's means carries N(0, I) onto where
they lie. (A second-stage VAE over the latents, Dai & Wipf 2019, was tried first and measured
worse than no prior at all on Fashion-MNIST: see commit cd651a0.)

What is exported chains the parts: the sampler is this flow followed by the image decoder, the
encoder is the image encoder followed by the flow's inverse, so the latent the service draws from
a seed (and interpolates in) is again standard normal.
"""

import torch
from torch import nn

LAYERS = 8
HIDDEN = 256


class Coupling(nn.Module):
    """An affine coupling layer: the coordinates outside ``mask`` are scaled and shifted by
    amounts computed from those inside it, so the layer inverts exactly."""

    def __init__(self, mask: torch.Tensor, hidden: int):
        super().__init__()
        self.register_buffer("mask", mask)
        latent = len(mask)
        self.net = nn.Sequential(
            nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, 2 * latent),
        )  # fmt: skip
        nn.init.zeros_(self.net[-1].weight)  # starts as the identity
        nn.init.zeros_(self.net[-1].bias)

    def scale_shift(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_scale, shift = self.net(x * self.mask).chunk(2, dim=1)
        return torch.tanh(log_scale) * (1 - self.mask), shift * (1 - self.mask)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        log_scale, shift = self.scale_shift(z)
        return z * log_scale.exp() + shift

    def inverse(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``z`` and the log-scale applied to each coordinate (0 inside the mask)."""
        log_scale, shift = self.scale_shift(y)
        return (y - shift) * (-log_scale).exp(), -log_scale


class LatentFlow(nn.Module):
    """N(0, I) <-> the VAE's latents: standardisation per coordinate, then coupling layers in
    pairs, a random half mask and its complement, so that every pair transforms every coordinate
    once (with eight masks drawn independently, of 32 coordinates one was transformed by a single
    layer and six by two)."""

    def __init__(self, codes: torch.Tensor, layers: int = LAYERS, hidden: int = HIDDEN):
        super().__init__()
        self.register_buffer("center", codes.mean(0))
        self.register_buffer("spread", codes.std(0).clamp_min(1e-6))
        picks = torch.Generator().manual_seed(0)
        latent, pairs = codes.shape[1], -(-layers // 2)
        halves = [(torch.rand(latent, generator=picks) < 0.5).float() for _ in range(pairs)]
        masks = [mask for half in halves for mask in (half, 1 - half)][:layers]
        self.layers = nn.ModuleList(Coupling(mask, hidden) for mask in masks)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Standard-normal ``z`` to latents of the VAE."""
        for layer in self.layers:
            z = layer(z)
        return z * self.spread + self.center

    def inverse(self, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Latents of the VAE to ``z``, and the log of each coordinate's scaling on the way
        (the layers' own, multiplied; the flow's cross-terms are left out)."""
        z = (codes - self.center) / self.spread
        log_scale = (-self.spread.log()).expand_as(z)
        for layer in reversed(self.layers):
            z, step = layer.inverse(z)
            log_scale = log_scale + step
        return z, log_scale

    def nll(self, codes: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood of ``codes`` (up to a constant), in standardised units."""
        z, log_scale = self.inverse(codes)
        return (0.5 * (z**2).sum(1) - (log_scale + self.spread.log()).sum(1)).mean()


class NegativeLogLikelihood(nn.Module):
    """The flow's training objective as a module, so DDP can run it: codes in, mean NLL out."""

    def __init__(self, flow: LatentFlow):
        super().__init__()
        self.flow = flow

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return self.flow.nll(codes)


class Sampler(nn.Module):
    """N(0, I) latents -> images: the flow, then the image decoder."""

    def __init__(self, prior: LatentFlow, decoder: nn.Module):
        super().__init__()
        self.prior, self.decoder = prior, decoder

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.prior(z))


class PriorEncoder(nn.Module):
    """Images -> mean and log-variance of the latent that `sampler` takes: the VAE's own, or
    with a latent prior, mapped through the flow's inverse (the variance scaled as the flow
    scales each coordinate)."""

    def __init__(self, vae: nn.Module, prior: LatentFlow | None = None):
        super().__init__()
        self.vae, self.prior = vae, prior

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_var = self.vae.encode(images)
        if self.prior is None:
            return mean, log_var
        z, log_scale = self.prior.inverse(mean)
        return z, log_var + 2 * log_scale


class MeanEncoder(nn.Module):
    """Images -> the mean alone of :class:`PriorEncoder`: what is exported, as all the service
    needs (``POST /interpolate``). The VAE's moments layer, the encoder's largest weight, keeps
    only its mean rows here, which halves it (1.6 MB of a Fashion VAE of latent 64)."""

    def __init__(self, vae: nn.Module, prior: LatentFlow | None = None):
        super().__init__()
        self.features, self.prior = vae.encoder, prior
        moments, latent = vae.moments, vae.latent
        self.mean = nn.Linear(moments.in_features, latent)
        with torch.no_grad():  # ConvVAE.encode's first chunk: rows 0..latent-1
            self.mean.weight.copy_(moments.weight[:latent])
            self.mean.bias.copy_(moments.bias[:latent])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        mean = self.mean(self.features(images))
        return mean if self.prior is None else self.prior.inverse(mean)[0]
