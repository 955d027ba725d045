"""The second stage of a two-stage VAE (Dai & Wipf, "Diagnosing and Enhancing VAE Models", 2019).

A VAE's decoder learns from the latents its encoder produces, and those do not fill N(0, I), the
prior samples are drawn from: many N(0, I) latents land where the decoder never trained and come
out as blurred mixtures of garments, while the same decoder renders encoded images sharply. A
second, small VAE fitted to the encoder's means learns to carry N(0, I) onto where they lie.

What is exported then chains the stages: the sampler is this network's decoder followed by the
image decoder, the encoder is the image encoder followed by this network's encoder, so the latent
the service draws from a seed (and interpolates in) is again standard normal.
"""

import torch
from torch import nn
from tqdm import tqdm

HIDDEN = 1024
BATCH = 256
LR = 1e-3


def mlp(inputs: int, hidden: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
        nn.Linear(hidden, outputs),
    )  # fmt: skip


class LatentVAE(nn.Module):
    """A VAE over latent vectors, standardised per coordinate (the first stage's coordinates
    differ in scale a hundredfold), with a Gaussian decoder of one learned variance ``gamma``,
    which shrinks as the fit improves so that reconstruction outweighs the KL term."""

    def __init__(self, codes: torch.Tensor, hidden: int = HIDDEN):
        super().__init__()
        latent = codes.shape[1]
        self.register_buffer("shift", codes.mean(0))
        self.register_buffer("scale", codes.std(0).clamp_min(1e-6))
        self.encoder = mlp(latent, hidden, 2 * latent)
        self.decoder = mlp(latent, hidden, latent)
        self.log_gamma = nn.Parameter(torch.zeros(()))

    def encode(self, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_var = self.encoder((codes - self.shift) / self.scale).chunk(2, dim=1)
        return mean, log_var

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z) * self.scale + self.shift

    def loss(self, codes: torch.Tensor) -> torch.Tensor:
        """Gaussian negative log-likelihood (up to a constant) plus KL to N(0, I), per vector."""
        mean, log_var = self.encode(codes)
        recon = self.decoder(mean + torch.randn_like(mean) * (0.5 * log_var).exp())
        error = ((codes - self.shift) / self.scale - recon) ** 2
        nll = 0.5 * (error / self.log_gamma.exp() + self.log_gamma).sum(1)
        kl = -0.5 * (1 + log_var - mean**2 - log_var.exp()).sum(1)
        return (nll + kl).mean()


def fit(
    codes: torch.Tensor, epochs: int, hidden: int = HIDDEN, progress: bool = True
) -> tuple[LatentVAE, list[float]]:
    """Train on ``codes`` ``[n, latent]`` with Adam and a cosine schedule; the model and the mean
    loss of each epoch. Seeded by the caller, like the first stage."""
    model = LatentVAE(codes, hidden)
    optimizer = torch.optim.Adam(model.parameters(), LR)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
    losses = []
    for _ in tqdm(range(epochs), desc="latent prior", disable=not progress):
        order, total = torch.randperm(len(codes)), 0.0
        batches = range(0, len(codes), BATCH)
        for start in batches:
            loss = model.loss(codes[order[start : start + BATCH]])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() / len(batches)
        schedule.step()
        losses.append(total)
    return model.eval(), losses


class Sampler(nn.Module):
    """N(0, I) latents -> images: the latent VAE's decoder, then the image decoder."""

    def __init__(self, prior: LatentVAE, decoder: nn.Module):
        super().__init__()
        self.prior, self.decoder = prior, decoder

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.prior.decode(z))
