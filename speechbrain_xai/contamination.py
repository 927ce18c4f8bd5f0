"""Interference added to clips: L-MAC's training augmentation and the
out-of-domain conditions of the evaluation harness.

:func:`contaminate` mixes each clip with the next clip of the batch
(``"mix"``), white noise (``"white"``) or speech-shaped noise with a syllabic
envelope (``"speech_like"``, a stand-in for speech that needs no speech data)
at a given signal-to-interference ratio, and returns the interference too, so
that ground truth can count it as part of the background.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch

CONTAMINATIONS = ("none", "mix", "white", "speech_like")


def speech_like_noise(batch: int, length: int, sample_rate: int,
                      generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Speech-shaped noise with a syllabic (2-6 Hz) on/off envelope ``[batch, length]``.

    A stand-in for speech interference that needs no speech data: white
    noise with a long-term speech-like spectrum (flat up to 500 Hz, -12
    dB/octave above, band-limited to 100 Hz - 5 kHz) gated by a smoothed
    random envelope at a syllable rate.

    >>> speech_like_noise(2, 8000, 16000, torch.Generator().manual_seed(0)).shape
    torch.Size([2, 8000])
    """
    noise = torch.randn(batch, length, generator=generator)
    freqs = torch.fft.rfftfreq(length, 1.0 / sample_rate)
    shape = 1.0 / (1.0 + (freqs / 500.0) ** 2)
    shape = shape * ((freqs > 100) & (freqs < 5000)).float()
    shaped = torch.fft.irfft(torch.fft.rfft(noise) * shape, n=length)
    rate = 2.0 + 4.0 * torch.rand(batch, 1, generator=generator)  # syllables per second
    phase = 2 * torch.pi * torch.rand(batch, 1, generator=generator)
    t = torch.arange(length) / sample_rate
    envelope = (0.5 * (1 + torch.sin(2 * torch.pi * rate * t + phase))).pow(2)
    return shaped * envelope


def scale_to_snr(signal: torch.Tensor, noise: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
    """Scales ``noise [B, N]`` so that ``signal`` / noise power is ``snr_db`` (``[B]`` or scalar)."""
    p_s = signal.pow(2).mean(dim=1).clamp_min(1e-10)
    p_n = noise.pow(2).mean(dim=1).clamp_min(1e-10)
    snr = torch.as_tensor(snr_db, dtype=signal.dtype, device=signal.device)
    gain = torch.sqrt(p_s / (p_n * 10.0 ** (snr / 10.0)))
    return noise * gain.reshape(-1, 1)


def contaminate(wavs: torch.Tensor, kind: str, snr_db=0.0, sample_rate: int = 16000,
                generator: Optional[torch.Generator] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Adds an interference to each clip at ``snr_db``.

    Arguments
    ---------
    wavs : torch.Tensor
        Clean waveforms ``[B, N]``.
    kind : str
        ``"none"``, ``"mix"`` (the next clip of the batch; white noise for a
        batch of one), ``"white"`` or ``"speech_like"``.
    snr_db : float or torch.Tensor
        Signal-to-interference ratio in dB (scalar or ``[B]``).
    sample_rate : int
        Sample rate (for the speech-like noise).
    generator : torch.Generator, optional
        CPU generator for reproducible noise.

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        The mixtures ``[B, N]`` and the scaled interference ``[B, N]`` (so
        that ``mixture = wavs + interference``).

    Example
    -------
    >>> x = torch.randn(3, 1000)
    >>> mix, noise = contaminate(x, "white", 10.0, generator=torch.Generator().manual_seed(0))
    >>> snr = 10 * torch.log10(x.pow(2).mean(1) / noise.pow(2).mean(1))
    >>> torch.allclose(mix, x + noise), torch.allclose(snr, torch.full((3,), 10.0), atol=1e-3)
    (True, True)
    """
    batch, length = wavs.shape
    if kind == "none":
        return wavs, torch.zeros_like(wavs)
    if kind == "mix" and batch > 1:
        noise = torch.roll(wavs, shifts=1, dims=0)
    elif kind in ("mix", "white"):
        noise = torch.randn(batch, length, generator=generator).to(wavs)
    elif kind == "speech_like":
        noise = speech_like_noise(batch, length, sample_rate, generator).to(wavs)
    else:
        raise ValueError(f"Unknown contamination {kind!r}; use one of {CONTAMINATIONS}.")
    noise = scale_to_snr(wavs, noise, snr_db)
    return wavs + noise, noise
