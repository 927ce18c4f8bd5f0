"""Interpretable components on the STFT grid, and scoring perturbed clips.

Search-based explainers (the genetic explainer, the LIME baseline) do not
choose single STFT bins: they choose *components*, groups of bins given by an
integer **component map** ``[T, F]`` on the adapter's STFT grid (the role of
captum's ``feature_mask``). Id ``k`` in ``0..K-1`` names a component; id
``-1`` marks bins that are never removed (e.g. the padding frames of a short
clip in a batch). A binary **genome** ``[K]`` says which components are kept
(1 keeps, as for every mask in the package); :func:`component_masks` turns
genomes into binary masks ``[P, T, F]``.

Maps:

* :func:`time_frequency_grid`: ``n_time`` equal time segments x ``n_bands``
  mel-spaced frequency bands (component ``k = segment * n_bands + band``);
* :func:`time_segments`: time only (all frequencies of a segment together);
* :func:`check_component_map`: validates a user-supplied map.

Removed bins are replaced by a **fill** (:data:`speechbrain_xai.stft.FILLS`:
silence, the clip's mean spectrum, or seeded noise with that spectrum; see
:func:`speechbrain_xai.stft.fill_magnitude`). :class:`PerturbationScorer`
scores any number of perturbations of a batch of clips (a genome or a mask
each, with a fill) in chunked forward passes through
:meth:`ClassifierAdapter.spectrum_logits`: the search explainers' fitness,
the harness's deletion and insertion curves.

Example
-------
>>> import torch
>>> from speechbrain_xai.stft import STFTConfig
>>> cfg = STFTConfig(sample_rate=16000)
>>> cmap = time_frequency_grid(101, cfg, n_time=4, n_bands=2)
>>> cmap.shape, int(cmap.max()) + 1
(torch.Size([101, 201]), 8)
>>> genomes = torch.tensor([[1, 0, 0, 0, 0, 0, 0, 1]], dtype=torch.bool)
>>> masks = component_masks(genomes, cmap)
>>> masks.shape, float(masks.mean()) > 0
(torch.Size([1, 101, 201]), True)
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch

from speechbrain_xai.frontends import hz_to_mel, mel_to_hz
from speechbrain_xai.stft import (
    STFTConfig,
    fill_magnitude,
    perturbed_spectrum,
    valid_frame_counts,
)

KEEP = -1  # component id of bins that are never removed


def mel_band_of_bins(config: STFTConfig, n_bands: int, f_min: float = 0.0,
                     f_max: Optional[float] = None) -> torch.Tensor:
    """Mel-spaced band index ``[F]`` of every linear STFT bin.

    Band edges are ``n_bands + 1`` points equally spaced on the mel scale
    between ``f_min`` and ``f_max`` (default: Nyquist); bins below ``f_min``
    join the first band, above ``f_max`` the last.

    >>> mel_band_of_bins(STFTConfig(n_fft=16, sample_rate=16000), 2).tolist()
    [0, 0, 1, 1, 1, 1, 1, 1, 1]
    """
    f_max = config.sample_rate / 2 if f_max is None else f_max
    if not isinstance(n_bands, int) or n_bands < 1:
        raise ValueError(f"n_bands must be a positive int, got {n_bands!r}.")
    if not 0 <= f_min < f_max <= config.sample_rate / 2:
        raise ValueError(f"Need 0 <= f_min < f_max <= {config.sample_rate / 2} Hz.")
    lo, hi = hz_to_mel(f_min), hz_to_mel(f_max)
    inner = torch.tensor([mel_to_hz(lo + (hi - lo) * i / n_bands) for i in range(1, n_bands)],
                         dtype=torch.float64)
    freqs = torch.arange(config.n_freq, dtype=torch.float64) * config.sample_rate / config.n_fft
    bands = torch.bucketize(freqs, inner, right=True)
    empty = sorted(set(range(n_bands)) - set(bands.unique().tolist()))
    if empty:
        raise ValueError(
            f"Mel bands {empty} of {n_bands} contain no STFT bin (n_fft={config.n_fft}); "
            "use fewer bands or a larger n_fft."
        )
    return bands


def _segment_of_frames(num_frames: int, n_time: int, valid_frames: Optional[int]) -> torch.Tensor:
    valid = num_frames if valid_frames is None else int(valid_frames)
    if not isinstance(n_time, int) or n_time < 1:
        raise ValueError(f"n_time must be a positive int, got {n_time!r}.")
    if not 0 < valid <= num_frames:
        raise ValueError(f"valid_frames must lie in [1, {num_frames}], got {valid}.")
    if n_time > valid:
        raise ValueError(
            f"{n_time} time segments for {valid} frames: use fewer segments or longer clips."
        )
    frames = torch.arange(num_frames)
    seg = torch.div(frames * n_time, valid, rounding_mode="floor")
    return torch.where(frames < valid, seg, torch.full_like(seg, KEEP))


def time_frequency_grid(num_frames: int, config: STFTConfig, n_time: int = 8, n_bands: int = 4,
                        valid_frames: Optional[int] = None, f_min: float = 0.0,
                        f_max: Optional[float] = None) -> torch.Tensor:
    """Component map ``[T, F]``: ``n_time`` time segments x ``n_bands`` mel bands.

    Arguments
    ---------
    num_frames : int
        Frames ``T`` of the STFT grid.
    config : STFTConfig
        The grid's settings (gives ``F`` and the bin frequencies).
    n_time, n_bands : int
        Number of equal time segments and of mel-spaced bands.
    valid_frames : int, optional
        Frames holding the clip (the rest, padding, gets id ``-1``: never removed).
    f_min, f_max : float
        Frequency range split into mel bands (Hz).

    Returns
    -------
    torch.Tensor
        Long ``[T, F]`` with ids ``segment * n_bands + band`` (``-1`` on padding).
    """
    seg = _segment_of_frames(num_frames, n_time, valid_frames)
    band = mel_band_of_bins(config, n_bands, f_min, f_max)
    cmap = seg[:, None] * n_bands + band[None, :]
    return torch.where(seg[:, None] >= 0, cmap, torch.full_like(cmap, KEEP))


def time_segments(num_frames: int, config: STFTConfig, n_time: int = 10,
                  valid_frames: Optional[int] = None) -> torch.Tensor:
    """Component map ``[T, F]`` of ``n_time`` equal time segments (all bins of a frame together).

    >>> time_segments(6, STFTConfig(n_fft=8, sample_rate=8000), n_time=3)[:, 0].tolist()
    [0, 0, 1, 1, 2, 2]
    """
    seg = _segment_of_frames(num_frames, n_time, valid_frames)
    return seg[:, None].expand(num_frames, config.n_freq).clone()


def check_component_map(component_map, num_frames: int, num_freq: int) -> Tuple[torch.Tensor, int]:
    """Validates a user map ``[T, F]`` (or ``[B, T, F]``) and returns it with ``K``.

    Ids must be integers in ``-1..K-1`` with every id ``0..K-1`` used
    (``-1``: bins that are never removed).

    >>> check_component_map(torch.tensor([[0, 1], [1, -1]]), 2, 2)[1]
    2
    """
    cmap = torch.as_tensor(component_map)
    if cmap.is_floating_point() or cmap.is_complex() or cmap.dtype == torch.bool:
        raise ValueError(f"A component map holds integer ids, got dtype {cmap.dtype}.")
    if tuple(cmap.shape[-2:]) != (num_frames, num_freq) or cmap.dim() not in (2, 3):
        raise ValueError(
            f"Component map shape {tuple(cmap.shape)} does not match the STFT grid "
            f"[T, F] = [{num_frames}, {num_freq}]; build it on the adapter's stft_config."
        )
    cmap = cmap.long()
    if int(cmap.min()) < KEEP:
        raise ValueError("Component ids must be >= -1 (-1 marks bins never removed).")
    num = int(cmap.max()) + 1
    if num < 1:
        raise ValueError("The component map has no component (all ids are -1).")
    for one in cmap.reshape(-1, num_frames, num_freq):
        missing = sorted(set(range(num)) - set(one.unique().tolist()))
        if missing:
            raise ValueError(
                f"Component ids must be 0..K-1 with none skipped; ids {missing[:10]} are unused. "
                "Renumber, e.g. with torch.unique(map, return_inverse=True)."
            )
    return cmap, num


def component_masks(genomes: torch.Tensor, component_map: torch.Tensor) -> torch.Tensor:
    """Binary masks ``[P, T, F]`` of genomes ``[P, K]`` on a map ``[T, F]`` or ``[P, T, F]``.

    Bins with id ``-1`` are always kept (mask 1).

    >>> component_masks(torch.tensor([[True, False]]), torch.tensor([[0, 1, -1]])).tolist()
    [[[1.0, 0.0, 1.0]]]
    """
    if genomes.dim() != 2:
        raise ValueError(f"genomes must be [P, K], got shape {tuple(genomes.shape)}.")
    cmap = component_map.to(genomes.device)
    # an extra always-on gene at index K serves the "never removed" id -1
    padded = torch.cat([genomes.float(), genomes.new_ones(genomes.shape[0], 1).float()], dim=1)
    idx = torch.where(cmap < 0, torch.full_like(cmap, genomes.shape[1]), cmap)
    if idx.dim() == 2:
        return padded[:, idx]  # (P, T, F)
    return torch.gather(padded, 1, idx.flatten(1)).view(idx.shape)


def batch_component_maps(kind: str, wav_lens: torch.Tensor, num_samples: int, config: STFTConfig,
                         n_time: int = 8, n_bands: int = 4,
                         component_map=None) -> Tuple[torch.Tensor, int]:
    """Component maps ``[B, T, F]`` for a batch, and the number of components ``K``.

    ``kind`` is ``"grid"`` (:func:`time_frequency_grid`), ``"time"``
    (:func:`time_segments`) or ``"map"`` (the user's ``component_map``
    ``[T, F]`` or ``[B, T, F]``). Grid and time maps cover each clip's valid
    frames only, so a clip gets the same components in any batch.
    """
    frames = config.num_frames(num_samples)
    batch = wav_lens.shape[0]
    if kind == "map":
        if component_map is None:
            raise ValueError("components='map' needs component_map=[T, F] integer ids.")
        cmap, num = check_component_map(component_map, frames, config.n_freq)
        return cmap.expand(batch, frames, config.n_freq).clone(), num
    if component_map is not None:
        raise ValueError(f"component_map is given but components={kind!r}; use components='map'.")
    valid = valid_frame_counts(wav_lens, num_samples, config)
    if kind == "grid":
        maps = [time_frequency_grid(frames, config, n_time, n_bands, int(v)) for v in valid]
        return torch.stack(maps), n_time * n_bands
    if kind == "time":
        return torch.stack([time_segments(frames, config, n_time, int(v)) for v in valid]), n_time
    raise ValueError(f"Unknown components {kind!r}; use 'grid', 'time' or 'map'.")


class PerturbationScorer:
    """Target probabilities of perturbed clips, batched through the adapter.

    Built once per batch of clips; :meth:`score_masks` evaluates any number of
    (clip, mask) pairs, and :meth:`score` any number of (clip, genome) pairs
    on the clips' component maps, in forward passes of at most ``chunk_size``
    perturbations (captum's ``perturbations_per_eval``), through
    :meth:`ClassifierAdapter.spectrum_logits`; it counts the model evaluations
    per clip in ``evaluations``. Removed bins get the ``fill``
    (:func:`speechbrain_xai.stft.fill_magnitude`).

    Arguments
    ---------
    adapter : ClassifierAdapter
        The explained classifier.
    wavs, wav_lens : torch.Tensor
        Prepared waveforms ``[B, N]`` and relative lengths ``[B]``.
    target : torch.Tensor
        Target class per clip ``[B]``.
    component_maps : torch.Tensor, optional
        ``[B, T, F]`` ids (see :func:`batch_component_maps`), for :meth:`score`.
    fill : str
        One of :data:`speechbrain_xai.stft.FILLS`.
    path : str
        ``"istft"`` (the listenable path) or ``"features"`` (the adapter's
        feature path, where it has one: skips the ISTFT).
    chunk_size : int
        Perturbations per forward pass.
    seed : int
        Seed of the noise fill.
    """

    def __init__(self, adapter, wavs: torch.Tensor, wav_lens: torch.Tensor, target: torch.Tensor,
                 component_maps: Optional[torch.Tensor] = None, fill: str = "zero",
                 path: str = "istft", chunk_size: int = 16, seed: int = 0):
        if path not in ("istft", "features"):
            raise ValueError(f"Unknown path {path!r}; use 'istft' or 'features'.")
        if path == "features" and not adapter.has_feature_path:
            raise ValueError("This classifier has no feature path; use path='istft'.")
        if not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}.")
        self.adapter, self.wavs, self.wav_lens = adapter, wavs, wav_lens
        self.maps = None if component_maps is None else component_maps.to(wavs.device)
        self.target = target.to(wavs.device)
        self.path, self.chunk_size = path, chunk_size
        self.spec = adapter.stft(wavs)  # (B, T, F) complex
        valid = valid_frame_counts(wav_lens, wavs.shape[1], adapter.stft_config)
        self.fill_mag = fill_magnitude(self.spec, fill, valid, seed)
        self.evaluations = torch.zeros(wavs.shape[0], dtype=torch.long)

    def perturbed(self, clips: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """Complex STFTs ``[N, T, F]`` of clips ``[N]`` under masks ``[N, T, F]``."""
        fill = None if self.fill_mag is None else self.fill_mag[clips]
        return perturbed_spectrum(self.spec[clips], masks, fill)

    @torch.no_grad()
    def score_masks(self, clips: torch.Tensor, masks: torch.Tensor, log_odds: bool = False) -> torch.Tensor:
        """Target probability ``[N]`` of clip ``clips[i]`` perturbed by ``masks[i]``
        (with ``log_odds``: its log-odds, see :func:`target_log_odds`)."""
        return self._scored(clips, lambda start, stop: masks[start:stop], log_odds)

    def score(self, clips: torch.Tensor, genomes: torch.Tensor, log_odds: bool = False) -> torch.Tensor:
        """Target probability ``[N]`` of clip ``clips[i]`` keeping the components
        ``genomes[i]`` (with ``log_odds``: its log-odds). The masks are built one
        forward pass at a time."""
        if self.maps is None:
            raise ValueError("score() needs component_maps; use score_masks() for plain masks.")
        device = self.maps.device
        clips_d = clips.to(device)
        return self._scored(clips, lambda start, stop: component_masks(
            genomes[start:stop].to(device), self.maps[clips_d[start:stop]]), log_odds)

    @torch.no_grad()
    def _scored(self, clips: torch.Tensor, masks_of, log_odds: bool) -> torch.Tensor:
        clips = clips.to(self.spec.device)
        out = []
        for start in range(0, clips.shape[0], self.chunk_size):
            stop = start + self.chunk_size
            idx = clips[start:stop]
            mask = masks_of(start, stop).to(self.spec.device)
            logits = self.adapter.spectrum_logits(self.perturbed(idx, mask), self.wavs.shape[1],
                                                  self.wav_lens[idx], self.path)
            target = self.target[idx]
            if log_odds:
                out.append(target_log_odds(logits, target))
            else:
                out.append(logits.softmax(dim=-1).gather(1, target[:, None]).squeeze(1))
        self.evaluations += torch.bincount(clips.cpu(), minlength=self.evaluations.shape[0])
        dtype = torch.float64 if log_odds else torch.float32
        return torch.cat(out).to(dtype).cpu() if out else torch.zeros(0, dtype=dtype)


def target_log_odds(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``log p_c - log(1 - p_c)`` ``[N]`` of the target classes ``[N]``, from
    logits ``[N, C]`` without forming ``p_c``: it does not saturate where the
    probability rounds to 1 (or 0) in float32.

    >>> logits = torch.tensor([[40.0, 0.0], [0.0, 0.0]])
    >>> target_log_odds(logits, torch.tensor([0, 1])).tolist()
    [40.0, 0.0]
    >>> torch.sigmoid(target_log_odds(logits, torch.tensor([0, 1]))).tolist()
    [1.0, 0.5]
    """
    logits = logits.double()
    own = logits.gather(1, target[:, None]).squeeze(1)
    others = logits.scatter(1, target[:, None], float("-inf"))
    return own - torch.logsumexp(others, dim=1)


def component_importance(values: torch.Tensor, component_maps: torch.Tensor) -> torch.Tensor:
    """Bin importance ``[B, T, F]`` from component values ``[B, K]``.

    Bins that are never removed (id ``-1``) rank below every component, so
    deletion and insertion curves (:func:`speechbrain_xai.metrics.deletion_auc`)
    move whole components in the order of ``values``.

    >>> component_importance(torch.tensor([[0.2, 0.9]]), torch.tensor([[[0, 1, -1]]]))
    tensor([[[ 0.2000,  0.9000, -0.8000]]])
    """
    values = values.float().to(component_maps.device)
    lowest = values.min(dim=1, keepdim=True).values - 1.0
    padded = torch.cat([values, lowest], dim=1)
    idx = torch.where(component_maps < 0, torch.full_like(component_maps, values.shape[1]),
                      component_maps)
    return torch.gather(padded, 1, idx.flatten(1)).view(component_maps.shape)
