"""Everything the package knows about a classifier's front-end, in one place.

A classifier is seen as ``front-end -> network``. This module holds the
layouts the :class:`~speechbrain_xai.adapter.ClassifierAdapter` understands and,
for each, how its features are made and unmade:

* :class:`EncoderPipeline`: SpeechBrain's encoder-classifier layout
  (``compute_features -> mean_var_norm -> embedding_model -> classifier``;
  ``EncoderClassifier`` and this project's classification recipe);
* :class:`SpectrogramPipeline`: SpeechBrain's ``AudioClassifier`` layout
  (``compute_stft -> |X|^(2p) -> compute_fbank | log1p -> embedding_model ->
  classifier``; e.g. ``speechbrain/cnn14-esc50``);
* :class:`WaveformModule`: a black box ``waveforms -> logits`` (no known
  front-end).

For the two SpeechBrain layouts a pipeline gives its STFT grid
(:attr:`stft_module`, :func:`stft_config_from_speechbrain`), the hop of its
feature frames (:attr:`feature_hop_length`), features from an STFT magnitude
(:meth:`magnitude_to_features`, the fast path of masked spectra), and the way
back from features to audio for listening (:meth:`features_to_audio`: the
filterbank inverted by non-negative least squares, the phase by Griffin-Lim).

The mel scale (HTK formula, as SpeechBrain's ``Filterbank``) is written once
here (:func:`hz_to_mel`, :func:`mel_to_hz`), with :func:`frequency_positions`:
where each linear STFT bin lies on a feature map's frequency axis.

Example
-------
>>> import torch
>>> from speechbrain.lobes.features import Fbank
>>> from speechbrain_xai.lobes.classifiers import ClassifierHead, SmallCNN
>>> pipe = EncoderPipeline(Fbank(n_mels=16), SmallCNN(16, (4,), 8), ClassifierHead(8, 2))
>>> pipe.feature_hop_length, stft_config_from_speechbrain(pipe.stft_module, 16000).n_fft
(160, 400)
>>> wav = torch.randn(1, 8000)
>>> pipe.features_to_audio(pipe.features(wav), n_iter=4).shape
torch.Size([1, 8000])
"""

from __future__ import annotations

import inspect
import math
from typing import List, Optional, Union

import torch

from speechbrain_xai.stft import STFTConfig

Number = Union[float, torch.Tensor]


# --------------------------------------------------------------------------
# The mel scale
# --------------------------------------------------------------------------
def hz_to_mel(hz: Number) -> Number:
    """HTK mel scale, as SpeechBrain's ``Filterbank`` (float or tensor).

    >>> round(hz_to_mel(1000.0), 2)
    999.99
    """
    if isinstance(hz, torch.Tensor):
        return 2595.0 * torch.log10(1.0 + hz / 700.0)
    return 2595.0 * math.log10(1.0 + hz / 700.0)


def mel_to_hz(mel: Number) -> Number:
    """Inverse of :func:`hz_to_mel`.

    >>> round(mel_to_hz(hz_to_mel(440.0)), 6)
    440.0
    """
    if isinstance(mel, torch.Tensor):
        return 700.0 * (torch.pow(10.0, mel / 2595.0) - 1.0)
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def frequency_positions(n_freq: int, sample_rate: int, freq_scale: str = "mel",
                        f_min: float = 0.0, f_max: Optional[float] = None) -> torch.Tensor:
    """Where each linear STFT bin lies on a feature map's frequency axis.

    Returns ``grid_sample`` coordinates in ``[-1, 1]`` (``align_corners=False``
    convention: -1 is the lower edge of the first feature bin, 1 the upper edge
    of the last one). With ``freq_scale="mel"`` the feature axis is mel-spaced
    between ``f_min`` and ``f_max`` (as SpeechBrain's ``Fbank``); with
    ``"linear"`` it is linear in Hz.

    Arguments
    ---------
    n_freq : int
        Number of STFT bins, ``n_fft // 2 + 1``.
    sample_rate : int
        Sample rate of the audio.
    freq_scale : str
        ``"mel"`` or ``"linear"``.
    f_min, f_max : float
        Frequency range of the feature axis (``f_max`` defaults to Nyquist).

    Returns
    -------
    torch.Tensor
        ``[n_freq]`` coordinates.

    Example
    -------
    >>> pos = frequency_positions(5, 16000, "linear")
    >>> [round(float(p), 2) for p in pos]
    [-1.0, -0.5, 0.0, 0.5, 1.0]
    """
    f_max = sample_rate / 2 if f_max is None else f_max
    hz = torch.linspace(0.0, sample_rate / 2, n_freq, dtype=torch.float64)
    if freq_scale == "mel":
        lo = hz_to_mel(torch.tensor(float(f_min), dtype=torch.float64))
        hi = hz_to_mel(torch.tensor(float(f_max), dtype=torch.float64))
        unit = (hz_to_mel(hz) - lo) / (hi - lo)
    elif freq_scale == "linear":
        unit = (hz - f_min) / (f_max - f_min)
    else:
        raise ValueError(f"Unknown freq_scale {freq_scale!r}; use 'mel' or 'linear'.")
    return (2.0 * unit.clamp(0.0, 1.0) - 1.0).float()


