"""The user's audio: files, folders or a manifest, read with one-line errors.

:func:`gather_inputs` turns command-line paths into a list of :class:`Clip`
(an id and a path): audio files as they are, folders searched recursively
for audio files, and SpeechBrain CSV manifests (an ``ID`` and a ``wav``
column, ``$data_root`` replaced by ``data_root``, default the manifest's
folder). Clip ids become output file names, so they go through
:func:`safe_id` / :func:`unique_ids`: a manifest id such as ``../evil`` or
``/abs/evil`` is written as ``evil`` / ``abs_evil`` inside the output folder.
:func:`read_clip` reads one clip as a mono waveform at the classifier's rate.
Every problem raises :class:`InputError`, whose message is one line that
names the file and says how to fix it; the command line reports it, writes
nothing for that clip and goes on with the others.

What each kind of input gets (``read_clip(path, rate, min_samples,
max_seconds, require_signal=True)``, as the command line calls it):

====================================  ==================================================
Input                                 Outcome
====================================  ==================================================
WAV 16/24/32-bit PCM, float32/64      read as float in [-1, 1] (float values as stored)
FLAC, OGG/Vorbis, Opus, MP3, AIFF     read (whatever libsndfile reads)
several channels (stereo, 5.1...)     downmixed to mono by averaging the channels
any sample rate (8 to 48 kHz...)      resampled to the classifier's rate (torchaudio)
clipped audio (samples at +-1)        read as it is
float samples far beyond +-1 (1e20)   read as stored; the command line then refuses the
                                      clip if the classifier gives NaN or infinity on it
a long file (ten minutes)             read; over ``max_seconds`` (command line: 1200 s,
                                      ``--max-seconds``) refused from the header alone
fewer samples than ``min_samples``    refused: too short (one sample included; never
                                      padded, an explanation of padding means nothing)
all-zero samples (digital silence)    refused with ``require_signal`` (nothing to explain)
NaN or infinite samples               refused, with the count and the first position
0-byte file, no samples               refused: empty
truncated header, non-audio bytes,    refused: not a readable audio file (libsndfile's
unsupported format (.txt, .mp4)       reason); convert it to WAV or FLAC
a WAV cut short after its header      the samples that are there are read
a path that does not exist            refused: does not exist
a file without read permission        refused: cannot be read (permission denied)
a folder                              searched for audio files (by name ending); none:
                                      refused, holds no audio files
====================================  ==================================================

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
import hashlib
import os
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import torch

#: Longest clip id (output file names add at most 15 characters: ``_masked_out.wav``).
MAX_ID_LENGTH = 120

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


def safe_id(name: str) -> str:
    """A plain file name for an id that comes from data (a manifest's ``ID``,
    a file's name): characters other than letters, digits, ``.``, ``-`` and
    ``_`` become ``_``, leading and trailing dots and underscores go (no
    ``..``, no hidden files), an empty result is ``clip``, and a name longer
    than :data:`MAX_ID_LENGTH` is cut and given a hash of the whole id. Every
    output named after data goes through it (with :func:`unique_ids` where
    several ids share a folder), so no id can write outside its folder.

    Example
    -------
    >>> [safe_id(i) for i in ["a b", "../evil", "/abs/evil", "a/../../b", "", ".."]]
    ['a_b', 'evil', 'abs_evil', 'a_.._.._b', 'clip', 'clip']
    >>> len(safe_id("x" * 500)) <= MAX_ID_LENGTH
    True
    """
    safe = re.sub(r"[^\w.-]+", "_", str(name)).strip("._") or "clip"
    if len(safe) > MAX_ID_LENGTH:
        digest = hashlib.sha1(str(name).encode("utf-8")).hexdigest()[:8]
        safe = f"{safe[:MAX_ID_LENGTH - 9]}_{digest}"
    return safe


def unique_ids(ids: Sequence[str]) -> List[str]:
    """:func:`safe_id` of each id, made unique in order: a name met before gets
    ``_1``, ``_2``... (never a name that another id already has).

    Example
    -------
    >>> unique_ids(["a", "a", "a_1", "../a", ""])
    ['a', 'a_2', 'a_1', 'a_3', 'clip']
    """
    safe = [safe_id(i) for i in ids]
    taken = set(safe)
    out: List[str] = []
    used: set = set()
    for name in safe:
        if name in used:
            k = 1
            while f"{name}_{k}" in taken:
                k += 1
            name = f"{name}_{k}"
            taken.add(name)
        used.add(name)
        out.append(name)
    return out


def _unique(clips: List[Clip]) -> List[Clip]:
    for clip, name in zip(clips, unique_ids([c.id for c in clips])):
        clip.id = name
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
        clips.append(Clip(safe_id(row["ID"]), wav, columns))
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
        return [Clip(safe_id(os.path.splitext(os.path.basename(path))[0]), path)]
    found = sorted(
        os.path.join(root, name)
        for root, _, names in os.walk(path) for name in names
        if name.lower().endswith(AUDIO_EXTENSIONS) and not name.startswith(".")
    )
    if not found:
        raise InputError(path, f"holds no audio files ({', '.join(AUDIO_EXTENSIONS[:4])}, "
                               "...); point at audio files or a folder of them.")
    return [Clip(safe_id(os.path.splitext(os.path.relpath(f, path))[0]), f) for f in found]


def audio_frames(path: str) -> int:
    """Number of samples per channel of an audio file (header only), or an :class:`InputError`."""
    with _open_audio(path) as f:
        return int(f.frames)


def _check_readable(path: str) -> None:
    if not os.path.exists(path):
        raise InputError(path, "does not exist; check the path.")
    if os.path.isdir(path):
        raise InputError(path, "is a folder, not an audio file; give the folder itself as an input.")
    if not os.access(path, os.R_OK):
        raise InputError(path, "cannot be read (permission denied); fix its permissions.")
    if os.path.getsize(path) == 0:
        raise InputError(path, "is empty (0 bytes); give a recording with sound in it.")


def _open_audio(path: str):
    """``soundfile.SoundFile`` of ``path`` for reading, or an :class:`InputError`."""
    import soundfile as sf

    _check_readable(path)
    try:
        return sf.SoundFile(path)
    except sf.LibsndfileError as err:
        # its message repeats the path ("Error opening '<path>': ..."): keep the reason
        reason = str(getattr(err, "error_string", "") or err).strip().rstrip(".")
        raise InputError(path, f"is not a readable audio file ({reason[:120]}); convert it to "
                               "WAV or FLAC.") from None
    except PermissionError:
        raise InputError(path, "cannot be read (permission denied); fix its permissions.") from None
    except (OSError, RuntimeError) as err:
        raise InputError(path, f"is not a readable audio file ({type(err).__name__}: "
                               f"{str(err)[:120]}); convert it to WAV or FLAC.") from None


def read_clip(path: str, sample_rate: Optional[int] = None, min_samples: int = 1,
              max_seconds: Optional[float] = None, require_signal: bool = False) -> torch.Tensor:
    """The waveform ``[N]`` of an audio file: channels averaged, resampled to
    ``sample_rate`` (when given). Every reader of the package (recipes,
    harness, command line, ``explain_file``) goes through it; the module
    docstring lists what each kind of file gets.

    Arguments
    ---------
    path : str
        An audio file that libsndfile reads (WAV of any sample format, FLAC,
        OGG/Vorbis, Opus, MP3, AIFF...).
    sample_rate : int, optional
        Resample to this rate (default: as stored).
    min_samples : int
        Fewest samples after resampling (a classifier's ``min_samples``, one
        analysis window); shorter clips are refused, not padded.
    max_seconds : float, optional
        Refuse longer files (read from the header, before any audio is loaded).
    require_signal : bool
        Refuse all-zero (digitally silent) clips: there is nothing to explain.

    Raises
    ------
    InputError
        With a one-line message naming the file and the fix.
    """
    with _open_audio(path) as f:
        rate, frames = int(f.samplerate), int(f.frames)
        if max_seconds and frames > max_seconds * rate:
            raise InputError(path, f"is {frames / rate:.1f} s long, more than the {max_seconds:g} s "
                                   "allowed; cut it into shorter files or raise the limit "
                                   "(--max-seconds).")
        try:
            data = f.read(dtype="float32", always_2d=True)  # (N, channels)
        except (RuntimeError, ValueError) as err:
            raise InputError(path, f"is not a readable audio file ({str(err)[:120]}); convert it "
                                   "to WAV or FLAC.") from None
    if data.shape[0] == 0:
        raise InputError(path, "is empty (no samples); give a recording with sound in it.")
    samples = torch.from_numpy(data)
    bad = ~torch.isfinite(samples)
    if bool(bad.any()):
        first = int(bad.any(dim=1).nonzero()[0])
        raise InputError(path, f"contains {int(bad.sum())} NaN or infinite sample(s), the first at "
                               f"{first / rate:.3f} s; re-export the audio (or replace them with "
                               "zeros).")
    wav = samples.mean(dim=1)
    if sample_rate is not None and rate != sample_rate:
        import torchaudio.functional as AF

        wav = AF.resample(wav, rate, int(sample_rate))
        rate = int(sample_rate)
    if wav.shape[0] < min_samples:
        raise InputError(path, f"is too short ({wav.shape[0]} sample(s) at {rate} Hz, the classifier "
                               f"needs at least {min_samples}: {min_samples / rate:.3f} s); give a "
                               "longer recording.")
    if require_signal and not bool(wav.abs().amax() > 0):
        raise InputError(path, "is silent (every sample is zero), so there is nothing to explain; "
                               "give a recording with sound in it.")
    return wav


def read_for_classifier(path: str, adapter, max_seconds: Optional[float] = None) -> torch.Tensor:
    """:func:`read_clip` as an explanation needs it: at the classifier's rate,
    at least its ``min_samples`` long, not silent, no longer than
    ``max_seconds``. What the command line and ``explain_file`` /
    ``interpret_file`` read local files with."""
    return read_clip(path, adapter.sample_rate, min_samples=adapter.min_samples,
                     max_seconds=max_seconds, require_signal=True)
