"""The VAE and the DCGAN at every supported size and channel count: shapes, ranges, a step."""

import pytest
import torch

from training.models.generators import (
    GAN_LOSSES,
    ConvVAE,
    Discriminator,
    Generator,
    base_and_steps,
    discriminator_loss,
    generator_loss,
    latent_class,
    vae_loss,
)
from training.task import linear_decay

SHAPES = [(28, 1), (32, 3), (64, 3), (64, 1)]


@pytest.mark.parametrize(("size", "channels"), SHAPES)
def test_vae_reconstructs_at_its_size(size, channels):
    model = ConvVAE(size, channels, latent=8, filters=8)
    images = torch.rand(4, channels, size, size)
    recon, mean, log_var = model(images)
    assert recon.shape == images.shape and mean.shape == log_var.shape == (4, 8)
    assert recon.min() >= 0 and recon.max() <= 1
    loss = vae_loss(model, images, beta=0.5)
    loss.backward()
    assert torch.isfinite(loss) and model.encoder.layers[0].weight.grad is not None


@pytest.mark.parametrize(("size", "channels"), SHAPES)
def test_dcgan_maps_latents_to_images_and_images_to_logits(size, channels):
    generator = Generator(latent=16, size=size, channels=channels, filters=8)
    discriminator = Discriminator(size, channels, filters=8)
    fake = generator(torch.randn(3, 16))
    assert fake.shape == (3, channels, size, size) and fake.min() >= 0 and fake.max() <= 1
    assert discriminator(fake).shape == (3,)
    d_loss = discriminator_loss(
        discriminator(torch.rand(3, channels, size, size)), discriminator(fake.detach())
    )
    g_loss = generator_loss(discriminator(fake))
    assert torch.isfinite(d_loss) and torch.isfinite(g_loss)


@pytest.mark.parametrize(("size", "channels"), SHAPES)
def test_a_deeper_decoder_keeps_the_shapes_and_adds_its_own_layers(size, channels):
    """``depth`` adds 3x3 convs (each its own weights) at every scale, the image's included;
    at 0 the decoder is the DCGAN's, so the shipped models' weights still load."""
    shallow, deep = (ConvVAE(size, channels, latent=8, filters=8, depth=d) for d in (0, 2))
    assert deep(torch.rand(2, channels, size, size))[0].shape == (2, channels, size, size)
    convs = [m for m in deep.decoder.up if type(m) is torch.nn.Conv2d]
    steps = base_and_steps(size)[1]
    assert len(convs) == 2 * (steps + 1) + 1  # two a scale, and the one that draws the image
    assert len({id(m.weight) for m in convs}) == len(convs)
    assert convs[-1].out_channels == channels
    assert all(type(m) is not torch.nn.Conv2d for m in shallow.decoder.up)
    assert Generator(16, size, channels, 8, depth=1)(torch.randn(2, 16)).shape[1:] == (
        channels,
        size,
        size,
    )


def test_the_studys_defaults_and_unsupported_sizes():
    assert Generator().up[0].in_channels == 128 * 8  # 128 filters, doubled towards the base
    assert base_and_steps(28) == (7, 2) and base_and_steps(64) == (4, 4)
    with pytest.raises(ValueError, match="28, 32, 64"):
        ConvVAE(size=48)


def test_the_gaussian_likelihood_is_the_optimal_sigma_nll():
    """sigma-VAE: per image, D/2 (log mse + 1) with the batch's mse as the variance, + KL."""
    from training.models.generators import kl_divergence

    model = ConvVAE(28, 1, latent=4, filters=8)
    images = torch.rand(6, 1, 28, 28)
    torch.manual_seed(3)
    loss = vae_loss(model, images, beta=0.5, likelihood="gaussian")
    torch.manual_seed(3)
    recon, mean, log_var = model(images)
    mse = ((recon - images) ** 2).mean()
    expected = 0.5 * 784 * (mse.log() + 1) + 0.5 * kl_divergence(mean, log_var) / 6
    assert torch.allclose(loss, expected, rtol=1e-5)
    torch.manual_seed(3)
    bernoulli = vae_loss(model, images, beta=0.5)
    assert not torch.allclose(loss, bernoulli)


def test_a_spectrally_normalised_discriminator_has_unit_norm_layers_and_no_batchnorm():
    discriminator = Discriminator(28, 1, filters=8, spectral=True)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in discriminator.modules())
    for _ in range(20):  # power iteration converges as it scores batches in training mode
        discriminator(torch.rand(4, 1, 28, 28))
    score = discriminator.score.weight  # the normalised weight, as the forward pass uses it
    assert torch.linalg.matrix_norm(score.detach(), ord=2) == pytest.approx(1.0, abs=1e-3)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in Discriminator(28, 1, 8).modules())


def test_hinge_losses_ignore_scores_past_the_margin():
    d_loss, g_loss = GAN_LOSSES["hinge"]
    assert d_loss(torch.tensor([2.0, 1.0]), torch.tensor([-1.5, -1.0])) == 0
    assert d_loss(torch.tensor([0.0]), torch.tensor([0.5])) == pytest.approx(2.5)
    assert g_loss(torch.tensor([1.0, 3.0])) == pytest.approx(-2.0)


def test_linear_decay_reaches_zero_at_the_last_step():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.4)
    schedule = linear_decay(optimizer, steps_per_epoch=5, epochs=2, last_step=-1)
    rates = []
    for _ in range(10):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[0] == pytest.approx(0.4) and rates[5] == pytest.approx(0.2)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.0)


def test_a_conditional_generator_reads_its_class_from_the_latent():
    """The class is the largest of z's first values (uniform for z ~ N(0, I)), fed as one-hot."""
    generator = Generator(latent=16, size=28, channels=1, filters=8, classes=10).eval()
    z = torch.randn(5000, 16, generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(latent_class(z, 10), minlength=10)
    assert counts.min() > 400 and counts.max() < 600
    one_hot = torch.nn.functional.one_hot(latent_class(z[:4], 10), 10).float()
    with torch.no_grad():
        as_given = super(Generator, generator).forward(torch.cat([z[:4], one_hot], dim=1))
        torch.testing.assert_close(generator(z[:4]), as_given)


def test_a_projection_discriminator_scores_an_image_by_its_class():
    discriminator = Discriminator(28, 1, filters=8, spectral=True, classes=10)
    images = torch.rand(3, 1, 28, 28)
    zeros, ones = torch.zeros(3, dtype=torch.long), torch.ones(3, dtype=torch.long)
    assert discriminator(images, zeros).shape == (3,)
    assert not torch.allclose(discriminator(images, zeros), discriminator(images, ones))
