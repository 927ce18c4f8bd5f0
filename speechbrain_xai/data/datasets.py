"""SpeechBrain datasets of audio clips, the way every recipe and the harness read them.

:func:`audio_dataset` builds a ``DynamicItemDataset`` from a CSV manifest
whose columns name wav files (``$data_root`` replaced), reading each named
column as a mono waveform at the classifier's rate (downmixed, resampled):
``{"sig": "wav"}`` gives the item ``sig`` from the column ``wav``. VocalMix
manifests also name the stems of each clip (``voice_wav``,
``background_wav``), which the evaluation harness reads as ``source_sig`` and
``background_sig`` for ground truth. The GAN and activation-maximisation
recipes read the mixtures alone (:func:`vocalmix_clip_datasets`), optionally
with every voice clip cut to its voice interval (:func:`cut_to_voice`, the
voice-focused GAN stage; :func:`vocalmix_excerpt_datasets` with a recipe's
hyperparameters).

Example
-------
>>> import os, tempfile, torch, soundfile as sf
>>> folder = tempfile.mkdtemp()
>>> sf.write(os.path.join(folder, "a.wav"), torch.randn(8000, 2).numpy() * 0.1, 8000)
>>> with open(os.path.join(folder, "m.csv"), "w") as f:
...     _ = f.write("ID,wav,label\\na,$data_root/a.wav,x\\n")
>>> data = audio_dataset(os.path.join(folder, "m.csv"), folder, sample_rate=16000,
...                      extra_keys=["label"])
>>> item = data[0]
>>> item["sig"].shape, item["label"]
(torch.Size([16000]), 'x')
"""

from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence

import speechbrain as sb
import torch

from speechbrain_xai.data.excerpts import samples_for_frames
from speechbrain_xai.data.inputs import read_clip
from speechbrain_xai.hparams import reads_hparams, require_hparams

#: Items of the evaluation harness's ground truth and the VocalMix columns behind them.
VOCALMIX_STEMS = {"sig": "wav", "source_sig": "voice_wav", "background_sig": "background_wav"}


def audio_dataset(csv_path: str, data_root: Optional[str] = None,
                  sample_rate: Optional[int] = None, columns: Optional[Dict[str, str]] = None,
                  extra_keys: Sequence[str] = ()) -> sb.dataio.dataset.DynamicItemDataset:
    """A ``DynamicItemDataset`` reading the audio columns of a manifest.

    Arguments
    ---------
    csv_path : str
        SpeechBrain CSV manifest (an ``ID`` column and audio paths).
    data_root : str, optional
        Replaces ``$data_root`` in the paths.
    sample_rate : int, optional
        Resample every waveform to this rate (default: as stored).
    columns : dict, optional
        ``{item: column}`` of the audio to read (default ``{"sig": "wav"}``).
    extra_keys : sequence of str
        Other columns to output as they are (e.g. ``label``).
    """
    columns = dict(columns or {"sig": "wav"})

    def reader(item: str, column: str):
        @sb.utils.data_pipeline.takes(column)
        @sb.utils.data_pipeline.provides(item)
        def read(path):
            return read_clip(path, sample_rate)
        return read

    return sb.dataio.dataset.DynamicItemDataset.from_csv(
        csv_path=csv_path,
        replacements={"data_root": data_root} if data_root is not None else {},
        dynamic_items=[reader(item, column) for item, column in columns.items()],
        output_keys=["id", *columns, *extra_keys],
    )


def vocalmix_datasets(manifests: Dict[str, str], data_folder: str, sample_rate: int,
                      splits: Optional[Sequence[str]] = None) -> Dict[str, sb.dataio.dataset.DynamicItemDataset]:
    """VocalMix datasets ``{split: dataset}`` with ``sig``, the stems as
    ``source_sig`` (the voice) and ``background_sig``, and ``label``."""
    return {split: audio_dataset(manifests[split], data_folder, sample_rate, VOCALMIX_STEMS,
                                 extra_keys=["label"])
            for split in (splits or manifests)}


