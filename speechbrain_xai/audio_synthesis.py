"""Log-mel features back to audio: mel inversion + Griffin-Lim phase reconstruction.

For SpeechBrain's ``Fbank`` front-end (``10 log10`` of the mel power), as
used to render the examples of activation maximisation. The mel power is
mapped back to a non-negative linear power spectrum by non-negative least
squares (multiplicative updates from a clamped pseudo-inverse), and the phase
is reconstructed with Griffin-Lim on the front-end's own STFT grid.

Example
-------
>>> import torch
>>> from speechbrain.lobes.features import Fbank
>>> fbank = Fbank(n_mels=40)
>>> wav = mel_to_audio(fbank(torch.randn(1, 8000)), fbank, n_iter=4)
>>> wav.shape
torch.Size([1, 8000])
"""

from __future__ import annotations

import torch


def fbank_matrix(fbank) -> torch.Tensor:
    """The triangular filterbank ``[n_stft, n_mels]`` of a SpeechBrain ``Fbank``
    (``mel_power = linear_power @ matrix``)."""
    fb = fbank.compute_fbanks
    n = fb.all_freqs_mat.shape[1]
    f_central = fb.f_central.repeat(n, 1).transpose(0, 1)
    band = fb.band.repeat(n, 1).transpose(0, 1)
    return fb._create_fbank_matrix(f_central, band)


def mel_to_linear_power(log_mel: torch.Tensor, matrix: torch.Tensor, n_iter: int = 60) -> torch.Tensor:
    """Non-negative linear power ``[B, T, n_stft]`` whose mel projection best
    matches ``10 ** (log_mel / 10)`` (least squares, multiplicative updates)."""
    mel = torch.pow(10.0, log_mel.double() / 10.0)  # (B, T, M)
    m = matrix.double().to(mel.device)  # (S, M)
    power = (mel @ torch.linalg.pinv(m)).clamp_min(1e-12)
    gram = m @ m.T  # (S, S)
    target = mel @ m.T
    for _ in range(n_iter):
        power = power * target / (power @ gram).clamp_min(1e-30)
    return power.float()


def mel_to_audio(log_mel: torch.Tensor, fbank, n_iter: int = 100, length=None) -> torch.Tensor:
    """Waveforms ``[B, N]`` for ``Fbank`` features ``[B, T, n_mels]``.

    Arguments
    ---------
    log_mel : torch.Tensor
        Log-mel features as ``fbank`` computes them.
    fbank : speechbrain.lobes.features.Fbank
        The front-end that defines the features (its STFT grid is reused).
    n_iter : int
        Griffin-Lim iterations (the paper uses 100).
    length : int, optional
        Output samples (default: ``(T - 1) * hop``).
    """
    import torchaudio.functional as AF

    stft = fbank.compute_STFT
    if fbank.deltas or fbank.context:
        raise ValueError("mel_to_audio needs plain log-mel features (no deltas, no context).")
    power = mel_to_linear_power(log_mel.detach(), fbank_matrix(fbank))
    mag = power.sqrt().transpose(1, 2)  # (B, S, T)
    if length is None:
        length = (log_mel.shape[1] - 1) * stft.hop_length
    window = stft.window.to(mag.device)
    return AF.griffinlim(
        mag, window=window, n_fft=stft.n_fft, hop_length=stft.hop_length,
        win_length=stft.win_length, power=1.0, n_iter=n_iter, momentum=0.99,
        length=length, rand_init=False,
    )
