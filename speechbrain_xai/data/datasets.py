"""SpeechBrain datasets of audio clips, the way every recipe and the harness read them.

:func:`audio_dataset` builds a ``DynamicItemDataset`` from a CSV manifest
whose columns name wav files (``$data_root`` replaced), reading each named
column as a mono waveform at the classifier's rate (downmixed, resampled):
``{"sig": "wav"}`` gives the item ``sig`` from the column ``wav``. VocalMix
manifests also name the stems of each clip (``voice_wav``,
``background_wav``), which the evaluation harness reads as ``source_sig`` and
``background_sig`` for ground truth.

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

from typing import Dict, Optional, Sequence

import speechbrain as sb
import torch

#: Items of the evaluation harness's ground truth and the VocalMix columns behind them.
VOCALMIX_STEMS = {"sig": "wav", "source_sig": "voice_wav", "background_sig": "background_wav"}


def read_mono(path: str, sample_rate: Optional[int] = None) -> torch.Tensor:
    """The waveform ``[N]`` of an audio file, channels averaged, resampled to
    ``sample_rate`` when given (SpeechBrain's audio I/O)."""
    sig = sb.dataio.dataio.read_audio(path)
    if sig.dim() == 2:
        sig = sig.mean(dim=1)
    if sample_rate is not None:
        rate = sb.dataio.dataio.read_audio_info(path).sample_rate
        if rate != sample_rate:
            import torchaudio.functional as AF

            sig = AF.resample(sig, rate, sample_rate)
    return sig


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
            return read_mono(path, sample_rate)
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
