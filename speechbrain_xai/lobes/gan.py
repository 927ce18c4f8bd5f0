"""DCGAN-style generator and discriminator for fixed-size spectrogram excerpts.

The generator maps a latent code ``z [B, latent_dim]`` (drawn from ``N(0, I)``)
to an excerpt ``[B, T, F]`` of log-mel frames in the *classifier's feature
domain*, so the frozen classifier can read what it makes. The network itself
works on excerpts normalised per mel band by the training data's mean and
standard deviation; those statistics are buffers of the generator (saved in
its checkpoint), set once with :meth:`SpectrogramGenerator.set_feature_stats`.

Layout (as in Mishra et al. 2019, DCGAN): a dense layer to a small
``[C, T/2^k, F/2^k]`` map, then ``k`` stride-2 transposed convolutions
(BatchNorm + ReLU between them) doubling time and frequency. The
discriminator mirrors it with stride-2 convolutions, LeakyReLU and spectral
normalisation (stable with the hinge loss, no gradient penalty needed).

Example
-------
>>> import torch
>>> gen = SpectrogramGenerator(latent_dim=16, frames=32, n_mels=16, channels=(16, 8))
>>> disc = SpectrogramDiscriminator(frames=32, n_mels=16, channels=(8, 16))
>>> x = gen(torch.randn(3, 16))
>>> x.shape
torch.Size([3, 32, 16])
>>> disc(gen.normalize(x)).shape
torch.Size([3])
"""

from typing import Sequence

import torch
from torch import nn


def _check_divisible(frames: int, n_mels: int, levels: int) -> None:
    factor = 2 ** levels
    if frames % factor or n_mels % factor:
        raise ValueError(
            f"frames={frames} and n_mels={n_mels} must be divisible by 2^{levels}={factor} "
            f"for {levels} stride-2 layers; change the excerpt size or the number of channels."
        )