# --------------------------------------------------------------------------
# STFT grids of SpeechBrain modules
# --------------------------------------------------------------------------
def stft_config_from_speechbrain(stft_module, sample_rate: int) -> Optional[STFTConfig]:
    """The :class:`STFTConfig` equal to a SpeechBrain ``STFT`` module's grid.

    Returns ``None`` when the module's settings cannot be expressed (normalised
    or two-sided STFT, unknown window), in which case only the ISTFT path is
    available.
    """
    if getattr(stft_module, "normalized_stft", False) or not getattr(
        stft_module, "onesided", True
    ):
        return None
    window = getattr(stft_module, "window", None)
    for name in ("hamming", "hann", "blackman", "rect"):
        cfg = STFTConfig(
            sample_rate=sample_rate,
            n_fft=stft_module.n_fft,
            win_length=stft_module.win_length,
            hop_length=stft_module.hop_length,
            window=name,
            center=stft_module.center,
            pad_mode=stft_module.pad_mode,
        )
        if window is not None and torch.allclose(
            cfg.window_tensor(dtype=window.dtype), window.cpu()
        ):
            return cfg
    return None


def _fbank_parts(module) -> bool:
    return all(hasattr(module, a) for a in ("compute_STFT", "compute_fbanks", "deltas", "context"))


def call_with_lengths(module, feats, wav_lens):
    """Calls an embedding model with lengths when its forward takes them
    (SpeechBrain's ECAPA, this package's SmallCNN) and without otherwise (Cnn14)."""
    inner = module
    if isinstance(module, (torch.nn.parallel.DistributedDataParallel, torch.nn.DataParallel)):
        inner = module.module  # the wrapper's forward(*inputs) hides the signature
    try:
        params = inspect.signature(inner.forward).parameters
    except (TypeError, ValueError):
        return module(feats)
    return module(feats, wav_lens) if len(params) >= 2 else module(feats)


def as_logits(out) -> torch.Tensor:
    """A model's output as logits ``[B, C]`` (first element of a tuple;
    SpeechBrain heads' ``[B, 1, C]`` squeezed); a clear error otherwise."""
    if isinstance(out, (tuple, list)):
        out = out[0]
    if out.dim() == 3 and out.shape[1] == 1:  # SpeechBrain heads give [B, 1, C]
        out = out.squeeze(1)
    if out.dim() != 2:
        raise ValueError(
            f"The classifier returned shape {tuple(out.shape)}; the adapter needs "
            "logits [B, C]. Wrap the model so that it returns one score per class."
        )
    return out


# --------------------------------------------------------------------------
# Features back to audio (rendering feature-domain examples)
# --------------------------------------------------------------------------
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


# --------------------------------------------------------------------------
# The layouts
# --------------------------------------------------------------------------
class EncoderPipeline(torch.nn.Module):
    """SpeechBrain's encoder-classifier layout as one module.

    ``compute_features -> mean_var_norm -> embedding_model -> classifier``, the
    modules of ``speechbrain.inference.classifiers.EncoderClassifier`` and of
    the classification recipes. When ``compute_features`` is SpeechBrain's
    ``Fbank``, the front-end is known: the STFT grid, the fast path from a
    magnitude and the rendering of features as audio.
    """

    def __init__(self, compute_features, embedding_model, classifier, mean_var_norm=None):
        super().__init__()
        self.compute_features = compute_features
        self.mean_var_norm = mean_var_norm
        self.embedding_model = embedding_model
        self.classifier = classifier

    def features(self, wavs):
        """The front-end's features (e.g. log-mel ``[B, T, n_mels]``)."""
        return self.compute_features(wavs)

    def from_features(self, feats, wav_lens):
        """Logits from front-end features: normalisation, embedding, head."""
        if self.mean_var_norm is not None:
            feats = self.mean_var_norm(feats, wav_lens)
        emb = call_with_lengths(self.embedding_model, feats, wav_lens)
        return as_logits(self.classifier(emb))

    def forward(self, wavs, wav_lens):
        return self.from_features(self.compute_features(wavs), wav_lens)

    @property
    def stft_module(self):
        """The SpeechBrain STFT inside the front-end, if it is an ``Fbank``."""
        if _fbank_parts(self.compute_features):
            return self.compute_features.compute_STFT
        return None

    @property
    def feature_hop_length(self) -> Optional[int]:
        """Samples between feature frames (the STFT hop), if the front-end is known."""
        stft = self.stft_module
        return None if stft is None else int(stft.hop_length)

    def magnitude_to_features(self, mag):
        """``Fbank`` features from an STFT magnitude ``[B, T, F]``."""
        fbank = self.compute_features
        feats = fbank.compute_fbanks(mag.pow(2))  # Fbank uses the power spectrum
        if fbank.deltas:
            delta1 = fbank.compute_deltas(feats)
            delta2 = fbank.compute_deltas(delta1)
            feats = torch.cat([feats, delta1, delta2], dim=2)
        if fbank.context:
            feats = fbank.context_window(feats)
        return feats

    def forward_magnitude(self, mag, wav_lens):
        """Logits from an STFT magnitude (skips the STFT of the front-end)."""
        return self.from_features(self.magnitude_to_features(mag), wav_lens)

    def features_to_audio(self, feats, n_iter: int = 100, length=None):
        """Waveforms ``[B, N]`` for plain log-mel ``Fbank`` features ``[B, T, n_mels]``."""
        fbank = self.compute_features
        if not _fbank_parts(fbank):
            raise ValueError("Only a SpeechBrain Fbank front-end can be rendered as audio.")
        if fbank.deltas or fbank.context:
            raise ValueError("Rendering needs plain log-mel features (no deltas, no context).")
        mel = filterbank_to_linear(feats.detach(), fbank.compute_fbanks)
        power = linear_from_mel(mel, fbank_matrix(fbank))  # Fbank: |X|^2
        return griffin_lim(power.sqrt(), fbank.compute_STFT, n_iter, length)


