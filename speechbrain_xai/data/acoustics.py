"""Room, microphone and playback effects for generated scenes (seeded numpy/scipy).

* :func:`room_impulse_response`: a synthetic room, a direct sound followed by
  exponentially decaying noise (RT60 seconds to fall by 60 dB), a few sparse
  early reflections and a tail whose highs die out faster; the
  direct-to-reverberant ratio is a parameter;
* :func:`draw_channel` / :func:`apply_channel`: a microphone or transmission
  channel, a spectral tilt around 1 kHz, a rumble high-pass, sometimes a
  cheap-microphone low-pass, sometimes the telephone band (300-3400 Hz);
* :func:`soft_clip`: tanh saturation of an overdriven input;
* :func:`change_speed`: resampling that changes speed and pitch together (as
  a tape or a sped-up recording does);
* :func:`level_drift`: a slow gain wander (a talker turning or moving).

The linear effects (room, channel) are deterministic functions of drawn
parameters, so the same room and channel can be applied to each stem of a
scene and the stems still add up to the scene.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> ir = room_impulse_response(rng, 16000, rt60=0.4, drr_db=3.0)
>>> float(ir[0]), len(ir) == int(0.4 * 16000)
(1.0, True)
>>> channel = draw_channel(rng, 16000, telephone=True)
>>> channel["band"]
[300.0, 3400.0]
"""

from __future__ import annotations

from fractions import Fraction
from typing import Optional

import numpy as np
from scipy import signal


def room_impulse_response(rng: np.random.Generator, sample_rate: int, rt60: float,
                          drr_db: float = 3.0) -> np.ndarray:
    """A synthetic room impulse response.

    Arguments
    ---------
    rng : numpy.random.Generator
        Source of the noise and of the early reflections.
    sample_rate : int
        Sample rate in Hz.
    rt60 : float
        Reverberation time in seconds (the tail falls by 60 dB in ``rt60``).
    drr_db : float
        Direct-to-reverberant energy ratio in dB (lower: farther from the
        microphone).

    Returns
    -------
    numpy.ndarray
        ``[L]`` float64 with ``L = rt60 * sample_rate`` samples and the direct
        sound ``1.0`` at index 0.
    """
    length = max(2, int(rt60 * sample_rate))
    t = np.arange(length) / sample_rate
    tail = rng.standard_normal(length) * np.exp(-6.9078 * t / rt60)
    # highs decay faster: the tail's second half is low-passed progressively
    smooth = signal.lfilter([0.4], [1.0, -0.6], tail)
    mix = np.clip(t / rt60, 0.0, 1.0)
    tail = (1.0 - mix) * tail + mix * smooth
    onset = int(rng.uniform(0.002, 0.01) * sample_rate)  # pre-delay
    tail[:onset] = 0.0
    for _ in range(int(rng.integers(2, 7))):  # sparse early reflections
        at = int(rng.uniform(0.002, 0.03) * sample_rate)
        if at < length:
            tail[at] += rng.choice((-1.0, 1.0)) * rng.uniform(0.3, 0.8) * np.exp(
                -6.9078 * at / (rt60 * sample_rate))
    tail *= np.sqrt(10 ** (-drr_db / 10) / (np.sum(np.square(tail)) + 1e-20))
    tail[0] = 1.0
    return tail


def reverberate(wav: np.ndarray, ir: Optional[np.ndarray], keep_tail: bool = True) -> np.ndarray:
    """Convolves ``wav`` with ``ir`` (``None``: unchanged); ``keep_tail=False``
    cuts the result to ``len(wav)``.

    Example
    -------
    >>> reverberate(np.ones(3), np.array([1.0, 0.5])).tolist()
    [1.0, 1.5, 1.5, 0.5]
    """
    if ir is None:
        return wav
    out = signal.fftconvolve(wav, ir) if len(ir) > 64 else np.convolve(wav, ir)
    return out if keep_tail else out[: len(wav)]


