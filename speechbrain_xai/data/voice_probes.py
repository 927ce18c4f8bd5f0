"""Classifier-free voice checks for VocalMix excerpts.

Activation maximisation makes excerpts that drive the classifier's "voice"
unit up or down; whether they *read as voice* must be judged by something the
classifier never sees. VocalMix knows where the voice is (each clip's stems
give its voice interval), so real excerpts can be labelled
(:func:`voice_labels`) and a small linear probe (:class:`VoiceProbe`) can be
trained on hand-made statistics of log-mel excerpts: the band profile,
frame-to-frame change and spread (:func:`probe_features`), or vibrato alone
(:func:`vibrato_features`: VocalMix voices have vibrato at 4.5-6.5 Hz, its
instruments hold their pitch). :func:`train_voice_probes` trains both on a
recipe's training clips and :func:`probe_summary` reports a probe on real and
generated excerpts.

Frame times come from the classifier's feature hop
(:func:`speechbrain_xai.data.excerpts.feature_hop_seconds`), passed as
``hop_seconds``.

Example
-------
>>> import torch
>>> x = torch.randn(6, 64, 32)  # (N, T, F) log-mel excerpts
>>> probe_features(x).shape, vibrato_features(x, hop_seconds=0.01).shape
(torch.Size([6, 96]), torch.Size([6, 63]))
"""

from __future__ import annotations

import csv
import functools
from typing import Callable, Dict, Mapping, Optional, Sequence, Tuple

import torch

from speechbrain_xai.data.excerpts import dataset_excerpts, feature_hop_seconds
from speechbrain_xai.hparams import reads_hparams
from speechbrain_xai.metrics import roc_auc


def voice_labels(manifest: str, ids: Sequence[str], starts: torch.Tensor, frames: int,
                 hop_seconds: float) -> torch.Tensor:
    """Labels ``[N]`` of excerpts from a VocalMix manifest's voice intervals:
    1, the excerpt lies inside the voice interval of a voice clip (50 ms of
    tolerance at each end); 0, a no-voice clip; -1, mixed.

    Arguments
    ---------
    manifest : str
        VocalMix CSV (``ID``, ``label``, ``voice_start``, ``voice_end`` in seconds).
    ids : sequence of str
        Clip id of each excerpt.
    starts : torch.Tensor
        Start frame of each excerpt ``[N]``.
    frames : int
        Excerpt length in frames.
    hop_seconds : float
        Seconds between feature frames.
    """
    with open(manifest) as f:
        rows = {r["ID"]: r for r in csv.DictReader(f)}
    labels = []
    for clip, start in zip(ids, starts.tolist()):
        r = rows[clip]
        t0, t1 = start * hop_seconds, (start + frames) * hop_seconds
        if r["label"] != "voice":
            labels.append(0)
        else:
            inside = float(r["voice_start"]) <= t0 + 0.05 and t1 - 0.05 <= float(r["voice_end"])
            labels.append(1 if inside else -1)
    return torch.tensor(labels)


def probe_features(x: torch.Tensor) -> torch.Tensor:
    """Classifier-free statistics ``[N, 3 F]`` of log-mel excerpts ``[N, T, F]``:
    the band profile, frame-to-frame change per band (vibrato, onsets),
    per-band spread."""
    x = x.double()
    profile = x.mean(1) - x.mean((1, 2))[:, None]
    change = (x[:, 1:] - x[:, :-1]).abs().mean(1)
    spread = x.std(1)
    return torch.cat([profile, change, spread], dim=1)


def vibrato_features(x: torch.Tensor, hop_seconds: float,
                     band_hz: Tuple[float, float] = (4.0, 8.0),
                     trend_half_seconds: float = 0.07) -> torch.Tensor:
    """Classifier-free vibrato statistics ``[N, 2 F - 1]`` of log-mel excerpts
    ``[N, T, F]`` whose frames are ``hop_seconds`` apart.

    VocalMix voices have vibrato at 4.5-6.5 Hz; the background's harmonic
    instruments (organ, lead) hold a static pitch. Per band: the share of its
    temporal modulation power (the slow trend, a moving average over
    +-``trend_half_seconds``, removed) at ``band_hz`` rates; per pair of
    neighbouring bands: the correlation of their vibrato-rate modulation (a
    partial that wobbles moves energy between neighbours).
    """
    x = x.double()
    frames = x.shape[1]
    half = round(trend_half_seconds / hop_seconds)
    trend = torch.nn.functional.avg_pool1d(x.transpose(1, 2), 2 * half + 1, 1, half,
                                           count_include_pad=False).transpose(1, 2)
    spec = torch.fft.rfft((x - trend) * torch.hann_window(frames, dtype=x.dtype)[None, :, None], dim=1)
    hz = torch.fft.rfftfreq(frames, hop_seconds)
    band = (hz >= band_hz[0]) & (hz <= band_hz[1])
    power = spec.abs() ** 2
    share = power[:, band].sum(1) / power[:, 1:].sum(1).clamp_min(1e-12)
    wobble = torch.fft.irfft(spec * band[None, :, None], n=frames, dim=1)
    wobble = wobble / wobble.norm(dim=1, keepdim=True).clamp_min(1e-9)
    neighbours = (wobble[:, :, 1:] * wobble[:, :, :-1]).sum(1)
    return torch.cat([share, neighbours], dim=1)