class SpectrogramPipeline(torch.nn.Module):
    """SpeechBrain's ``AudioClassifier`` layout (e.g. ``speechbrain/cnn14-esc50``).

    ``compute_stft -> |X|^(2 p) -> compute_fbank (or log1p) -> embedding_model
    -> classifier``, as in ``speechbrain.inference.classifiers.AudioClassifier``.
    """

    def __init__(self, compute_stft, embedding_model, classifier, compute_fbank=None,
                 spec_mag_power: float = 0.5, use_melspectra: bool = True):
        super().__init__()
        self.compute_stft = compute_stft
        self.compute_fbank = compute_fbank
        self.embedding_model = embedding_model
        self.classifier = classifier
        self.spec_mag_power = spec_mag_power
        self.use_melspectra = use_melspectra and compute_fbank is not None

    @property
    def stft_module(self):
        return self.compute_stft

    @property
    def feature_hop_length(self) -> int:
        """Samples between feature frames (the STFT hop)."""
        return int(self.compute_stft.hop_length)

    def forward(self, wavs, wav_lens):
        return self.from_features(self.features(wavs), wav_lens)

    def features(self, wavs):
        """The network input (mel or log1p spectrogram ``[B, T, F']``)."""
        from speechbrain.processing.features import spectral_magnitude

        return self.magnitude_to_features(spectral_magnitude(self.compute_stft(wavs), power=0.5))

    def magnitude_to_features(self, mag):
        """The network input from an STFT magnitude ``[B, T, F]``."""
        power = mag.pow(2)
        if self.spec_mag_power < 1:
            power = power + 1e-14  # as speechbrain's spectral_magnitude
        power = power.pow(self.spec_mag_power)
        return self.compute_fbank(power) if self.use_melspectra else torch.log1p(power)

    def forward_magnitude(self, mag, wav_lens):
        """Logits from an STFT magnitude (skips the STFT of the front-end)."""
        return self.from_features(self.magnitude_to_features(mag), wav_lens)

    def from_features(self, net_input, wav_lens=None):
        """Logits from the network input (embedding, head)."""
        emb = self.embedding_model(net_input)
        if emb.dim() == 4:
            emb = emb.mean((-1, -2))
        return as_logits(self.classifier(emb))

    def features_to_audio(self, feats, n_iter: int = 100, length=None):
        """Waveforms ``[B, N]`` for the network input ``[B, T, F]``: the
        filterbank (dB or linear) or the ``log1p`` undone, ``|X|^(2p)`` back to
        ``|X|``, the phase by Griffin-Lim on ``compute_stft``'s grid."""
        feats = feats.detach()
        if self.use_melspectra:
            fb = self.compute_fbank
            spec = linear_from_mel(filterbank_to_linear(feats, fb), fbank_matrix(fb))
        else:
            spec = torch.expm1(feats.double()).clamp_min(0)
        mag = spec.double().pow(0.5 / self.spec_mag_power)  # |X|^(2p) -> |X|
        return griffin_lim(mag, self.compute_stft, n_iter, length)


class WaveformModule(torch.nn.Module):
    """A black-box ``waveforms [B, N] -> logits [B, C]`` module (front-end unknown)."""

    def __init__(self, module: torch.nn.Module, takes_lengths: Optional[bool] = None):
        super().__init__()
        self.module = module
        if takes_lengths is None:
            params = inspect.signature(module.forward).parameters
            takes_lengths = len([p for p in params.values() if p.kind in (
                p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]) >= 2
        self.takes_lengths = takes_lengths

    stft_module = None
    feature_hop_length = None

    def forward(self, wavs, wav_lens):
        out = self.module(wavs, wav_lens) if self.takes_lengths else self.module(wavs)
        return as_logits(out)


def label_names(label_encoder) -> Optional[List[str]]:
    """Class names from a SpeechBrain ``CategoricalEncoder`` (None without one)."""
    if label_encoder is None or not getattr(label_encoder, "ind2lab", None):
        return None
    ind2lab = label_encoder.ind2lab
    return [str(ind2lab[i]) for i in range(len(ind2lab))]
