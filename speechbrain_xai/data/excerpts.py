"""Fixed-size excerpts of a classifier's feature frames, and the frame clock behind them.

The spectrogram GAN learns, and activation maximisation searches, excerpts of
``frames`` feature frames ``[frames, F]`` in the explained classifier's own
domain (``adapter.features``). :func:`excerpts_from_features` cuts them from
a batch of feature maps, :func:`dataset_excerpts` from every clip of a
SpeechBrain dataset.

How long a frame lasts is the classifier's business, not a constant: its
front-end's STFT hop (``adapter.feature_hop_length`` samples at
``adapter.sample_rate``). :func:`feature_hop_seconds` gives it in seconds and
:func:`samples_for_frames` turns a number of frames into samples at the
data's rate (e.g. the shortest clip that still holds an excerpt).

Example
-------
>>> import torch
>>> from speechbrain.lobes.features import Fbank
>>> from speechbrain_xai.adapter import ClassifierAdapter
>>> from speechbrain_xai.lobes.classifiers import SmallCNN, ClassifierHead
>>> adapter = ClassifierAdapter.from_modules(Fbank(n_mels=16), SmallCNN(16, (4,), 8),
...                                          ClassifierHead(8, 2), sample_rate=16000)
>>> feature_hop_seconds(adapter)  # Fbank's 10 ms hop
0.01
>>> samples_for_frames(adapter, 65, 16000), samples_for_frames(adapter, 65, 8000)
(10400, 5200)
>>> feats = adapter.features(torch.randn(2, 16000))  # (B, T, F)
>>> x, starts = excerpts_from_features(feats, torch.tensor([1.0, 0.5]), 32, per_clip=3,
...                                    return_starts=True)
>>> x.shape, starts.tolist()
(torch.Size([6, 32, 16]), [0, 34, 69, 0, 9, 18])
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import speechbrain as sb
import torch


def feature_hop_seconds(adapter) -> float:
    """Seconds between the classifier's feature frames
    (``adapter.feature_hop_length / adapter.sample_rate``).

    Raises a ``ValueError`` for a classifier whose front-end is unknown (a
    black box has no feature frames). See the module's example.
    """
    hop = adapter.feature_hop_length
    if hop is None:
        raise ValueError(
            "The classifier's feature hop is unknown (a black box, or a front-end without a "
            "SpeechBrain STFT): feature frames need a classifier in the EncoderClassifier or "
            "AudioClassifier layout."
        )
    return hop / adapter.sample_rate


def samples_for_frames(adapter, frames: int, sample_rate: int) -> int:
    """Samples at ``sample_rate`` spanning ``frames`` hops of the classifier's
    features, rounded up. A clip of that many samples gives the classifier's
    centred STFT ``frames + 1`` feature frames.

    Arguments
    ---------
    adapter : ClassifierAdapter
        The classifier (``feature_hop_length``, ``sample_rate``).
    frames : int
        Number of feature hops.
    sample_rate : int
        Rate of the audio the samples are counted in (the data's).
    """
    feature_hop_seconds(adapter)  # a clear error for a black box
    # integer ceiling of frames * hop * sample_rate / adapter.sample_rate
    return -(-int(frames) * adapter.feature_hop_length * int(sample_rate) // adapter.sample_rate)


def excerpts_from_features(feats: torch.Tensor, lens: torch.Tensor, frames: int,
                           per_clip: int = 1, random: bool = False,
                           generator: Optional[torch.Generator] = None,
                           return_starts: bool = False):
    """Cuts ``per_clip`` excerpts of ``frames`` frames from each clip's valid frames.

    Arguments
    ---------
    feats : torch.Tensor
        Features ``[B, T, F]``.
    lens : torch.Tensor
        Relative lengths ``[B]``.
    frames : int
        Excerpt length.
    per_clip : int
        Excerpts per clip: evenly spaced when ``random`` is False.
    random : bool
        Random start frames (training) instead of evenly spaced ones.
    generator : torch.Generator, optional
        For the random starts.
    return_starts : bool
        Also return the start frame of each excerpt (``LongTensor [B * per_clip]``).

    Returns
    -------
    torch.Tensor
        ``[B * per_clip, frames, F]`` (clip-major order).
    """
    valid = (lens * feats.shape[1]).round().long().clamp(max=feats.shape[1])
    if int(valid.min()) < frames:
        raise ValueError(
            f"A clip has {int(valid.min())} feature frames, fewer than excerpt_frames={frames}; "
            "use longer clips or shorter excerpts."
        )
    out, all_starts = [], []
    for b in range(feats.shape[0]):
        room = int(valid[b]) - frames
        if random:
            starts = torch.randint(0, room + 1, (per_clip,), generator=generator).tolist()
        else:
            starts = [round(i * room / max(per_clip - 1, 1)) for i in range(per_clip)]
            if per_clip == 1:
                starts = [room // 2]
        out += [feats[b, s:s + frames] for s in starts]
        all_starts += starts
    if return_starts:
        return torch.stack(out), torch.tensor(all_starts)
    return torch.stack(out)


def dataset_excerpts(adapter, dataset, frames: int, per_clip: int,
                     loader_kwargs: Optional[dict] = None
                     ) -> Tuple[torch.Tensor, torch.Tensor, List[str]]:
    """Evenly spaced excerpts of every clip of a SpeechBrain dataset.

    Arguments
    ---------
    adapter : ClassifierAdapter
        Computes the features (``adapter.features``).
    dataset : DynamicItemDataset
        Gives ``id`` and ``sig`` (waveform).
    frames, per_clip : int
        Excerpt length and excerpts per clip.
    loader_kwargs : dict, optional
        For ``make_dataloader`` (batch size, workers).

    Returns
    -------
    feats : torch.Tensor
        ``[N, frames, F]`` on the adapter's device, clip-major.
    starts : torch.Tensor
        Start frame of each excerpt ``[N]``.
    ids : list of str
        Clip id of each excerpt.
    """
    loader = sb.dataio.dataloader.make_dataloader(dataset, **(loader_kwargs or {}))
    feats, starts, ids = [], [], []
    with torch.no_grad():
        for batch in loader:
            batch = batch.to(adapter.device)
            wavs, lens = batch.sig
            x, s = excerpts_from_features(adapter.features(wavs), lens, frames, per_clip=per_clip,
                                          return_starts=True)
            feats.append(x)
            starts.append(s)
            ids += [i for i in batch.id for _ in range(per_clip)]
    return torch.cat(feats), torch.cat(starts), ids
