"""Offline text-to-speech through the Debian engines: espeak-ng, flite, festival.

A *voice* is a string ``"<engine>:<name>"``:

* ``espeak-ng:<language>[+<variant>]``, e.g. ``espeak-ng:en-us+f3``
  (languages from ``espeak-ng --voices``, variants from
  ``espeak-ng --voices=variant``; Debian package ``espeak-ng``);
* ``flite:<voice>``, e.g. ``flite:slt`` (``flite -lv``; package ``flite``);
* ``festival:<voice>``, e.g. ``festival:cmu_us_slt_arctic_hts`` (the voice
  folders under ``/usr/share/festival/voices``; package ``festival`` plus a
  ``festvox-*`` package per voice), run through ``text2wave``.

:func:`synthesize_speech` runs the engine in a temporary folder that is
always removed, reads its wav, downmixes, resamples to the requested rate
and trims leading and trailing silence. The speaking rate is a multiplier of
the engine's default (espeak ``-s``, flite ``duration_stretch``, festival
``Duration_Stretch`` and, for HTS voices, hts_engine's ``-r``; festival's
clunits voices keep their own rate). The engines are deterministic: the same
text, voice and rate give the same samples.

Nothing is downloaded: a missing engine raises :class:`TTSUnavailableError`
with the ``apt-get install`` line that adds it, and :func:`discover_voices`
lists what is installed when only some engines are.

Example
-------
>>> parse_voice("espeak-ng:en-us+f3")
('espeak-ng', 'en-us+f3')
>>> ENGINES["festival"].package
'festival'
"""

from __future__ import annotations

import functools
import math
import os
import re
import shutil
import subprocess
import tempfile
from typing import Dict, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import soundfile as sf
from scipy import signal
from speechbrain.utils.logger import get_logger

logger = get_logger(__name__)


class Engine(NamedTuple):
    """A text-to-speech engine: the binary it runs and the Debian package."""

    binary: str
    package: str


ENGINES = {
    "espeak-ng": Engine("espeak-ng", "espeak-ng"),
    "flite": Engine("flite", "flite"),
    "festival": Engine("text2wave", "festival"),
}
FESTIVAL_VOICE_DIRS = ("/usr/share/festival/voices", "/usr/local/share/festival/voices")
TIMEOUT_S = 120
_NAME = re.compile(r"^[A-Za-z0-9_.+-]+$")


class TTSUnavailableError(RuntimeError):
    """A text-to-speech engine or voice is not installed (the message says
    which Debian package adds it)."""


def install_hint(engines: Sequence[str] = tuple(ENGINES)) -> str:
    """The command that installs ``engines``.

    Example
    -------
    >>> install_hint(["espeak-ng", "flite"])
    'apt-get install -y espeak-ng flite'
    """
    return "apt-get install -y " + " ".join(ENGINES[e].package for e in engines)


def parse_voice(voice: str) -> Tuple[str, str]:
    """Splits ``"engine:name"``; raises a ``ValueError`` that shows the format.

    Example
    -------
    >>> parse_voice("flite:slt")
    ('flite', 'slt')
    >>> parse_voice("slt")
    Traceback (most recent call last):
     ...
    ValueError: A voice is 'engine:name' with engine one of ['espeak-ng', 'festival', 'flite'] (e.g. 'espeak-ng:en-us+f3', 'flite:slt'), got 'slt'.
    """
    engine, sep, name = str(voice).partition(":")
    if not sep or engine not in ENGINES or not _NAME.match(name):
        raise ValueError(
            f"A voice is 'engine:name' with engine one of {sorted(ENGINES)} "
            f"(e.g. 'espeak-ng:en-us+f3', 'flite:slt'), got {voice!r}."
        )
    return engine, name


def installed_engines() -> Tuple[str, ...]:
    """The engines whose binary is on ``PATH``."""
    return tuple(name for name, engine in ENGINES.items() if shutil.which(engine.binary))


def _run(args, cwd=None):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S,
                          check=True).stdout


def _espeak_voices():
    languages = [line.split()[1] for line in _run(["espeak-ng", "--voices"]).splitlines()[1:]
                 if len(line.split()) > 1]
    variants = [line.split()[4].split("/", 1)[1]
                for line in _run(["espeak-ng", "--voices=variant"]).splitlines()[1:]
                if len(line.split()) > 4 and "/" in line.split()[4]]
    return tuple(sorted(set(languages))) + tuple(
        f"+{v}" for v in sorted(set(variants))
    )