def draw_channel(rng: np.random.Generator, sample_rate: int, telephone: bool = False) -> dict:
    """Draws a microphone / transmission channel.

    Arguments
    ---------
    rng : numpy.random.Generator
        Source of the parameters.
    sample_rate : int
        Sample rate in Hz.
    telephone : bool
        Band-limit to the telephone band, 300-3400 Hz.

    Returns
    -------
    dict
        ``tilt_db`` (gain of the highs over the lows around 1 kHz, -8 to
        +6 dB), ``band`` (``[low, high]`` Hz of the pass band: 300-3400 for
        a telephone, else a 40-150 Hz rumble cut and, one time in four, a
        4-7 kHz low-pass of a cheap microphone, else up to 0.45 x the rate).
    """
    nyquist_guard = 0.45 * sample_rate
    if telephone:
        band = [300.0, min(3400.0, nyquist_guard)]
    else:
        high = rng.uniform(4000.0, 7000.0) if rng.random() < 0.25 else nyquist_guard
        band = [float(rng.uniform(40.0, 150.0)), float(min(high, nyquist_guard))]
    return {"tilt_db": float(rng.uniform(-8.0, 6.0)), "band": band}


def apply_channel(wav: np.ndarray, channel: dict, sample_rate: int) -> np.ndarray:
    """Applies a :func:`draw_channel` channel (linear, causal).

    Example
    -------
    >>> x = np.random.default_rng(0).standard_normal(16000)
    >>> y = apply_channel(x, {"tilt_db": 0.0, "band": [300.0, 3400.0]}, 16000)
    >>> spec = np.abs(np.fft.rfft(y))
    >>> bool(spec[5000:].mean() < 0.05 * spec[1000:3000].mean())  # 5 kHz and up: gone
    True
    """
    # tilt: complementary first-order low / high parts around 1 kHz
    pole = np.exp(-2 * np.pi * 1000.0 / sample_rate)
    low = signal.lfilter([1.0 - pole], [1.0, -pole], wav)
    gain = 10 ** (channel["tilt_db"] / 40.0)
    out = low / gain + (wav - low) * gain
    lo, hi = channel["band"]
    sos = signal.butter(2, [lo, hi], btype="bandpass", fs=sample_rate, output="sos")
    out = signal.sosfilt(sos, out)
    if hi < 3500.0:  # the telephone band is steep
        out = signal.sosfilt(sos, out)
    return out


def soft_clip(wav: np.ndarray, drive: float) -> np.ndarray:
    """tanh saturation: ``drive`` (> 0) times the peak goes into ``tanh``;
    the peak level is kept.

    Example
    -------
    >>> y = soft_clip(np.array([0.1, 0.5, -1.0]), 4.0)
    >>> float(np.abs(y).max()), bool(y[1] > 0.5)
    (1.0, True)
    """
    peak = float(np.abs(wav).max())
    if peak == 0.0:
        return wav
    return np.tanh(drive * wav / peak) / np.tanh(drive) * peak


def change_speed(wav: np.ndarray, factor: float) -> np.ndarray:
    """Plays ``wav`` ``factor`` times faster (pitch up by the same factor).

    Example
    -------
    >>> len(change_speed(np.ones(1000), 1.25))
    800
    """
    ratio = Fraction(float(factor)).limit_denominator(50)
    return signal.resample_poly(wav, ratio.denominator, ratio.numerator)


def level_drift(rng: np.random.Generator, num_samples: int, sample_rate: int,
                depth_db: float) -> np.ndarray:
    """A slow gain curve (0.1-0.7 Hz wander of +-``depth_db`` dB) to multiply with.

    Example
    -------
    >>> g = level_drift(np.random.default_rng(0), 32000, 16000, 3.0)
    >>> bool(g.min() >= 10 ** (-3 / 20) - 1e-9 and g.max() <= 10 ** (3 / 20) + 1e-9)
    True
    """
    t = np.arange(num_samples) / sample_rate
    wander = np.sin(2 * np.pi * rng.uniform(0.1, 0.7) * t + rng.uniform(0, 2 * np.pi))
    return 10 ** (depth_db * wander / 20.0)