def cut_to_voice(sig: torch.Tensor, label: str, voice_start: float, voice_end: float,
                 sample_rate: int, min_samples: int) -> torch.Tensor:
    """A VocalMix clip cut to its voice interval (known from the stems),
    widened around its centre to at least ``min_samples`` samples and kept
    inside the clip; a clip without voice (``label != "voice"``) is returned whole.

    Example
    -------
    >>> sig = torch.arange(16000.0)  # 1 s at 16 kHz, voice from 0.5 s to 0.55 s
    >>> cut = cut_to_voice(sig, "voice", 0.5, 0.55, 16000, min_samples=4000)
    >>> len(cut), int(cut[0])  # widened around the centre (0.525 s)
    (4000, 6400)
    >>> len(cut_to_voice(sig, "no_voice", 0.0, 0.0, 16000, 4000))
    16000
    """
    if label != "voice":
        return sig
    start, end = float(voice_start) * sample_rate, float(voice_end) * sample_rate
    if end - start < min_samples:
        centre = (start + end) / 2
        start, end = centre - min_samples / 2, centre + min_samples / 2
    start = int(min(max(start, 0), len(sig) - min_samples))
    end = int(max(min(end, len(sig)), start + min_samples))
    return sig[start:end]


def vocalmix_clip_datasets(manifests: Dict[str, str], data_folder: str, sample_rate: int,
                           splits: Optional[Sequence[str]] = None,
                           min_voice_samples: Optional[int] = None
                           ) -> Dict[str, sb.dataio.dataset.DynamicItemDataset]:
    """VocalMix datasets ``{split: dataset}`` giving ``id`` and the mixture as ``sig``.

    Arguments
    ---------
    manifests : dict
        ``{split: csv_path}`` of VocalMix.
    data_folder : str
        Replaces ``$data_root`` in the paths.
    sample_rate : int
        The data's rate (clips at another rate are resampled to it).
    splits : sequence of str, optional
        The splits to build (default: all of ``manifests``).
    min_voice_samples : int, optional
        Voice focus: every voice clip is cut to its voice interval, at least
        this many samples long (:func:`cut_to_voice`); no-voice clips stay whole.
    """
    datasets = {}
    for split in splits or manifests:
        if min_voice_samples is None:
            datasets[split] = audio_dataset(manifests[split], data_folder, sample_rate)
            continue
        data = audio_dataset(manifests[split], data_folder, sample_rate, {"clip_sig": "wav"})

        @sb.utils.data_pipeline.takes("clip_sig", "label", "voice_start", "voice_end")
        @sb.utils.data_pipeline.provides("sig")
        def voice_focused(sig, label, voice_start, voice_end):
            return cut_to_voice(sig, label, voice_start, voice_end, sample_rate, min_voice_samples)

        data.add_dynamic_item(voice_focused)
        data.set_output_keys(["id", "sig"])
        datasets[split] = data
    return datasets


@reads_hparams("classifier", "data_folder", "sample_rate", "excerpt_frames", optional=("voice_focus",))
def vocalmix_excerpt_datasets(hparams: Mapping, manifests: Dict[str, str],
                              splits: Sequence[str] = ("train", "valid", "test")
                              ) -> Dict[str, sb.dataio.dataset.DynamicItemDataset]:
    """:func:`vocalmix_clip_datasets` with a recipe's hyperparameters.

    With ``voice_focus`` (default False) every voice clip is cut to its voice
    interval in every split, so that a GAN learns, and is validated on, voice
    excerpts and no-voice excerpts in equal parts (VocalMix clips have voice
    in 30-80% of their length and half have none: without focus about 15% of
    the excerpts lie wholly inside a voice interval). A cut keeps at least
    ``excerpt_frames`` + 1 hops of the classifier's features (``classifier``:
    its own hop, :func:`~speechbrain_xai.data.excerpts.samples_for_frames`),
    i.e. one excerpt and a frame of margin.
    """
    require_hparams(hparams, vocalmix_excerpt_datasets, "vocalmix_excerpt_datasets")
    min_voice_samples = None
    if hparams.get("voice_focus", False):
        min_voice_samples = samples_for_frames(hparams["classifier"], hparams["excerpt_frames"] + 1,
                                               hparams["sample_rate"])
    return vocalmix_clip_datasets(manifests, hparams["data_folder"], hparams["sample_rate"],
                                  splits, min_voice_samples)