@functools.lru_cache(maxsize=1)
def _flite_voices():
    out = _run(["flite", "-lv"])
    return tuple(sorted(out.split(":", 1)[-1].split()))


def _festival_voices():
    found = set()
    for root in FESTIVAL_VOICE_DIRS:
        if os.path.isdir(root):
            for language in os.listdir(root):
                folder = os.path.join(root, language)
                if os.path.isdir(folder):
                    found.update(n for n in os.listdir(folder)
                                 if os.path.isdir(os.path.join(folder, n, "festvox")))
    return tuple(sorted(found))


_LISTERS = {"espeak-ng": _espeak_voices, "flite": _flite_voices, "festival": _festival_voices}


def discover_voices(engines: Optional[Sequence[str]] = None) -> Dict[str, Tuple[str, ...]]:
    """The voices each installed engine offers.

    Arguments
    ---------
    engines : list of str, optional
        The engines to look at (default: all of :data:`ENGINES`); those not
        installed are left out of the result.

    Returns
    -------
    dict
        ``{engine: names}``. espeak-ng's names are its languages followed by
        its variants written ``+variant`` (a voice combines one of each, e.g.
        ``en-us+f3``); flite's and festival's names are whole voices.

    Example
    -------
    >>> voices = discover_voices(["espeak-ng"])
    >>> "espeak-ng" not in voices or "en-us" in voices["espeak-ng"]
    True
    """
    wanted = tuple(ENGINES) if engines is None else tuple(engines)
    for engine in wanted:
        if engine not in ENGINES:
            raise ValueError(f"Unknown TTS engine {engine!r}; known: {sorted(ENGINES)}.")
    have = installed_engines()
    return {engine: _LISTERS[engine]() for engine in wanted if engine in have}


def voice_installed(voice: str, voices: Dict[str, Tuple[str, ...]]) -> bool:
    """Whether ``voice`` is among ``voices`` (a :func:`discover_voices` result).

    Example
    -------
    >>> voices = {"espeak-ng": ("de", "en-us", "+f3"), "flite": ("slt",)}
    >>> [voice_installed(v, voices) for v in ("espeak-ng:en-us+f3", "espeak-ng:fr+f3", "flite:slt")]
    [True, False, True]
    """
    engine, name = parse_voice(voice)
    names = voices.get(engine, ())
    if engine == "espeak-ng":
        language, _, variant = name.partition("+")
        return language in names and (not variant or f"+{variant}" in names)
    return name in names


def engine_version(engine: str) -> str:
    """The engine's version line (recorded with generated data, so that a
    changed engine regenerates it).

    Example
    -------
    >>> isinstance(engine_version("espeak-ng"), str)
    True
    """
    if engine not in installed_engines():
        return "not installed"
    args = {"espeak-ng": ["espeak-ng", "--version"], "flite": ["flite", "--version"],
            "festival": ["festival", "--version"]}[engine]
    out = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT_S).stdout
    lines = [line.strip() for line in out.splitlines() if "version" in line.lower()
             or "speech" in line.lower()]
    return lines[0] if lines else out.strip()[:200]


def _command(engine, name, rate, text_file, wav_file):
    if engine == "espeak-ng":
        return ["espeak-ng", "-v", name, "-s", str(int(round(175 * rate))), "-w", wav_file,
                "-f", text_file]
    if engine == "flite":
        return ["flite", "-voice", name, "--setf", f"duration_stretch={1.0 / rate:.4f}",
                "-f", text_file, "-o", wav_file]
    return ["text2wave", "-eval", f"(voice_{name})",
            "-eval", f"(Parameter.set 'Duration_Stretch {1.0 / rate:.4f})",
            "-eval", "(defvar hts_engine_params nil)",  # bound only once an HTS voice loads
            "-eval", f'(set! hts_engine_params (append hts_engine_params (list (list "-r" {rate:.4f}))))',
            text_file, "-o", wav_file]