class VoiceProbe:
    """Ridge-regularised linear discriminant on classifier-free statistics of
    log-mel excerpts, trained on real voice vs no-voice excerpts.

    Arguments
    ---------
    feats : torch.Tensor
        Real excerpts ``[N, T, F]``.
    labels : torch.Tensor
        :func:`voice_labels` ``[N]`` (1 voice, 0 no voice, -1 ignored).
    ridge : float
        Added to the diagonal of the pooled (standardised) covariance.
    features : callable
        Excerpts ``[N, T, F]`` -> statistics ``[N, D]``: :func:`probe_features`
        or :func:`vibrato_features` with its ``hop_seconds`` bound.

    Calling the probe on excerpts gives scores ``[N]``: above 0 reads as voice
    (0 is the midpoint between the two classes' means).
    """

    def __init__(self, feats: torch.Tensor, labels: torch.Tensor, ridge: float,
                 features: Callable[[torch.Tensor], torch.Tensor] = probe_features):
        self.features = features
        z = features(feats)
        self.mu, self.sd = z.mean(0), z.std(0).clamp_min(1e-6)
        z = (z - self.mu) / self.sd
        pos, neg = z[labels == 1], z[labels == 0]
        cov = (torch.cov(pos.T) + torch.cov(neg.T)) / 2 + ridge * torch.eye(z.shape[1], dtype=z.dtype)
        self.w = torch.linalg.solve(cov, pos.mean(0) - neg.mean(0))
        self.b = -float(self.w @ (pos.mean(0) + neg.mean(0))) / 2

    def __call__(self, feats: torch.Tensor) -> torch.Tensor:
        z = (self.features(feats.cpu()) - self.mu) / self.sd
        return (z @ self.w + self.b).float()


@reads_hparams("excerpt_frames", "probe_excerpts_per_clip", "probe_ridge", "dataloader_opts")
def train_voice_probes(adapter, dataset, manifest: str, hparams: Mapping) -> Dict[str, VoiceProbe]:
    """Both probes, ``{"probe": on probe_features, "vibrato_probe": on
    vibrato_features}``, trained on ``probe_excerpts_per_clip`` evenly spaced
    excerpts of ``excerpt_frames`` frames of every clip of ``dataset``
    (features by ``adapter``), labelled from ``manifest``'s voice intervals
    (:func:`voice_labels`), with ridge ``probe_ridge``."""
    frames, hop_seconds = hparams["excerpt_frames"], feature_hop_seconds(adapter)
    feats, starts, ids = dataset_excerpts(adapter, dataset, frames, hparams["probe_excerpts_per_clip"],
                                          hparams["dataloader_opts"])
    labels = voice_labels(manifest, ids, starts, frames, hop_seconds)
    vibrato = functools.partial(vibrato_features, hop_seconds=hop_seconds)
    return {name: VoiceProbe(feats.cpu(), labels, hparams["probe_ridge"], features)
            for name, features in (("probe", probe_features), ("vibrato_probe", vibrato))}


@reads_hparams("excerpt_frames", "n_reference")
def probe_summary(probe: VoiceProbe, manifest: str, reference, start_feats: torch.Tensor,
                  hop_seconds: float, hparams: Mapping,
                  candidate_starts: Optional[Mapping[str, torch.Tensor]] = None,
                  inverted: Optional[Mapping[str, torch.Tensor]] = None) -> dict:
    """A probe on real excerpts (ROC AUC; voice / no-voice means; the
    ``n_reference`` excerpts the unit ranks highest / lowest) and on the
    unoptimised generator samples.

    Arguments
    ---------
    probe : VoiceProbe
        A trained probe.
    manifest : str
        The VocalMix manifest of the reference excerpts (their labels).
    reference : tuple
        ``(feats, starts, ids, acts)`` of the real reference excerpts
        (:func:`speechbrain_xai.brains.am_search.reference_set`).
    start_feats : torch.Tensor
        The generator's unoptimised samples ``[K, T, F]``.
    hop_seconds : float
        Seconds between feature frames.
    hparams : dict
        ``excerpt_frames``, ``n_reference``.
    candidate_starts : dict, optional
        ``{direction: [K, T, F]}``: the samples a search with several
        candidates per seed starts from (``gan_start_<direction>_mean`` and
        ``_voice_fraction`` are added).
    inverted : dict, optional
        ``{side: [n, T, F]}``: the generator's rebuilds of the real excerpts
        the unit ranks highest / lowest
        (:func:`speechbrain_xai.brains.am_search.invert_reference`;
        ``gan_inverted_<side>_mean`` and ``_voice_fraction`` are added, to be
        read against ``real_<side>_by_unit_mean``).
    """
    feats, starts, ids, acts = reference
    labels = voice_labels(manifest, ids, starts, hparams["excerpt_frames"], hop_seconds)
    scores = probe(feats)
    known = labels >= 0
    auc = float(roc_auc(scores[known][None], labels[known][None])[0])
    n_ref = min(hparams["n_reference"], len(acts))
    order = torch.argsort(acts.cpu(), descending=True)
    start_scores = probe(start_feats)
    out = {"auc_on_real": auc if auc == auc else None,
            "real_voice_mean": float(scores[labels == 1].mean()),
            "real_no_voice_mean": float(scores[labels == 0].mean()),
            "real_top_by_unit_mean": float(scores[order[:n_ref]].mean()),
            "real_bottom_by_unit_mean": float(scores[order[-n_ref:]].mean()),
            "gan_unoptimised_mean": float(start_scores.mean()),
            "gan_unoptimised_voice_fraction": float((start_scores > 0).float().mean())}
    generated = {**{f"gan_start_{d}": f for d, f in (candidate_starts or {}).items()},
                 **{f"gan_inverted_{side}": f for side, f in (inverted or {}).items()}}
    for name, feats in generated.items():
        scores = probe(feats)
        out[f"{name}_mean"] = float(scores.mean())
        out[f"{name}_voice_fraction"] = float((scores > 0).float().mean())
    return out
