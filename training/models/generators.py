"""The study's image generators, for any square size of 28, 32 or 64 and 1 or 3 channels.

- :class:`ConvVAE`: strided convs to a mean and log-variance of ``z``, the reparameterisation trick,
  and transposed convs back; trained with BCE (or Gaussian) reconstruction + ``beta`` x KL
  (:func:`vae_loss`).
- :class:`Generator` / :class:`Discriminator`: a DCGAN, transposed convs from ``z`` up to the
  image, strided convs down to one logit; the study's 128 filters by default.

Images are float in 0..1, ``[batch, channels, size, size]``. Every network halves (or doubles) the
side per layer between the image and a small base: 7x7 for 28, 4x4 for 32 and 64.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

SIZES = (28, 32, 64)


def base_and_steps(size: int) -> tuple[int, int]:
    """The smallest feature map and the number of 2x steps between it and the image."""
    if size not in SIZES:
        raise ValueError(f"image size must be one of {SIZES}, not {size}")
    base = 7 if size == 28 else 4
    return base, int(math.log2(size // base))


def down(inputs: int, outputs: int, norm: bool, stride: int = 2) -> list[nn.Module]:
    """A conv that halves the side (4x4, stride 2), or with ``stride`` 1 a 3x3 that keeps it."""
    kernel = 4 if stride == 2 else 3
    layers: list[nn.Module] = [nn.Conv2d(inputs, outputs, kernel, stride, 1, bias=not norm)]
    return layers + ([nn.BatchNorm2d(outputs)] if norm else []) + [nn.LeakyReLU(0.2)]


def up(inputs: int, outputs: int) -> list[nn.Module]:
    return [
        nn.ConvTranspose2d(inputs, outputs, 4, 2, 1, bias=False),
        nn.BatchNorm2d(outputs),
        nn.ReLU(),
    ]


def same_size(chans: int, count: int) -> list[nn.Module]:
    """``count`` 3x3 convs that keep the side: more depth at one scale, for sharper detail."""
    layers: list[nn.Module] = []
    for _ in range(count):
        layers += [nn.Conv2d(chans, chans, 3, 1, 1, bias=False), nn.BatchNorm2d(chans), nn.ReLU()]
    return layers


def widths(filters: int, steps: int) -> list[int]:
    """Channel counts from the image side inwards: filters, 2 x filters, ... (capped at 8x)."""
    return [filters * min(2**i, 8) for i in range(steps)]


class Decoder(nn.Module):
    """``z`` -> image: a dense layer to the base map, then ``steps`` transposed convs.

    With ``depth`` > 0, every scale gets that many 3x3 convs after its transposed conv, and the
    image side too: the last transposed conv then makes half as many maps as the one before,
    which a 3x3 conv turns into the image (the DCGAN's single layer per scale draws blurred
    detail; deeper decoders are what sharp VAEs use, e.g. Dai and Wipf 2019).
    """

    def __init__(self, latent: int, size: int, channels: int, filters: int, depth: int = 0):
        super().__init__()
        self.base, steps = base_and_steps(size)
        self.chans = widths(filters, steps)[::-1]  # innermost first
        self.project = nn.Sequential(
            nn.Linear(latent, self.chans[0] * self.base**2, bias=False),
            nn.BatchNorm1d(self.chans[0] * self.base**2),
            nn.ReLU(),
        )
        blocks = same_size(self.chans[0], depth) + [
            layer
            for a, b in zip(self.chans, self.chans[1:], strict=False)
            for layer in up(a, b) + same_size(b, depth)
        ]
        if depth:
            last = max(self.chans[-1] // 2, channels)
            image = [*up(self.chans[-1], last), *same_size(last, depth),
                     nn.Conv2d(last, channels, 3, 1, 1)]  # fmt: skip
        else:
            image = [nn.ConvTranspose2d(self.chans[-1], channels, 4, 2, 1)]
        self.up = nn.Sequential(*blocks, *image, nn.Sigmoid())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.up(self.project(z).view(-1, self.chans[0], self.base, self.base))


class Encoder(nn.Module):
    """Image -> features: ``steps`` strided convs, each followed by ``depth`` 3x3 convs that keep
    the side (the SNDCGAN discriminator of Miyato et al. 2018 has one a scale), flattened."""

    def __init__(self, size: int, channels: int, filters: int, norm: bool, depth: int = 0):
        super().__init__()
        base, steps = base_and_steps(size)
        chans = [channels, *widths(filters, steps)]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(chans, chans[1:], strict=False)):
            layers += down(a, b, norm and i > 0)  # no norm on the image itself (DCGAN)
            for _ in range(depth):
                layers += down(b, b, norm, stride=1)
        self.layers = nn.Sequential(*layers, nn.Flatten())
        self.features = chans[-1] * base**2

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers(images)


class ConvVAE(nn.Module):
    def __init__(
        self, size: int = 64, channels: int = 3, latent: int = 64, filters: int = 32, depth: int = 0
    ):
        super().__init__()
        self.latent = latent
        self.encoder = Encoder(size, channels, filters, norm=True)
        self.moments = nn.Linear(self.encoder.features, 2 * latent)
        self.decoder = Decoder(latent, size, channels, filters, depth)

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of ``z`` given the images."""
        mean, log_var = self.moments(self.encoder(images)).chunk(2, dim=1)
        return mean, log_var

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mean, log_var = self.encode(images)
        return self.decoder(reparameterise(mean, log_var)), mean, log_var