def trim_silence(wav: np.ndarray, sample_rate: int, threshold_db: float = -40.0,
                 margin_s: float = 0.01) -> np.ndarray:
    """Cuts leading and trailing silence: 10 ms frames quieter than
    ``threshold_db`` below the loudest frame, keeping ``margin_s`` around.

    Example
    -------
    >>> x = np.concatenate([np.zeros(1600), np.ones(800), np.zeros(1600)])
    >>> len(trim_silence(x, 16000))
    1120
    >>> len(trim_silence(np.zeros(100), 16000))
    0
    """
    hop = max(1, sample_rate // 100)
    num = len(wav) // hop
    if num == 0:
        return wav[:0]
    frames = np.sqrt(np.mean(np.square(wav[: num * hop].reshape(num, hop)), axis=1))
    loud = np.flatnonzero(frames > max(frames.max() * 10 ** (threshold_db / 20), 1e-5))
    if loud.size == 0:
        return wav[:0]
    margin = int(round(margin_s * sample_rate))
    return wav[max(0, loud[0] * hop - margin): min(len(wav), (loud[-1] + 1) * hop + margin)]


def resample(wav: np.ndarray, orig_rate: int, new_rate: int) -> np.ndarray:
    """Polyphase resampling (``scipy.signal.resample_poly``).

    Example
    -------
    >>> resample(np.ones(441), 44100, 16000).shape
    (160,)
    """
    if orig_rate == new_rate:
        return wav
    g = math.gcd(int(orig_rate), int(new_rate))
    return signal.resample_poly(wav, int(new_rate) // g, int(orig_rate) // g)


def synthesize_speech(text: str, voice: str, sample_rate: int = 16000,
                      rate: float = 1.0) -> np.ndarray:
    """Speaks ``text`` with ``voice``; returns the trimmed waveform.

    Arguments
    ---------
    text : str
        What to say (plain text; the engines expand digits).
    voice : str
        ``"engine:name"``, e.g. ``"espeak-ng:en-us+f3"``, ``"flite:slt"``,
        ``"festival:kal_diphone"``.
    sample_rate : int
        Sample rate of the result in Hz (the engine's output is resampled).
    rate : float
        Speaking rate relative to the engine's default (0.5 to 2; 1.25 is
        25 % faster).

    Returns
    -------
    numpy.ndarray
        float32 ``[N]``, leading and trailing silence removed.

    Example
    -------
    >>> if "espeak-ng" in installed_engines():
    ...     wav = synthesize_speech("Hello there.", "espeak-ng:en-us+f3", 16000, rate=1.2)
    ...     ok = wav.dtype == np.float32 and 0.2 < len(wav) / 16000 < 2.0
    ... else:
    ...     ok = True
    >>> ok
    True
    """
    engine, name = parse_voice(voice)
    if not str(text).strip():
        raise ValueError("text is empty: give synthesize_speech something to say.")
    if not 0.5 <= float(rate) <= 2.0:
        raise ValueError(f"rate must lie in [0.5, 2] (1 = the engine's default), got {rate!r}.")
    if engine not in installed_engines():
        raise TTSUnavailableError(
            f"The TTS engine {engine!r} (binary {ENGINES[engine].binary!r}) is not installed; "
            f"install it with: {install_hint([engine])}."
        )
    if engine == "flite" and name not in _flite_voices():  # flite falls back to kal silently
        raise ValueError(f"flite has no voice {name!r}; installed: {list(_flite_voices())}.")
    with tempfile.TemporaryDirectory(prefix="sbxai_tts_") as tmp:
        text_file = os.path.join(tmp, "text.txt")
        wav_file = os.path.join(tmp, "speech.wav")
        with open(text_file, "w", encoding="utf-8") as f:
            f.write(str(text).strip() + "\n")
        args = _command(engine, name, float(rate), text_file, wav_file)
        done = subprocess.run(args, cwd=tmp, capture_output=True, text=True, timeout=TIMEOUT_S)
        try:
            wav, native_rate = sf.read(wav_file, dtype="float64", always_2d=True)
        except (OSError, RuntimeError):  # soundfile's errors derive from RuntimeError
            wav = None
        if done.returncode != 0 or wav is None:
            # festival exits 0 after a Scheme error: the missing wav tells
            tail = " | ".join((done.stderr + done.stdout).strip().splitlines()[-3:]).rstrip(".")
            raise RuntimeError(
                f"{engine} made no audio with voice {voice!r} (exit {done.returncode}): {tail}. "
                "See the installed voices with discover_voices()."
            )
    wav = resample(wav.mean(axis=1), native_rate, int(sample_rate))
    wav = trim_silence(wav, int(sample_rate))
    if wav.size == 0:
        raise RuntimeError(f"{voice!r} produced no audible speech for {text!r}.")
    return wav.astype(np.float32)