class SpectrogramGenerator(nn.Module):
    """Latent code ``[B, latent_dim]`` -> log-mel excerpt ``[B, frames, n_mels]``.

    Arguments
    ---------
    latent_dim : int
        Size of the latent code.
    frames : int
        Frames per excerpt (time).
    n_mels : int
        Mel bands (frequency).
    channels : sequence of int
        Channels of the feature maps before each transposed convolution; one
        doubling per entry, the last convolution maps to one channel.
    """

    def __init__(self, latent_dim: int = 128, frames: int = 64, n_mels: int = 64,
                 channels: Sequence[int] = (128, 64, 32, 16)):
        super().__init__()
        channels = list(channels)
        _check_divisible(frames, n_mels, len(channels))
        self.latent_dim, self.frames, self.n_mels = latent_dim, frames, n_mels
        self.t0, self.f0 = frames // 2 ** len(channels), n_mels // 2 ** len(channels)
        self.project = nn.Sequential(
            nn.Linear(latent_dim, channels[0] * self.t0 * self.f0, bias=False),
            nn.BatchNorm1d(channels[0] * self.t0 * self.f0),
            nn.ReLU(),
        )
        layers = []
        for c_in, c_out in zip(channels, channels[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU()]
        layers.append(nn.ConvTranspose2d(channels[-1], 1, 4, stride=2, padding=1))
        self.upsample = nn.Sequential(*layers)
        self.register_buffer("feat_mean", torch.zeros(n_mels))
        self.register_buffer("feat_std", torch.ones(n_mels))

    @torch.no_grad()
    def set_feature_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Stores the per-band mean and std ``[n_mels]`` of the real excerpts."""
        self.feat_mean.copy_(torch.as_tensor(mean).reshape(-1))
        self.feat_std.copy_(torch.as_tensor(std).reshape(-1).clamp_min(1e-3))

    def normalize(self, feats: torch.Tensor) -> torch.Tensor:
        """Classifier-domain features ``[B, T, F]`` -> the generator's domain."""
        return (feats - self.feat_mean) / self.feat_std

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """The generator's domain -> classifier-domain features."""
        return x * self.feat_std + self.feat_mean

    def generate_normalized(self, z: torch.Tensor) -> torch.Tensor:
        """Normalised excerpts ``[B, T, F]`` (what the discriminator sees)."""
        x = self.project(z).view(z.shape[0], -1, self.t0, self.f0)  # (B, C, T0, F0)
        return self.upsample(x).squeeze(1)  # (B, T, F)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Log-mel excerpts ``[B, frames, n_mels]`` in the classifier's domain."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must be [B, {self.latent_dim}], got {tuple(z.shape)}.")
        return self.denormalize(self.generate_normalized(z))

    def invert(self, feats: torch.Tensor, steps: int = 300, lr: float = 0.05,
               penalty: float = 1e-3, candidates: int = 64, seed: int = 0):
        """The latents whose samples come closest to given excerpts.

        A diagnostic of what the generator can make: if it cannot rebuild the
        real excerpts a unit responds to, no search in its latent space will
        find them. For each excerpt of ``feats`` ``[N, frames, n_mels]``
        (classifier domain), the closest of ``candidates`` ``N(0, I)`` draws
        (seeded by ``seed``) is refined by ``steps`` Adam steps on the mean
        square error in the normalised domain plus ``penalty |z|^2``. Runs in
        eval mode (BatchNorm must not mix excerpts); the weights are not
        touched.

        Returns
        -------
        z : torch.Tensor
            ``[N, latent_dim]``.
        error : torch.Tensor
            ``[N]``: the final mean square error per excerpt in the normalised
            domain (1.0: no better than the per-band means).

        Example
        -------
        >>> gen = SpectrogramGenerator(latent_dim=8, frames=16, n_mels=16, channels=(8, 4))
        >>> target = gen.eval()(torch.randn(3, 8)).detach()
        >>> z, error = gen.invert(target, steps=200, lr=0.05, penalty=0.0)
        >>> z.shape, bool(error.max() < 0.05)
        (torch.Size([3, 8]), True)
        """
        if feats.dim() != 3 or tuple(feats.shape[1:]) != (self.frames, self.n_mels):
            raise ValueError(f"Excerpts must be [N, {self.frames}, {self.n_mels}], "
                             f"got {tuple(feats.shape)}.")
        was_training = self.training
        self.eval()
        try:
            dev = self.feat_mean.device
            target = self.normalize(feats.to(dev)).detach()
            g = torch.Generator().manual_seed(int(seed))
            draws = torch.randn(int(candidates), self.latent_dim, generator=g).to(dev)
            with torch.no_grad():
                samples = self.generate_normalized(draws).flatten(1)
                z = draws[torch.cdist(target.flatten(1), samples).argmin(1)].clone()
            z.requires_grad_(True)
            opt = torch.optim.Adam([z], lr=lr)
            for _ in range(int(steps)):
                with torch.enable_grad():
                    loss = ((self.generate_normalized(z) - target).pow(2).mean((1, 2))
                            + penalty * z.pow(2).sum(1))
                    z.grad = torch.autograd.grad(loss.sum(), z)[0]  # the weights get no gradient
                opt.step()
            z = z.detach()
            with torch.no_grad():
                error = (self.generate_normalized(z) - target).pow(2).mean((1, 2))
            return z, error
        finally:
            self.train(was_training)


class SpectrogramDiscriminator(nn.Module):
    """Normalised excerpt ``[B, frames, n_mels]`` -> realness score ``[B]``.

    Arguments
    ---------
    frames : int
        Frames per excerpt.
    n_mels : int
        Mel bands.
    channels : sequence of int
        Output channels of the stride-2 convolutions.
    spectral_norm : bool
        Spectral normalisation of every layer (recommended with the hinge loss).
    minibatch_std : bool
        Append the batch's mean feature standard deviation as an extra channel
        before the score (Karras et al. 2018): the discriminator can see a
        batch without variety, which counters mode collapse.
    """

    def __init__(self, frames: int = 64, n_mels: int = 64,
                 channels: Sequence[int] = (16, 32, 64, 128), spectral_norm: bool = True,
                 minibatch_std: bool = False):
        super().__init__()
        channels = list(channels)
        _check_divisible(frames, n_mels, len(channels))
        wrap = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
        layers, c_in = [], 1
        for c_out in channels:
            layers += [wrap(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.minibatch_std = bool(minibatch_std)
        size = ((c_in + self.minibatch_std) * (frames // 2 ** len(channels))
                * (n_mels // 2 ** len(channels)))
        self.score = wrap(nn.Linear(size, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x.unsqueeze(1))  # (B, C, T', F')
        if self.minibatch_std:
            spread = h.std(0, unbiased=False).mean() if h.shape[0] > 1 else h.new_zeros(())
            h = torch.cat([h, spread.expand(h.shape[0], 1, *h.shape[2:])], dim=1)
        return self.score(h.flatten(1)).squeeze(1)
