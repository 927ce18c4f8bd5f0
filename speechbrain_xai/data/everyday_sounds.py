"""Everyday non-voice sounds, synthesised in numpy: the hard negatives of voice scenes.

Each kind is a function ``(rng, num_samples, sample_rate) -> [num_samples]``
whose parameters (pitches, rates, decays, patterns, onsets) are all drawn from
``rng``. Many are harmonic or modulated, as a voice is, without being one:

=================  ==========================================================
kind               model
=================  ==========================================================
church_bell        inharmonic partials (hum, prime, minor-third tierce, quint,
                   nominal...), long decays, struck every 0.8-2 s
bicycle_bell       2-4 high inharmonic partials (2-4.5 kHz), "ring-ring"
                   strikes with a 15-35 Hz clapper tremolo
door_bell          ding-dong (or three-note) chime, decaying near-harmonic tones
beeping            sine or square beeps, 0.5-4 kHz, 0.05-0.3 s, periodic
smoke_alarm        ~3 kHz piezo tone (with harmonics) in the temporal-3 pattern
siren              FM sweeps: wail (2-6 s), yelp (0.15-0.4 s) or hi-lo, odd
                   harmonics, slow Doppler drift
phone_ring         dual-tone ring cadences (US 440+480 Hz, UK 400+450 Hz,
                   EU 425 Hz) or a mechanical bell hammered at 20-25 Hz
ringtone           short melody (pentatonic, 0.6-2 kHz) of pure, FM or
                   marimba-like notes, repeated
camera_shutter     two clicks 40-150 ms apart with a metal ring, sometimes a
                   motor whir
clicks             1-8 short switch / mouse / pen clicks
knocking           groups of 2-5 knocks: low-passed transients with wood modes
footsteps          heel thud + toe scuff every 0.4-0.7 s
keyboard_typing    key clicks at irregular 0.08-0.35 s intervals, releases,
                   bottom-out thocks, pauses
running_water      band-passed noise with bubbles (short rising sine chirps)
rain               dense drop clicks over a noise bed
wind               low-passed noise with gusts, sometimes a wandering whistle
engine             band-limited firing pulse train (20-90 Hz) with rpm wander
                   and noise
fan                blade-pass harmonics, motor hum and broadband air noise
hum                50/60 Hz mains hum or buzz with harmonics
birdsong           fast FM chirps (2-8 kHz), trills and phrases, 1-2 birds
clock_ticking      tick-tock clicks with resonances, every 0.25-1 s
applause           many claps (band-passed noise bursts) at 5-200 per second
=================  ==========================================================

Example
-------
>>> import numpy as np
>>> wav = synthesize_sound("siren", np.random.default_rng(0), 16000, 16000)
>>> wav.shape, bool(np.isfinite(wav).all() and np.abs(wav).max() > 0)
((16000,), True)
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from speechbrain_xai.data.vocalmix_synthesis import (
    bandpass_sos,
    exp_decay,
    fade_envelope,
    harmonic_source,
    lfo,
    partials,
    rms,
    sub_interval,
)


# ---------------------------------------------------------------------------
# building blocks
# ---------------------------------------------------------------------------
def _place(out, event, onset):
    """Adds ``event`` into ``out`` at ``onset`` (cut at the end)."""
    onset = int(onset)
    if 0 <= onset < len(out):
        n = min(len(event), len(out) - onset)
        out[onset:onset + n] += event[:n]
    return out


def _onsets(rng, num_samples, fs, period, jitter=0.0, first_max=0.6):
    """Onsets (samples) every ``period`` s (+- ``jitter`` fraction), the first
    one within the first ``first_max`` of the clip."""
    t = rng.uniform(0.0, first_max) * num_samples / fs
    onsets = []
    while t < num_samples / fs:
        onsets.append(int(t * fs))
        t += period * (1.0 + jitter * rng.uniform(-1.0, 1.0))
    return onsets


def _burst(rng, length, fs, low, high, tau):
    """Band-passed noise burst with an exponential decay (``tau`` s)."""
    noise = signal.sosfilt(bandpass_sos(low, high, fs), rng.standard_normal(length))
    return noise * exp_decay(length, tau, fs)


def _ring(freqs, amps, taus, length, fs, rng):
    """Decaying sinusoids (a struck object), random phases."""
    freqs = np.asarray(freqs, dtype=np.float64)
    return partials(freqs, amps, rng.uniform(0, 2 * np.pi, freqs.size), length, fs,
                     taus=np.asarray(taus, dtype=np.float64))


def _sweep(freq, fs, odd_harmonics=1, phase0=0.0):
    """A tone following ``freq`` (Hz per sample) with odd harmonics ``1/k``."""
    phase = 2 * np.pi * np.cumsum(freq) / fs + phase0
    out = np.zeros(len(freq))
    top = float(np.max(freq))
    for k in range(1, 2 * odd_harmonics, 2):
        if k * top < 0.45 * fs:
            out += np.sin(k * phase) / k
    return out


def _scatter(rng, n, mean_count, templates, gain_sigma):
    """About ``mean_count`` events (Poisson) at uniform times, each one of
    ``templates`` with a log-normal gain: dense textures (rain, applause) in
    one convolution per template."""
    out = np.zeros(n)
    count = max(1, int(rng.poisson(mean_count)))
    onsets = rng.integers(0, n, size=count)
    which = rng.integers(0, len(templates), size=count)
    gains = rng.lognormal(0.0, gain_sigma, size=count)
    for k, template in enumerate(templates):
        train = np.zeros(n)
        np.add.at(train, onsets[which == k], gains[which == k])
        out += signal.fftconvolve(train, template)[:n]
    return out


def _gate(num_samples, fs, on_off, offset_s, ramp_s=0.005):
    """0/1 envelope repeating the ``(on, off, on, off...)`` pattern (s)."""
    period = float(sum(on_off))
    t = (np.arange(num_samples) / fs + offset_s) % period
    env = np.zeros(num_samples)
    start = 0.0
    for i, dur in enumerate(on_off):
        if i % 2 == 0:
            env[(t >= start) & (t < start + dur)] = 1.0
        start += dur
    ramp = max(1, int(ramp_s * fs))
    return np.convolve(env, np.ones(ramp) / ramp, mode="same")


def _continuous(rng, wav, fs, p_partial=0.3):
    """A steady sound over the whole clip, or (``p_partial``) over a part of it."""
    if rng.random() >= p_partial:
        return wav
    start, length = sub_interval(rng, len(wav), (0.4, 0.9))
    out = np.zeros_like(wav)
    fade = rng.uniform(0.02, 0.3) * fs
    out[start:start + length] = wav[start:start + length] * fade_envelope(length, fade, fade)
    return out


# ---------------------------------------------------------------------------
# bells, alarms, phones
# ---------------------------------------------------------------------------
def _church_bell(rng, n, fs):
    f = rng.uniform(180.0, 600.0)
    ratios = np.array([0.5, 1.0, 1.19, 1.5, 2.0, 2.5, 2.66, 3.0, 4.0, 5.33])
    ratios *= rng.uniform(0.99, 1.01, ratios.size)
    amps = rng.uniform(0.3, 1.0, ratios.size) / ratios ** 0.5
    taus = rng.uniform(1.0, 3.0) / ratios ** 0.7
    out = np.zeros(n)
    for onset in _onsets(rng, n, fs, rng.uniform(0.8, 2.0), 0.05):
        tone = _ring(f * ratios, amps, taus, n - onset, fs, rng)
        click = _burst(rng, min(n - onset, int(0.02 * fs)), fs, 500.0, 5000.0, 0.004)
        _place(out, tone, onset)
        _place(out, 0.5 * click * rms(tone) / (rms(click) + 1e-12), onset)
    return out


def _bicycle_bell(rng, n, fs):
    f = min(rng.uniform(2000.0, 4500.0), 0.4 * fs)
    ratios = np.array([1.0, rng.uniform(1.35, 1.6), rng.uniform(2.0, 2.4), rng.uniform(2.7, 3.1)])
    ratios = ratios[: int(rng.integers(2, 5))]
    taus = rng.uniform(0.2, 0.7) / ratios
    out = np.zeros(n)
    start = rng.uniform(0.0, 0.6) * n / fs
    for group in range(int(rng.integers(1, 3))):
        gap = rng.uniform(0.08, 0.2)
        for strike in range(int(rng.integers(2, 5))):
            onset = int((start + strike * gap) * fs)
            if onset >= n:
                break
            tone = _ring(f * ratios, 1.0 / ratios, taus, n - onset, fs, rng)
            tremolo = 1.0 + 0.4 * np.sin(2 * np.pi * rng.uniform(15.0, 35.0)
                                         * np.arange(n - onset) / fs)
            _place(out, tone * tremolo, onset)
        start += rng.uniform(0.6, 1.2)
    return out


def _door_bell(rng, n, fs):
    f1 = rng.uniform(500.0, 900.0)
    steps = [0, -4] if rng.random() < 0.7 else [0, -4, -9]
    ratios = np.array([1.0, 2.0, 3.01, 4.1])
    out = np.zeros(n)
    onset = rng.uniform(0.0, 0.5) * n / fs
    for step in steps:
        f = f1 * 2 ** (step / 12)
        start = int(onset * fs)
        if start < n:
            tone = _ring(f * ratios, [1.0, 0.4, 0.15, 0.1], rng.uniform(0.5, 1.5) / ratios,
                         n - start, fs, rng)
            _place(out, tone, start)
        onset += rng.uniform(0.4, 0.8)
    return out


def _beeping(rng, n, fs):
    f = min(rng.uniform(500.0, 4000.0), 0.4 * fs)
    beep = int(rng.uniform(0.05, 0.3) * fs)
    harmonics = 4 if rng.random() < 0.5 else 1  # square or sine
    tone = _sweep(np.full(beep, f), fs, harmonics) * fade_envelope(beep, 0.002 * fs, 0.002 * fs)
    out = np.zeros(n)
    for onset in _onsets(rng, n, fs, beep / fs + rng.uniform(0.05, 0.5), 0.0, first_max=0.4):
        _place(out, tone, onset)
    return out


def _smoke_alarm(rng, n, fs):
    f = rng.uniform(2900.0, 3300.0)
    t = np.arange(n) / fs
    tone = partials([f, 2 * f, 3 * f], [1.0, 0.3, 0.15], rng.uniform(0, 6.3, 3), n, fs)
    tone *= 1.0 + 0.05 * np.sin(2 * np.pi * rng.uniform(5.0, 30.0) * t)
    gate = _gate(n, fs, (0.5, 0.5, 0.5, 0.5, 0.5, 1.5), rng.uniform(0.0, 4.0))
    if gate.max() == 0.0:
        gate[: int(0.5 * fs)] = 1.0
    return tone * gate


def _siren(rng, n, fs):
    t = np.arange(n) / fs
    style = rng.choice(["wail", "yelp", "hilo"])
    if style == "hilo":
        low = rng.uniform(400.0, 700.0)
        period = rng.uniform(0.8, 1.4)
        freq = np.where((t + rng.uniform(0, period)) % period < period / 2, low, low * 1.33)
        freq = np.convolve(freq, np.ones(int(0.01 * fs)) / int(0.01 * fs), mode="same")
    else:
        period = rng.uniform(2.0, 6.0) if style == "wail" else rng.uniform(0.15, 0.4)
        low, high = rng.uniform(500.0, 800.0), rng.uniform(1200.0, 1800.0)
        sweep = 0.5 - 0.5 * np.cos(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
        freq = low + (high - low) * sweep
    freq = freq * (1.0 + rng.uniform(-0.03, 0.03) * t / t[-1])  # Doppler drift
    out = _sweep(freq, fs, int(rng.integers(1, 5)), rng.uniform(0, 2 * np.pi))
    return out * (0.3 + 0.7 * np.clip(t / rng.uniform(0.2, 3.0), 0.0, 1.0))


def _phone_ring(rng, n, fs):
    cadences = {
        "us": ((440.0, 480.0), (2.0, 4.0)),
        "uk": ((400.0, 450.0), (0.4, 0.2, 0.4, 2.0)),
        "eu": ((425.0,), (1.0, 4.0)),
    }
    if rng.random() < 0.3:  # mechanical bell hammered at 20-25 Hz
        f = rng.uniform(1500.0, 3000.0)
        ratios = np.array([1.0, 1.53, 2.3])
        out = np.zeros(n)
        hammer = rng.uniform(20.0, 25.0)
        start = int(rng.uniform(0.0, 0.5) * n)
        stop = start + int(rng.uniform(0.8, 2.0) * fs)
        for k, onset in enumerate(range(start, min(stop, n), int(fs / hammer))):
            _place(out, _ring(f * ratios, [1.0, 0.6, 0.3], 0.15 / ratios, int(0.3 * fs), fs, rng)
                   * (1.0 if k % 2 else 0.8), onset)
        return out
    freqs, pattern = cadences[str(rng.choice(list(cadences)))]
    tone = partials(np.asarray(freqs) * rng.uniform(0.98, 1.02), np.ones(len(freqs)),
                     rng.uniform(0, 6.3, len(freqs)), n, fs)
    gate = _gate(n, fs, pattern, rng.uniform(0.0, float(sum(pattern))))
    if gate.max() == 0.0:
        gate = _gate(n, fs, pattern, 0.0)
    return tone * gate


def _ringtone(rng, n, fs):
    scale = np.array([0, 2, 4, 7, 9, 12, 14, 16])  # major pentatonic over two octaves
    root = rng.uniform(72.0, 84.0)  # MIDI: 520 Hz to 1 kHz
    notes = root + rng.choice(scale, size=int(rng.integers(4, 11)))
    dur = int(rng.uniform(0.08, 0.25) * fs)
    timbre = rng.choice(["sine", "fm", "marimba"])
    ratio, index = rng.uniform(1.0, 3.5), rng.uniform(0.5, 3.0)
    out = np.zeros(n)
    pos = int(rng.uniform(0.0, 0.3) * n)
    while pos < n:
        for midi in notes:
            f = 440.0 * 2 ** ((midi - 69.0) / 12.0)
            t = np.arange(dur) / fs
            if timbre == "sine":
                note = np.sin(2 * np.pi * f * t) * fade_envelope(dur, 0.005 * fs, 0.02 * fs)
            elif timbre == "fm":
                mod = index * np.exp(-t / 0.08) * np.sin(2 * np.pi * ratio * f * t)
                note = np.sin(2 * np.pi * f * t + mod) * fade_envelope(dur, 0.003 * fs, 0.02 * fs)
            else:
                note = _ring([f, 3.9 * f, 9.8 * f], [1.0, 0.3, 0.1], [0.2, 0.05, 0.02], dur, fs, rng)
            _place(out, note, pos)
            pos += dur
            if pos >= n:
                break
        pos += int(rng.uniform(0.2, 0.6) * fs)
    return out


# ---------------------------------------------------------------------------
# clicks and impacts
# ---------------------------------------------------------------------------
def _shutter_click(rng, fs):
    length = int(0.04 * fs)
    click = _burst(rng, length, fs, 2000.0, min(8000.0, 0.45 * fs), rng.uniform(0.002, 0.006))
    ring_f = rng.uniform(1500.0, 4000.0)
    ring = _ring([ring_f, 1.7 * ring_f], [1.0, 0.5], [rng.uniform(0.005, 0.02)] * 2, length, fs, rng)
    return click / (rms(click) + 1e-12) + 0.5 * ring / (rms(ring) + 1e-12)


def _camera_shutter(rng, n, fs):
    out = np.zeros(n)
    for onset in _onsets(rng, n, fs, rng.uniform(0.4, 1.0), 0.2)[: int(rng.integers(1, 4))]:
        _place(out, _shutter_click(rng, fs), onset)
        _place(out, 0.7 * _shutter_click(rng, fs), onset + int(rng.uniform(0.04, 0.15) * fs))
        if rng.random() < 0.3:  # motor whir
            whir = int(0.2 * fs)
            motor = _burst(rng, whir, fs, 800.0, 3000.0, 1.0) * fade_envelope(whir, 0.02 * fs,
                                                                                0.05 * fs)
            _place(out, 0.3 * motor / (rms(motor) + 1e-12), onset + int(0.2 * fs))
    return out


def _clicks(rng, n, fs):
    out = np.zeros(n)
    low = rng.uniform(1000.0, 3000.0)
    for onset in sorted(rng.integers(0, n, size=int(rng.integers(1, 9)))):
        click = _burst(rng, int(0.02 * fs), fs, low, min(low * 3, 0.45 * fs), rng.uniform(0.001, 0.004))
        _place(out, rng.uniform(0.5, 1.0) * click / (rms(click) + 1e-12), onset)
    return out


def _knocking(rng, n, fs):
    out = np.zeros(n)
    modes = rng.uniform(100.0, 400.0) * np.array([1.0, 2.3, 3.9])
    cutoff = rng.uniform(300.0, 1500.0)
    lowpass = signal.butter(2, cutoff, fs=fs, output="sos")
    t = rng.uniform(0.0, 0.5) * n / fs
    while t < n / fs:
        gap = rng.uniform(0.12, 0.3)
        for _ in range(int(rng.integers(2, 6))):
            length = int(0.15 * fs)
            hit = signal.sosfilt(lowpass, rng.standard_normal(length)) * exp_decay(length, 0.01, fs)
            body = _ring(modes, [1.0, 0.5, 0.25], rng.uniform(0.02, 0.06, 3), length, fs, rng)
            _place(out, hit / (rms(hit) + 1e-12) + body / (rms(body) + 1e-12), int(t * fs))
            t += gap * rng.uniform(0.9, 1.1)
        t += rng.uniform(0.6, 1.5)
    return out


def _footsteps(rng, n, fs):
    out = np.zeros(n)
    thud_f = rng.uniform(60.0, 150.0)
    scuff_low = rng.uniform(500.0, 1500.0)
    gravel = rng.uniform(0.2, 1.5)
    for onset in _onsets(rng, n, fs, rng.uniform(0.4, 0.7), 0.08, first_max=0.3):
        length = int(0.12 * fs)
        heel = _ring([thud_f, 2.4 * thud_f], [1.0, 0.4], [0.03, 0.015], length, fs, rng)
        heel += _burst(rng, length, fs, 50.0, 600.0, 0.01) * 3.0
        scuff = _burst(rng, int(0.1 * fs), fs, scuff_low, min(scuff_low * 5, 0.45 * fs), 0.03)
        _place(out, heel / (rms(heel) + 1e-12), onset)
        _place(out, gravel * scuff / (rms(scuff) + 1e-12), onset + int(rng.uniform(0.03, 0.08) * fs))
    return out


def _keyboard_typing(rng, n, fs):
    out = np.zeros(n)
    t = rng.uniform(0.0, 0.3) * n / fs
    mean_gap = rng.uniform(0.08, 0.25)
    thock_f = rng.uniform(300.0, 800.0)
    while t < n / fs:
        onset = int(t * fs)
        low = rng.uniform(1000.0, 3000.0)
        click = _burst(rng, int(0.03 * fs), fs, low, min(low * 2.5, 0.45 * fs), rng.uniform(0.003, 0.008))
        thock = _ring([thock_f * rng.uniform(0.9, 1.1)], [1.0], [0.01], int(0.03 * fs), fs, rng)
        key = click / (rms(click) + 1e-12) + 0.6 * thock / (rms(thock) + 1e-12)
        _place(out, rng.uniform(0.5, 1.0) * key, onset)
        _place(out, 0.3 * click / (rms(click) + 1e-12), onset + int(rng.uniform(0.05, 0.1) * fs))
        t += min(mean_gap * rng.lognormal(0.0, 0.4), 0.35)
        if rng.random() < 0.06:
            t += rng.uniform(0.3, 0.8)  # a pause
    return out


def _clock_ticking(rng, n, fs):
    out = np.zeros(n)
    f_tick, f_tock = rng.uniform(2000.0, 5000.0), rng.uniform(1500.0, 4000.0)
    for k, onset in enumerate(_onsets(rng, n, fs, float(rng.choice([0.25, 0.5, 1.0])), 0.002,
                                      first_max=0.25)):
        f = f_tick if k % 2 == 0 else f_tock
        length = int(0.03 * fs)
        tick = _ring([f, 1.6 * f], [1.0, 0.4], [rng.uniform(0.003, 0.01)] * 2, length, fs, rng)
        tick += 0.3 * _burst(rng, length, fs, 1000.0, min(8000.0, 0.45 * fs), 0.002) * rms(tick) / 0.3
        _place(out, tick, onset)
    return out


def _applause(rng, n, fs):
    claps = []
    for _ in range(12):  # hands of different people
        low = rng.uniform(600.0, 2000.0)
        clap = _burst(rng, int(0.04 * fs), fs, low, min(low * 3, 0.45 * fs), rng.uniform(0.005, 0.015))
        claps.append(clap / (rms(clap) + 1e-12))
    out = _scatter(rng, n, rng.uniform(5.0, 200.0) * n / fs, claps, 0.4)
    t = np.arange(n) / fs
    swell = np.clip(t / rng.uniform(0.1, 1.0), 0.0, 1.0) * np.exp(-t / rng.uniform(1.0, 6.0))
    return out * swell


# ---------------------------------------------------------------------------
# noise-like textures and machines
# ---------------------------------------------------------------------------
def _running_water(rng, n, fs):
    bed = signal.sosfilt(bandpass_sos(rng.uniform(200.0, 600.0), min(6000.0, 0.45 * fs), fs),
                         rng.standard_normal(n))
    bed /= rms(bed)
    bubbles = np.zeros(n)
    for onset in np.sort(rng.integers(0, n, size=max(1, int(rng.poisson(rng.uniform(30, 200) * n / fs))))):
        length = int(rng.uniform(0.005, 0.03) * fs)
        f0 = rng.uniform(500.0, 3000.0)
        freq = f0 * (1.0 + rng.uniform(0.5, 2.0) * np.arange(length) / max(length, 1))
        chirp = np.sin(2 * np.pi * np.cumsum(freq) / fs) * exp_decay(length, length / fs / 3, fs)
        _place(bubbles, rng.uniform(0.3, 1.0) * chirp, onset)
    t = np.arange(n) / fs
    out = bed * (1.0 + 0.3 * lfo(rng, t, 0.5, 4.0)) + rng.uniform(0.5, 2.0) * bubbles / (rms(bubbles) + 1e-12)
    return _continuous(rng, out, fs)


def _rain(rng, n, fs):
    slope_pole = rng.uniform(0.0, 0.9)
    bed = signal.lfilter([1.0 - slope_pole], [1.0, -slope_pole], rng.standard_normal(n))
    drops = _scatter(rng, n, rng.uniform(100, 800) * n / fs, [
        _burst(rng, int(0.01 * fs), fs, 1500.0, min(8000.0, 0.45 * fs), rng.uniform(0.001, 0.003))
        for _ in range(8)], 0.7)
    out = rng.uniform(0.3, 1.0) * bed / rms(bed) + drops / (rms(drops) + 1e-12)
    if rng.random() < 0.4:  # on a roof: muffled
        out = signal.sosfilt(signal.butter(2, rng.uniform(800.0, 2500.0), fs=fs, output="sos"), out)
    return _continuous(rng, out, fs)


def _wind(rng, n, fs):
    t = np.arange(n) / fs
    white = rng.standard_normal(n)
    dark = signal.sosfilt(signal.butter(2, rng.uniform(150.0, 400.0), fs=fs, output="sos"), white)
    bright = signal.sosfilt(signal.butter(2, rng.uniform(800.0, 2000.0), fs=fs, output="sos"), white)
    gust = 0.5 + 0.5 * lfo(rng, t, 0.1, 0.6) * (0.7 + 0.3 * lfo(rng, t, 0.5, 2.0))
    out = (1.0 - gust) * dark / rms(dark) + gust * bright / rms(bright)
    out *= 0.3 + gust
    if rng.random() < 0.4:  # a whistle through a gap: a wandering narrow tone
        centre = rng.uniform(400.0, 1500.0)
        freq = centre * (1.0 + 0.15 * lfo(rng, t, 0.1, 0.5)) * (1.0 + 0.05 * gust)
        out += rng.uniform(0.1, 0.5) * np.sin(2 * np.pi * np.cumsum(freq) / fs) * gust ** 2
    return _continuous(rng, out, fs, p_partial=0.2)


def _engine(rng, n, fs):
    t = np.arange(n) / fs
    f0 = rng.uniform(20.0, 90.0) * (1.0 + rng.uniform(0.02, 0.08) * lfo(rng, t, 0.05, 0.5))
    if rng.random() < 0.3:  # revving
        f0 = f0 * (1.0 + rng.uniform(0.2, 0.8) * np.clip((t - rng.uniform(0, t[-1])) / 0.5, 0, 1))
    phase = 2 * np.pi * np.cumsum(f0) / fs
    pulses = harmonic_source(phase, float(f0.max()), fs, top=rng.uniform(800.0, 2500.0))
    pulses = signal.lfilter([1.0 - 0.9], [1.0, -0.9], pulses)
    noise = signal.sosfilt(signal.butter(2, rng.uniform(300.0, 1500.0), fs=fs, output="sos"),
                           rng.standard_normal(n))
    out = pulses / rms(pulses) + rng.uniform(0.2, 0.8) * noise / rms(noise)
    return _continuous(rng, out, fs, p_partial=0.2)


def _fan(rng, n, fs):
    t = np.arange(n) / fs
    blade = rng.uniform(30.0, 175.0)
    k = np.arange(1, 5)
    tones = partials(blade * k, 1.0 / k ** 1.5, rng.uniform(0, 6.3, 4), n, fs)
    motor = partials([100.0 if rng.random() < 0.5 else 120.0], [1.0], [0.0], n, fs)
    air = signal.sosfilt(signal.butter(2, rng.uniform(1000.0, 3000.0), fs=fs, output="sos"),
                         rng.standard_normal(n))
    out = (rng.uniform(0.2, 0.6) * tones / rms(tones) + 0.2 * motor / rms(motor)
           + air / rms(air))
    out *= 1.0 + 0.05 * lfo(rng, t, 0.5, 2.0)
    return _continuous(rng, out, fs, p_partial=0.2)


def _hum(rng, n, fs):
    mains = 50.0 if rng.random() < 0.5 else 60.0
    k = np.arange(1, int(rng.integers(3, 30)) + 1)
    buzz = rng.random() < 0.5  # strong odd harmonics: a transformer or a bad cable
    amps = np.where(k % 2 == 1, 1.0, 0.3 if buzz else 1.0) / k ** rng.uniform(0.5, 2.0)
    out = partials(mains * k, amps, rng.uniform(0, 6.3, k.size), n, fs)
    noise = rng.standard_normal(n)
    return _continuous(rng, out / rms(out) + 0.05 * noise, fs, p_partial=0.2)


def _bird_phrase(rng, fs):
    syllable = int(rng.uniform(0.02, 0.15) * fs)
    f_a, f_b = rng.uniform(2000.0, min(8000.0, 0.45 * fs), size=2)
    shape = rng.choice(["up", "down", "arch"])
    x = np.linspace(0.0, 1.0, syllable)
    curve = {"up": x, "down": 1.0 - x, "arch": np.sin(np.pi * x)}[shape]
    freq = f_a + (f_b - f_a) * curve
    chirp = np.sin(2 * np.pi * np.cumsum(freq) / fs)
    if 2 * f_b < 0.45 * fs and 2 * f_a < 0.45 * fs:
        chirp += 0.2 * np.sin(4 * np.pi * np.cumsum(freq) / fs)
    chirp *= np.sin(np.pi * x) ** 2
    repeats = int(rng.integers(1, 12))  # a trill when > 1
    gap = int(rng.uniform(0.005, 0.06) * fs)
    phrase = np.zeros(repeats * (syllable + gap))
    for r in range(repeats):
        _place(phrase, chirp * rng.uniform(0.7, 1.0), r * (syllable + gap))
    return phrase


def _birdsong(rng, n, fs):
    out = np.zeros(n)
    for _ in range(int(rng.integers(1, 3))):  # birds
        t = rng.uniform(0.0, 0.5) * n / fs
        while t < n / fs:
            phrase = _bird_phrase(rng, fs)
            _place(out, phrase * rng.uniform(0.5, 1.0), int(t * fs))
            t += len(phrase) / fs + rng.uniform(0.05, 0.8)
    return out


SOUNDS = {
    "church_bell": _church_bell,
    "bicycle_bell": _bicycle_bell,
    "door_bell": _door_bell,
    "beeping": _beeping,
    "smoke_alarm": _smoke_alarm,
    "siren": _siren,
    "phone_ring": _phone_ring,
    "ringtone": _ringtone,
    "camera_shutter": _camera_shutter,
    "clicks": _clicks,
    "knocking": _knocking,
    "footsteps": _footsteps,
    "keyboard_typing": _keyboard_typing,
    "running_water": _running_water,
    "rain": _rain,
    "wind": _wind,
    "engine": _engine,
    "fan": _fan,
    "hum": _hum,
    "birdsong": _birdsong,
    "clock_ticking": _clock_ticking,
    "applause": _applause,
}
SOUND_KINDS = tuple(SOUNDS)


def synthesize_sound(kind: str, rng: np.random.Generator, num_samples: int,
                     sample_rate: int = 16000) -> np.ndarray:
    """One everyday sound of ``kind`` over ``num_samples`` samples.

    Arguments
    ---------
    kind : str
        One of :data:`SOUND_KINDS`.
    rng : numpy.random.Generator
        Source of every parameter (the sound is a function of its state).
    num_samples : int
        Length of the result (>= 1600).
    sample_rate : int
        Sample rate in Hz (>= 8000).

    Returns
    -------
    numpy.ndarray
        float64 ``[num_samples]`` at unit RMS (its loudness is the caller's
        choice).

    Example
    -------
    >>> import numpy as np
    >>> a = synthesize_sound("birdsong", np.random.default_rng(1), 8000)
    >>> b = synthesize_sound("birdsong", np.random.default_rng(1), 8000)
    >>> bool(np.array_equal(a, b)), round(float(np.sqrt(np.mean(a ** 2))), 6)
    (True, 1.0)
    """
    if kind not in SOUNDS:
        raise ValueError(f"Unknown everyday sound {kind!r}; pick one of {list(SOUND_KINDS)}.")
    if int(num_samples) < 1600 or int(sample_rate) < 8000:
        raise ValueError(f"Sounds need num_samples >= 1600 and sample_rate >= 8000 Hz, "
                         f"got {num_samples} and {sample_rate}.")
    wav = SOUNDS[kind](rng, int(num_samples), int(sample_rate))
    return wav / rms(wav)
