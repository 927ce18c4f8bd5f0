"""Classifier features back to audio: mel inversion + Griffin-Lim phase reconstruction.

Renders feature-domain examples (activation maximisation, GAN samples) for the
two spectrogram front-ends the adapter knows:

* SpeechBrain's ``Fbank`` (``EncoderPipeline``): ``10 log10`` of the mel power;
* the ``AudioClassifier`` layout (``SpectrogramPipeline``, e.g. CNN14 on
  ESC-50): a ``Filterbank`` (log/dB or linear) of ``|X|^(2 p)``, or
  ``log1p(|X|^(2 p))`` without a filterbank.

The filterbank values are mapped back to a non-negative linear spectrum by
non-negative least squares (multiplicative updates from a clamped
pseudo-inverse), turned into a magnitude, and the phase is reconstructed with
Griffin-Lim on the front-end's own STFT grid.

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

from speechbrain_xai.adapter import SpectrogramPipeline


def fbank_matrix(fbank) -> torch.Tensor:
    """The triangular filterbank ``[n_stft, n_mels]`` of a SpeechBrain ``Fbank``
    or ``Filterbank`` (``mel = linear @ matrix``)."""
    fb = getattr(fbank, "compute_fbanks", fbank)  # Fbank holds a Filterbank
    if not fb.freeze:
        raise ValueError("Cannot invert a Filterbank with freeze=False (learned filters).")
    n = fb.all_freqs_mat.shape[1]
    f_central = fb.f_central.repeat(n, 1).transpose(0, 1)
    band = fb.band.repeat(n, 1).transpose(0, 1)
    return fb._create_fbank_matrix(f_central, band)


def linear_from_mel(mel: torch.Tensor, matrix: torch.Tensor, n_iter: int = 60) -> torch.Tensor:
    """Non-negative linear spectrum ``[B, T, n_stft]`` whose projection
    ``@ matrix`` best matches the (linear, non-negative) ``mel`` ``[B, T, M]``
    (least squares, multiplicative updates from a clamped pseudo-inverse)."""
    mel = mel.double()
    m = matrix.double().to(mel.device)  # (S, M)
    spec = (mel @ torch.linalg.pinv(m)).clamp_min(1e-12)
    gram = m @ m.T  # (S, S)
    target = mel @ m.T
    for _ in range(n_iter):
        spec = spec * target / (spec @ gram).clamp_min(1e-30)
    return spec.float()


def filterbank_to_linear(feats: torch.Tensor, filterbank) -> torch.Tensor:
    """Undoes a ``Filterbank``'s dB conversion (``multiplier log10``, reference
    level; the ``top_db`` floor stays a floor): its linear mel values."""
    if not filterbank.log_mel:
        return feats.double().clamp_min(0)
    db = feats.double() / filterbank.multiplier + filterbank.db_multiplier
    return torch.pow(10.0, db)


def griffin_lim(mag: torch.Tensor, stft, n_iter: int = 100, length=None) -> torch.Tensor:
    """Waveforms ``[B, N]`` for magnitudes ``[B, T, n_stft]`` on the grid of a
    SpeechBrain ``STFT`` (``n_fft``, hop, window); ``length`` defaults to
    ``(T - 1) * hop``."""
    import torchaudio.functional as AF

    if length is None:
        length = (mag.shape[1] - 1) * stft.hop_length
    return AF.griffinlim(
        mag.transpose(1, 2).float(), window=stft.window.to(mag.device), n_fft=stft.n_fft,
        hop_length=stft.hop_length, win_length=stft.win_length, power=1.0, n_iter=n_iter,
        momentum=0.99, length=length, rand_init=False,
    )


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
    if fbank.deltas or fbank.context:
        raise ValueError("mel_to_audio needs plain log-mel features (no deltas, no context).")
    mel = filterbank_to_linear(log_mel.detach(), fbank.compute_fbanks)
    power = linear_from_mel(mel, fbank_matrix(fbank))  # Fbank: |X|^2
    return griffin_lim(power.sqrt(), fbank.compute_STFT, n_iter, length)


def spectrogram_to_audio(feats: torch.Tensor, pipeline, n_iter: int = 100, length=None) -> torch.Tensor:
    """Waveforms ``[B, N]`` for the network input ``[B, T, F]`` of an
    ``AudioClassifier``-layout model (:class:`~speechbrain_xai.adapter.SpectrogramPipeline`).

    Its features are ``compute_fbank(|X|^(2 p))`` (``p = spec_mag_power``;
    the filterbank in dB or linear) or ``log1p(|X|^(2 p))`` without mel
    spectra; both are mapped back to ``|X|`` on ``compute_stft``'s grid.

    Arguments
    ---------
    feats : torch.Tensor
        Features as ``pipeline.features`` computes them.
    pipeline : SpectrogramPipeline
        The front-end (``compute_stft``, ``compute_fbank``, ``spec_mag_power``,
        ``use_melspectra``).
    n_iter : int
        Griffin-Lim iterations.
    length : int, optional
        Output samples (default: ``(T - 1) * hop``).
    """
    feats = feats.detach()
    if pipeline.use_melspectra:
        fb = pipeline.compute_fbank
        spec = linear_from_mel(filterbank_to_linear(feats, fb), fbank_matrix(fb))
    else:
        spec = torch.expm1(feats.double()).clamp_min(0)
    mag = spec.double().pow(0.5 / pipeline.spec_mag_power)  # |X|^(2p) -> |X|
    return griffin_lim(mag, pipeline.compute_stft, n_iter, length)


def features_to_audio(adapter, feats: torch.Tensor, n_iter: int = 100, length=None) -> torch.Tensor:
    """Waveforms ``[B, N]`` for features ``[B, T, F]`` in a classifier's input domain.

    The one entry point for listening to feature-domain examples (activation
    maximisation, GAN samples): it dispatches on the adapter's front-end.

    Arguments
    ---------
    adapter : ClassifierAdapter
        The classifier whose ``features`` produced (or define) ``feats``.
    feats : torch.Tensor
        Features as ``adapter.features`` computes them.
    n_iter : int
        Griffin-Lim iterations.
    length : int, optional
        Output samples.
    """
    model = adapter.model
    front_end = getattr(model, "compute_features", None)
    if front_end is not None and hasattr(front_end, "compute_fbanks"):  # SpeechBrain Fbank
        return mel_to_audio(feats, front_end, n_iter=n_iter, length=length)
    if isinstance(model, SpectrogramPipeline):  # AudioClassifier layout (CNN14 on ESC-50)
        return spectrogram_to_audio(feats, model, n_iter=n_iter, length=length)
    raise ValueError(
        f"No audio rendering for the front-end of {type(model).__name__}; supported: SpeechBrain "
        "Fbank (EncoderPipeline layout) and STFT + Filterbank/log1p (SpectrogramPipeline layout)."
    )