def reparameterise(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """A draw of ``z ~ N(mean, exp(log_var))`` that gradients flow through (the VAE's trick)."""
    return mean + torch.randn_like(mean) * (0.5 * log_var).exp()


def kl_divergence(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL from ``N(mean, exp(log_var))`` to N(0, I), summed over the batch and the latent."""
    return -0.5 * (1 + log_var - mean**2 - log_var.exp()).sum()


LIKELIHOODS = ("bernoulli", "gaussian")


def vae_loss(
    model: ConvVAE, images: torch.Tensor, beta: float = 1.0, likelihood: str = "bernoulli"
) -> torch.Tensor:
    """Negative log-likelihood of the images plus ``beta`` x KL to N(0, I), per image.

    ``bernoulli``: BCE summed over pixels (the study's). ``gaussian``: a Gaussian decoder whose
    one shared variance is set to its optimum, the batch's mean squared error (sigma-VAE,
    Rybkin et al. 2021; the learned gamma of two-stage VAEs, Dai and Wipf 2019), so the weight
    of reconstruction against KL is learnt rather than tuned by ``beta``: sharper samples.
    """
    recon, mean, log_var = model(images)
    if likelihood == "gaussian":
        mse = F.mse_loss(recon, images).clamp_min(1e-6)  # floor: sigma >= 1e-3, no collapse
        nll = 0.5 * images[0].numel() * (mse.log() + 1) * len(images)  # up to a constant
    else:
        nll = F.binary_cross_entropy(recon, images, reduction="sum")
    return (nll + beta * kl_divergence(mean, log_var)) / len(images)


class Generator(Decoder):
    """The DCGAN generator: the same shape of network as the VAE's decoder.

    With ``classes``, it is class-conditional yet still sampled from ``z`` alone: the class is the
    largest of ``z``'s first ``classes`` values (:func:`latent_class`, uniform for z ~ N(0, I)),
    given beside ``z`` as one-hot, so the exported graph and the service's latents are unchanged.
    """

    def __init__(
        self,
        latent: int = 100,
        size: int = 64,
        channels: int = 3,
        filters: int = 128,
        depth: int = 0,
        classes: int = 0,
    ):
        super().__init__(latent + classes, size, channels, filters, depth)
        self.latent, self.classes = latent, classes

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.classes:
            scores = z[:, : self.classes]
            one_hot = (scores == scores.amax(dim=1, keepdim=True)).to(z.dtype)  # ONNX: no OneHot
            z = torch.cat([z, one_hot], dim=1)
        return super().forward(z)


def latent_class(z: torch.Tensor, classes: int) -> torch.Tensor:
    """The class a conditional generator draws for each latent (int64 ``[batch]``)."""
    return z[:, :classes].argmax(dim=1)


class Discriminator(nn.Module):
    """The DCGAN discriminator: strided convs (BatchNorm after the first), one real/fake logit.

    With ``spectral``, every layer's weight is divided by its largest singular value instead of
    BatchNorm (Miyato et al. 2018): the discriminator stays 1-Lipschitz, its gradients to the
    generator stay informative, and a fake is judged alone, not by its batch's statistics.

    With ``classes``, a projection discriminator (Miyato and Koyama 2018): the logit also gets the
    inner product of the image's features with a learnt embedding of its class. ``depth`` adds
    3x3 convs at each scale (see ``Encoder``).
    """

    def __init__(
        self,
        size: int = 64,
        channels: int = 3,
        filters: int = 128,
        spectral: bool = False,
        classes: int = 0,
        depth: int = 0,
    ):
        super().__init__()
        self.encoder = Encoder(size, channels, filters, norm=not spectral, depth=depth)
        self.score = nn.Linear(self.encoder.features, 1)
        self.embed = nn.Embedding(classes, self.encoder.features) if classes else None
        if spectral:
            for layer in [*self.encoder.layers, self.score, self.embed]:
                if isinstance(layer, nn.Conv2d | nn.Linear | nn.Embedding):
                    nn.utils.parametrizations.spectral_norm(layer)

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        features = self.encoder(images)
        scores = self.score(features)[:, 0]
        if self.embed is not None:
            scores = scores + (self.embed(labels) * features).sum(dim=1)
        return scores


def discriminator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Non-saturating GAN loss of a discriminator's logits: real images score high, fakes low."""
    return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()


def generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """Non-saturating GAN loss of the generator: ``-log D(fake)``, strong while D wins."""
    return F.softplus(-fake_scores).mean()


def hinge_discriminator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Hinge loss (Lim and Ye 2017; SNGAN, BigGAN): scores past the margin of 1 cost nothing."""
    return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()


def hinge_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    return -fake_scores.mean()


GAN_LOSSES = {
    "non-saturating": (discriminator_loss, generator_loss),
    "hinge": (hinge_discriminator_loss, hinge_generator_loss),
}
