"""The user's audio: files, folders or a manifest, read with one-line errors.

:func:`gather_inputs` turns command-line paths into a list of :class:`Clip`
(an id and a path): audio files as they are, folders searched recursively
for audio files, and SpeechBrain CSV manifests (an ``ID`` and a ``wav``
column, ``$data_root`` replaced by ``data_root``, default the manifest's
folder). :func:`read_clip` reads one clip as a mono waveform at the
classifier's rate. Every problem raises :class:`InputError`, whose message is
one line that names the file and says how to fix it.

Example
-------
>>> import os, tempfile, numpy as np, soundfile as sf
>>> folder = tempfile.mkdtemp()
>>> sf.write(os.path.join(folder, "a.wav"), np.random.randn(8000, 2) * 0.1, 8000)
>>> clips = gather_inputs([folder])
>>> [c.id for c in clips]
['a']
>>> read_clip(clips[0].path, 16000).shape
torch.Size([16000])
>>> try:
...     gather_inputs([os.path.join(folder, "missing.wav")])
... except InputError as err:
...     print(str(err).split(": ", 1)[1])
does not exist; check the path.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import torch

#: File name endings read as audio (those libsndfile reads).
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".au")


class InputError(ValueError):
    """A problem with one input: ``str(err)`` is ``"<path>: <what>; <fix>."``."""

    def __init__(self, path: str, problem: str):
        self.path = path
        super().__init__(f"{path}: {problem}")


@dataclass
class Clip:
    """One input: its id (a plain file name, unique in the run), its path, and
    the manifest's other columns (label, stems...) when it came from one."""

    id: str
    path: str
    columns: Optional[Dict[str, str]] = None


def _safe_id(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("._") or "clip"


def _unique(clips: List[Clip]) -> List[Clip]:
    seen: Dict[str, int] = {}
    for clip in clips:
        base = clip.id
        if base in seen:
            seen[base] += 1
            clip.id = f"{base}_{seen[base]}"
        else:
            seen[base] = 0
    return clips


def _from_manifest(path: str, data_root: Optional[str]) -> List[Clip]:
    root = data_root or os.path.dirname(os.path.abspath(path))
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InputError(path, f"cannot be read as a CSV manifest ({err}); give a SpeechBrain CSV "
                               "with ID and wav columns.") from None
    if not rows or "wav" not in rows[0] or "ID" not in rows[0]:
        raise InputError(path, "is not a SpeechBrain manifest with ID and wav columns; add them "
                               "(wav paths may start with $data_root).")
    clips = []
    for row in rows:
        wav = row["wav"].replace("$data_root", root)
        if not os.path.isabs(wav):
            wav = os.path.join(root, wav)
        columns = {k: v.replace("$data_root", root) for k, v in row.items() if k not in ("ID", "wav")}
        clips.append(Clip(_safe_id(row["ID"]), wav, columns))
    return clips


def gather_inputs(paths: Sequence[str], data_root: Optional[str] = None,
                  errors: Optional[List[InputError]] = None) -> List[Clip]:
    """Clips from files, folders (recursive) and ``.csv`` manifests, in the
    given order (folders sorted).

    A path that does not exist, a folder without audio or a bad manifest
    raises :class:`InputError`; with ``errors`` (a list) the error is appended
    there instead and the other paths are still gathered.
    """
    if not paths:
        raise InputError("(no input)", "nothing to explain; give audio files, folders or a "
                                       "manifest.")
    clips: List[Clip] = []
    for path in paths:
        try:
            clips += _clips_of(path, data_root)
        except InputError as err:
            if errors is None:
                raise
            errors.append(err)
    return _unique(clips)


def _clips_of(path: str, data_root: Optional[str]) -> List[Clip]:
    """The clips of one path (a file, a folder or a manifest)."""
    if not os.path.exists(path):
        raise InputError(path, "does not exist; check the path.")
    if path.lower().endswith(".csv") and not os.path.isdir(path):
        return _from_manifest(path, data_root)
    if not os.path.isdir(path):
        return [Clip(_safe_id(os.path.splitext(os.path.basename(path))[0]), path)]
    found = sorted(
        os.path.join(root, name)
        for root, _, names in os.walk(path) for name in names
        if name.lower().endswith(AUDIO_EXTENSIONS) and not name.startswith(".")
    )
    if not found:
        raise InputError(path, f"holds no audio files ({', '.join(AUDIO_EXTENSIONS[:4])}, "
                               "...); point at audio files or a folder of them.")
    return [Clip(_safe_id(os.path.splitext(os.path.relpath(f, path))[0]), f) for f in found]


def audio_frames(path: str) -> int:
    """Number of samples per channel of an audio file (header only), or an :class:`InputError`."""
    import soundfile as sf

    _check_readable(path)
    try:
        return int(sf.info(path).frames)
    except (RuntimeError, sf.LibsndfileError) as err:
        raise InputError(path, f"is not a readable audio file ({_short(err)}); convert it to "
                               "WAV or FLAC.") from None


def _check_readable(path: str) -> None:
    if not os.path.exists(path):
        raise InputError(path, "does not exist; check the path.")
    if os.path.isdir(path):
        raise InputError(path, "is a folder, not an audio file; give the folder itself as an input.")
    if not os.access(path, os.R_OK):
        raise InputError(path, "cannot be read (permission denied); fix its permissions.")


def _short(err: Exception) -> str:
    return str(err).splitlines()[0].strip().rstrip(".")[:120] or type(err).__name__


def read_clip(path: str, sample_rate: Optional[int] = None) -> torch.Tensor:
    """The waveform ``[N]`` of an audio file: channels averaged, resampled to
    ``sample_rate`` (when given). Empty, non-finite or unreadable files raise
    :class:`InputError`. Every reader of the package (recipes, harness,
    command line) goes through it."""
    import soundfile as sf

    _check_readable(path)
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as err:
        raise InputError(path, f"is not a readable audio file ({_short(err)}); convert it to "
                               "WAV or FLAC.") from None
    if data.shape[0] == 0:
        raise InputError(path, "is empty (no samples); give a recording with sound in it.")
    wav = torch.from_numpy(data).mean(dim=1)
    if not torch.isfinite(wav).all():
        raise InputError(path, "contains NaN or infinite samples; re-export the audio.")
    if sample_rate is not None and rate != sample_rate:
        import torchaudio.functional as AF

        wav = AF.resample(wav, int(rate), int(sample_rate))
    return wav
