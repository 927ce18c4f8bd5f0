"""VocalMix synthesis: the project's own generated data (singing-voice detection in miniature).

Every clip is a mixture of a synthetic *voice-like* source and a synthetic
background, generated deterministically from a seed, 16 kHz mono by default.
The stems are kept, so the true voice region and the oracle (voice) mask of
every clip are known, and explanations can be scored against ground truth.

Voice model
    A band-limited glottal-pulse-like harmonic source (all harmonics below
    ~7.5 kHz, closed-form Dirichlet sum driven by a phase accumulator) with a
    one-pole spectral tilt, following 1 to 5 notes in a singing range
    (MIDI 45-69, i.e. 110-440 Hz) joined by short glides, with vibrato
    (4.5-6.5 Hz, 20-80 cents, fading in after each note onset) and a slow
    pitch drift. It passes through a cascade of four vowel formant
    resonators whose vowel changes from note to note (smooth cross-fades
    between up to three vowels, per-singer formant scaling), gets a little
    pitch-synchronous breath noise, and a phrase envelope (attack, release,
    small dips at note changes, slow swell and vibrato-linked tremolo).
    It occupies one random sub-interval of 30-80 % of the clip and is exactly
    zero outside ``[voice_start, voice_end]``.

Background model
    The same families for every label (so that the label is only the voice):
    sustained organ-like chords (no vibrato, no formants), plucked tones with
    inharmonic, decaying partials, a bass line, a drum kit (kick, snare,
    hi-hat), a *lead* instrument that is the hard negative (a harmonic tone in
    the voice's f0 range and over a random sub-interval of the clip, but with
    a static timbre: no formants, no vibrato), coloured noise with a random
    spectral slope, and noise band-passed by 1-3 resonances in the formant
    region (250-4000 Hz) whose centre may drift over time, so that neither a
    band-energy detector nor "time-varying resonance" alone gives the label.

Mixing
    Every background family is normalised to unit RMS and gets a random gain;
    the background is normalised to unit RMS; the voice is scaled to a random
    voice-to-background SNR (default 0 to +12 dB) measured *over the voice
    interval* (against a floor 10 dB below the clip's background power, in the
    rare clips whose background is nearly silent there); the mixture is then
    scaled to a random RMS level (default -36 to -18 dBFS, both stems with the
    same gain) with a peak guard at 0.95, so the overall loudness does not
    reveal the label and nothing clips.

Labels
    Clip ``i`` of a split gets class ``i % num_classes``, so every split is
    balanced and clip ``i`` does not depend on the split sizes. ``task="voice"``:
    ``voice`` / ``no_voice`` over the same background families (instruments
    and noise). ``task="source"``: ``voice`` (voice over a background drawn
    from mix/music/noise), ``music`` (instrument families only), ``noise``
    (noise families only).

This module only makes clips in memory (no file I/O); :func:`prepare_vocalmix`
in :mod:`speechbrain_xai.data.vocalmix` writes them as a data set on disk.
The signal helpers other generated sounds build on (``rms``, ``unit_rms``,
``lfo``, ``partials``, ``harmonic_source``, ``bandpass_sos``, ``exp_decay``,
``fade_envelope``, ``sub_interval``, ``coloured_noise``) and the mixing
(``scale_to_snr``, ``mix_at_level``) are public for them.

Authors
 * speechbrain_xai contributors
"""

from __future__ import annotations

import numpy as np
from scipy import signal

# Bump when the synthesis changes, so that ``prepare_vocalmix`` (with
# ``skip_if_exists``) regenerates data sets written by an older generator.
GENERATOR_VERSION = 3  # 3: stems on a 2**-24 grid (see _GRID)

# Voice-to-background SNR over the voice interval. Below 0 dB the voice is
# buried under a louder accompaniment (measured: the small CNN found 66% of such
# voice clips, against 94% above 5 dB), which tests SNR rather than listening.
DEFAULT_SNR_DB_RANGE = (0.0, 12.0)

TASKS = {
    "voice": ("voice", "no_voice"),
    "source": ("voice", "music", "noise"),
}
SPLITS = ("train", "valid", "test")
_SPLIT_CODES = {"train": 0, "valid": 1, "test": 2}
BACKGROUND_KINDS = ("mix", "music", "noise")
INSTRUMENT_FAMILIES = ("organ", "pluck", "bass", "drums", "lead")
NOISE_FAMILIES = ("coloured_noise", "resonant_noise")
MIN_DURATION = 0.5
MIN_SAMPLE_RATE = 8000
# Peak guard, a hair below 0.95 so float32 rounding never crosses 0.95.
_PEAK = 0.9499
# The stems are rounded to multiples of 2**-24 (about -144 dBFS) before they
# become float32. Machines differ in the last bit of some float64 results
# (numpy picks SIMD versions of functions such as tanh by CPU); float32
# rounding alone would pass such a difference on for samples near zero (their
# float32 step is tiny), a fixed grid only for a sample that lies within
# about 1e-16 of a grid midpoint. Values on the grid below 1 are exact in float32.
_GRID = 2.0 ** -24

# Formant frequencies (Hz) and bandwidths of five sung vowels (rough averages
# over voice types; scaled per singer).
_VOWELS = {
    "a": ((800.0, 1150.0, 2800.0, 3500.0), (80.0, 90.0, 120.0, 130.0)),
    "e": ((450.0, 1900.0, 2600.0, 3400.0), (70.0, 80.0, 120.0, 130.0)),
    "i": ((300.0, 2200.0, 2950.0, 3500.0), (50.0, 90.0, 120.0, 130.0)),
    "o": ((480.0, 820.0, 2700.0, 3300.0), (70.0, 80.0, 100.0, 130.0)),
    "u": ((340.0, 700.0, 2600.0, 3300.0), (50.0, 60.0, 170.0, 180.0)),
}


# ---------------------------------------------------------------------------
# small signal helpers
# ---------------------------------------------------------------------------
def _midi_to_hz(midi):
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


def _smoothstep(x):
    """Raised-cosine step from 0 (x <= 0) to 1 (x >= 1)."""
    x = np.clip(x, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * x)


def _step(length, centre, width):
    """Raised-cosine step over ``width`` samples centred at ``centre`` (cheap:
    the cosine is only evaluated inside the transition)."""
    out = np.zeros(length)
    width = max(float(width), 1.0)
    lo = int(np.clip(np.ceil(centre - width / 2), 0, length))
    hi = int(np.clip(np.ceil(centre + width / 2), 0, length))
    out[hi:] = 1.0
    if hi > lo:
        out[lo:hi] = _smoothstep((np.arange(lo, hi) - (centre - width / 2)) / width)
    return out


def lfo(rng, t, low, high):
    """Sinusoid of random rate in [low, high] Hz and random phase over times ``t``."""
    rate = rng.uniform(low, high)
    return np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi))


def rms(x):
    """Root mean square of ``x`` (never 0: a tiny floor is added)."""
    return float(np.sqrt(np.mean(np.square(x)) + 1e-20))


def unit_rms(x):
    """``x`` scaled to unit RMS."""
    return x / rms(x)


def _dirichlet(theta, num_harmonics):
    """Sum of ``cos(k * theta)`` for ``k = 1..num_harmonics`` (closed form).

    One O(N) expression for all harmonics, so a harmonic source with a
    time-varying f0 costs the same whatever its number of harmonics.
    """
    k = float(num_harmonics)
    half = 0.5 * theta
    s = np.sin(half)
    small = np.abs(s) < 1e-6
    safe = np.where(small, 1.0, s)
    out = np.sin((k + 0.5) * theta) / (2.0 * safe) - 0.5
    return np.where(small, k, out)


def harmonic_source(phase, f0_max, sample_rate, odd_only=False, top=7500.0):
    """Band-limited pulse train (equal-amplitude harmonics below ``top``)."""
    top = min(top, 0.45 * sample_rate)
    num = max(1, int(top // f0_max))
    if not odd_only:
        return _dirichlet(phase, num) / num
    # odd harmonics = all harmonics - even harmonics
    odd = _dirichlet(phase, num) - _dirichlet(2.0 * phase, num // 2)
    return odd / max(1, (num + 1) // 2)


def _tilt(x, pole):
    """One-pole low-pass (-6 dB/octave above its corner): spectral tilt."""
    return signal.lfilter([1.0 - pole], [1.0, -pole], x)


def _resonator_sos(freqs, bws, sample_rate):
    """Cascade of Klatt resonators (unity gain at DC) as second-order sections."""
    sections = []
    nyq = 0.5 * sample_rate
    for f, bw in zip(freqs, bws):
        if f >= 0.95 * nyq:
            continue
        r = np.exp(-np.pi * bw / sample_rate)
        b1 = 2.0 * r * np.cos(2.0 * np.pi * f / sample_rate)
        b2 = -r * r
        gain = 1.0 - b1 - b2
        sections.append([gain, 0.0, 0.0, 1.0, -b1, -b2])
    if not sections:
        sections.append([1.0, 0.0, 0.0, 1.0, 0.0, 0.0])
    return np.asarray(sections, dtype=np.float64)


def bandpass_sos(low, high, sample_rate, order=2):
    """Butterworth band-pass as second-order sections, its band kept inside
    20 Hz to 0.95 x Nyquist (widened when it would be too narrow)."""
    nyq = 0.5 * sample_rate
    low = max(20.0, low)
    high = min(high, 0.95 * nyq)
    if high <= low * 1.05:
        high = min(0.95 * nyq, low * 1.5)
    return signal.butter(order, [low, high], btype="bandpass", fs=sample_rate, output="sos")


def exp_decay(length, tau, sample_rate):
    """Exponential decay ``exp(-t / tau)`` over ``length`` samples."""
    return np.exp(-np.arange(length) / (tau * sample_rate))


def fade_envelope(length, attack, release):
    """1 in the middle, raised-cosine attack/release (in samples), 0 at the ends."""
    env = np.ones(length)
    attack = int(min(max(attack, 1), max(length // 2, 1)))
    release = int(min(max(release, 1), max(length // 2, 1)))
    env[:attack] *= _smoothstep(np.arange(attack) / attack)
    env[length - release:] *= _smoothstep(np.arange(release - 1, -1, -1) / release)
    return env


def _segments(rng, length, num, min_len):
    """Split ``range(length)`` into ``num`` contiguous pieces of >= ``min_len``."""
    num = int(max(1, min(num, length // max(min_len, 1))))
    if num == 1:
        return np.array([0, length])
    slack = length - num * min_len
    cuts = np.sort(rng.uniform(0, slack, size=num - 1)).astype(np.int64)
    inner = cuts + min_len * np.arange(1, num)
    return np.concatenate([[0], inner, [length]])


def sub_interval(rng, num_samples, fraction_range):
    """A random ``(start, length)`` in ``range(num_samples)`` whose length is a
    fraction drawn from ``fraction_range`` of the whole (at least 2 samples)."""
    frac = rng.uniform(*fraction_range)
    length = max(2, int(round(frac * num_samples)))
    start = int(rng.integers(0, num_samples - length + 1))
    return start, length


# ---------------------------------------------------------------------------
# voice
# ---------------------------------------------------------------------------
def _synth_voice(rng, length, sample_rate):
    """A sung phrase of ``length`` samples; returns (signal, f0, info)."""
    fs = sample_rate
    t = np.arange(length) / fs
    seg_s = length / fs

    # notes: pitch contour in semitones, glides at note changes
    num_notes = int(min(5, 1 + rng.poisson(1.5 * seg_s)))
    bounds = _segments(rng, length, num_notes, int(0.18 * fs))
    num_notes = len(bounds) - 1
    notes = [float(rng.uniform(45.0, 67.0))]
    for _ in range(num_notes - 1):
        step = rng.choice([-5, -4, -3, -2, -1, 1, 2, 3, 4, 5])
        nxt = notes[-1] + step
        if nxt < 45.0 or nxt > 69.0:
            nxt = notes[-1] - step
        notes.append(float(nxt))
    pitch = np.full(length, notes[0])
    glide = rng.uniform(0.03, 0.08) * fs
    for b, prev, nxt in zip(bounds[1:-1], notes[:-1], notes[1:]):
        pitch += (nxt - prev) * _step(length, b, glide)

    # vibrato fading in after each note onset, slow drift
    vib_rate = rng.uniform(4.5, 6.5)
    vib_depth = rng.uniform(20.0, 80.0)  # cents
    n = np.arange(length)
    since_onset = n - bounds[np.searchsorted(bounds, n, side="right") - 1]
    vib_ramp = _smoothstep(since_onset / (rng.uniform(0.1, 0.3) * fs))
    rate_wobble = 1.0 + 0.05 * lfo(rng, t, 0.3, 1.0)
    vib_phase = 2 * np.pi * np.cumsum(vib_rate * rate_wobble) / fs + rng.uniform(0, 2 * np.pi)
    vib = np.sin(vib_phase)
    drift = 8.0 * lfo(rng, t, 0.1, 0.5)
    cents = vib_depth * vib * vib_ramp + drift
    f0 = _midi_to_hz(pitch + cents / 100.0)

    # glottal-pulse-like harmonic source with spectral tilt
    phase = 2 * np.pi * np.cumsum(f0) / fs + rng.uniform(0, 2 * np.pi)
    source = harmonic_source(phase, float(f0.max()), fs)
    source = _tilt(source, rng.uniform(0.90, 0.97))

    # breath noise, pitch-synchronous, above 1.5 kHz
    breath = signal.sosfilt(bandpass_sos(1500.0, 6000.0, fs), rng.standard_normal(length))
    breath *= 0.6 + 0.4 * np.cos(phase)
    breath_db = rng.uniform(-28.0, -16.0)
    source = source / rms(source) + 10 ** (breath_db / 20) * breath / rms(breath)

    # time-varying vowel formants: one vowel per note, cross-faded
    num_vowels = int(rng.integers(1, 4))
    vowel_names = list(rng.choice(list(_VOWELS), size=num_vowels, replace=False))
    note_vowels = [int(rng.integers(0, num_vowels)) for _ in range(num_notes)]
    scale = rng.uniform(0.9, 1.15)
    weights = np.zeros((num_vowels, length))
    fade = rng.uniform(0.04, 0.1) * fs
    for j, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        rise = np.ones(length) if j == 0 else _step(length, a, fade)
        fall = np.ones(length) if j == num_notes - 1 else 1.0 - _step(length, b, fade)
        weights[note_vowels[j]] += rise * fall
    voiced = np.zeros(length)
    for v in range(num_vowels):
        if not weights[v].any():
            continue
        freqs, bws = _VOWELS[vowel_names[v]]
        freqs = np.asarray(freqs) * scale * rng.uniform(0.95, 1.05, size=4)
        sos = _resonator_sos(freqs, bws, fs)
        voiced += weights[v] * signal.sosfilt(sos, source)
    voiced /= np.maximum(weights.sum(axis=0), 1e-6)

    # phrase envelope: attack, release, dips at note changes, swell, tremolo
    env = fade_envelope(length, rng.uniform(0.03, 0.1) * fs, rng.uniform(0.05, 0.2) * fs)
    for b in bounds[1:-1]:
        env *= 1.0 - rng.uniform(0.0, 0.5) * np.exp(-0.5 * ((n - b) / (0.02 * fs)) ** 2)
    env *= 1.0 + 0.2 * lfo(rng, t, 0.2, 0.8)
    env *= 1.0 + 0.1 * vib * vib_ramp
    out = voiced * env
    info = {
        "notes_midi": [round(x, 3) for x in notes],
        "note_bounds_s": [round(float(b) / fs, 4) for b in bounds],
        "vowels": [str(vowel_names[k]) for k in note_vowels],
        "vibrato_rate_hz": round(float(vib_rate), 4),
        "vibrato_depth_cents": round(float(vib_depth), 3),
    }
    return out, f0, info


# ---------------------------------------------------------------------------
# background families (each returns a full-length signal)
# ---------------------------------------------------------------------------
def partials(freqs, amps, phases, length, sample_rate, taus=None):
    """Sum of (optionally exponentially decaying) sinusoids over ``length`` samples.

    Each partial is ``amp * exp(-t / tau) * sin(2 pi f t + phase)``, computed as
    a running complex product (a few times faster than ``np.sin`` of an outer
    product; the drift over a clip is ~1e-12).
    """
    freqs = np.asarray(freqs, dtype=np.float64)
    keep = freqs < 0.45 * sample_rate
    if not keep.any() or length < 1:
        return np.zeros(max(length, 0))
    amps = np.asarray(amps, dtype=np.float64)[keep]
    phases = np.asarray(phases, dtype=np.float64)[keep]
    damping = 0.0
    if taus is not None:
        damping = 1.0 / (np.asarray(taus, dtype=np.float64)[keep] * sample_rate)
    step = np.exp(-damping + 2j * np.pi * freqs[keep] / sample_rate)
    osc = np.empty((int(keep.sum()), length), dtype=np.complex128)
    osc[:] = step[:, None]
    osc[:, 0] = amps * np.exp(1j * phases)
    np.cumprod(osc, axis=1, out=osc)
    return osc.imag.sum(0)


# major, minor, sus4, major with octave, minor seventh (semitones above the root)
_CHORDS = ((0, 4, 7), (0, 3, 7), (0, 5, 7), (0, 4, 7, 12), (0, 3, 7, 10))


def _organ(rng, num_samples, fs):
    out = np.zeros(num_samples)
    bounds = _segments(rng, num_samples, int(rng.integers(1, 4)), int(0.3 * fs))
    num_partials = int(rng.integers(4, 11))
    k = np.arange(1, num_partials + 1)
    registration = rng.uniform(0.2, 1.0, size=num_partials) / k ** rng.uniform(0.5, 1.5)
    for a, b in zip(bounds[:-1], bounds[1:]):
        root = rng.uniform(43.0, 64.0)
        shape = _CHORDS[int(rng.integers(0, len(_CHORDS)))]
        f0s = _midi_to_hz(root + np.asarray(shape, dtype=np.float64))
        freqs = (f0s[:, None] * k[None, :]).ravel()
        amps = np.tile(registration, len(shape))
        seg = partials(freqs, amps, rng.uniform(0, 2 * np.pi, freqs.size), b - a, fs)
        out[a:b] = seg * fade_envelope(b - a, 0.02 * fs, 0.03 * fs)
    return out


def _pluck(rng, num_samples, fs):
    out = np.zeros(num_samples)
    count = 1 + rng.poisson(rng.uniform(1.0, 5.0) * num_samples / fs)
    for _ in range(int(count)):
        onset = int(rng.integers(0, num_samples))
        f0 = float(_midi_to_hz(rng.uniform(40.0, 79.0)))
        tau0 = rng.uniform(0.15, 0.9)
        length = min(num_samples - onset, int(5 * tau0 * fs))
        if length < 16:
            continue
        num_partials = int(rng.integers(6, 13))
        k = np.arange(1, num_partials + 1)
        inharm = rng.uniform(1e-4, 1.5e-3)
        freqs = f0 * k * np.sqrt(1.0 + inharm * k**2)
        pluck_pos = rng.uniform(0.1, 0.4)
        amps = np.abs(np.sin(np.pi * k * pluck_pos)) / k
        taus = tau0 / (1.0 + 0.4 * k)  # higher partials die out sooner
        tone = partials(freqs, amps, np.zeros(num_partials), length, fs, taus=taus)
        tone *= fade_envelope(length, 0.002 * fs, 1)
        out[onset:onset + length] += rng.uniform(0.5, 1.0) * tone
    return out


def _bass(rng, num_samples, fs):
    out = np.zeros(num_samples)
    bounds = _segments(rng, num_samples, int(rng.integers(1, 5)), int(0.2 * fs))
    k = np.arange(1, int(rng.integers(2, 6)) + 1)
    amps = 1.0 / k ** rng.uniform(1.0, 2.0)
    tau = rng.uniform(0.2, 2.0)
    for a, b in zip(bounds[:-1], bounds[1:]):
        f0 = float(_midi_to_hz(rng.uniform(28.0, 45.0)))
        phases = rng.uniform(0, 2 * np.pi, len(k))
        tone = partials(f0 * k, amps, phases, b - a, fs, taus=np.full(len(k), tau))
        out[a:b] = tone * fade_envelope(b - a, 0.005 * fs, 0.02 * fs)
    return out


def _drums(rng, num_samples, fs):
    out = np.zeros(num_samples)
    beat = 60.0 / rng.uniform(80.0, 160.0)
    step = int(beat * fs / 2)  # eighth notes
    n_kick = int(0.4 * fs)
    t = np.arange(n_kick) / fs
    sweep = 2 * np.pi * np.cumsum(45.0 + rng.uniform(60.0, 120.0) * np.exp(-t / 0.04)) / fs
    kick = np.sin(sweep) * np.exp(-t / rng.uniform(0.08, 0.2))
    n_snare = int(0.25 * fs)
    snare = signal.sosfilt(bandpass_sos(800.0, 5000.0, fs), rng.standard_normal(n_snare))
    snare = snare / rms(snare) * 0.5 + np.sin(2 * np.pi * rng.uniform(160.0, 240.0) * t[:n_snare])
    snare *= exp_decay(n_snare, rng.uniform(0.05, 0.12), fs)
    n_hat = int(0.08 * fs)
    highpass = signal.butter(4, min(6000.0, 0.4 * fs), "highpass", fs=fs, output="sos")
    hat = signal.sosfilt(highpass, rng.standard_normal(n_hat))
    hat = hat / rms(hat) * 0.3 * exp_decay(n_hat, rng.uniform(0.01, 0.04), fs)
    p_hat = rng.uniform(0.3, 1.0)
    start = int(rng.integers(0, step))
    for i, pos in enumerate(range(start, num_samples, step)):
        hits = []
        if i % 4 == 0 and rng.random() < 0.9:
            hits.append((kick, 1.0))
        elif i % 4 == 2 and rng.random() < 0.85:
            hits.append((snare, 0.8))
        elif rng.random() < 0.15:
            hits.append((kick, 0.7))
        if rng.random() < p_hat:
            hits.append((hat, rng.uniform(0.5, 1.0)))
        for hit, gain in hits:
            n = min(len(hit), num_samples - pos)
            out[pos:pos + n] += gain * hit[:n]
    if not out.any():
        out[:len(kick)] += kick[: num_samples]
    return out


def _lead(rng, num_samples, fs):
    """Hard negative: harmonic tone in the voice's range, static timbre."""
    out = np.zeros(num_samples)
    start, length = sub_interval(rng, num_samples, (0.3, 1.0))
    bounds = _segments(rng, length, int(rng.integers(1, 6)), int(0.15 * fs))
    pitch = np.zeros(length)
    for a, b in zip(bounds[:-1], bounds[1:]):
        pitch[a:b] = rng.uniform(45.0, 69.0)
    f0 = _midi_to_hz(pitch)
    phase = 2 * np.pi * np.cumsum(f0) / fs
    tone = harmonic_source(phase, float(f0.max()), fs, odd_only=bool(rng.random() < 0.4))
    tone = _tilt(tone, rng.uniform(0.85, 0.97))
    cutoff = rng.uniform(1500.0, min(5000.0, 0.45 * fs))
    tone = signal.sosfilt(signal.butter(2, cutoff, fs=fs, output="sos"), tone)
    env = np.zeros(length)
    for a, b in zip(bounds[:-1], bounds[1:]):
        attack = rng.uniform(0.005, 0.04) * fs
        env[a:b] = fade_envelope(b - a, attack, rng.uniform(0.01, 0.05) * fs)
    out[start:start + length] = tone * env
    return out


def coloured_noise(rng, num_samples, fs):
    """Noise with a random spectral slope (-6 to +2 dB per octave) and a slow
    random level modulation."""
    spec = np.fft.rfft(rng.standard_normal(num_samples))
    freqs = np.fft.rfftfreq(num_samples, 1.0 / fs)
    slope = rng.uniform(-6.0, 2.0)  # dB per octave
    shape = np.maximum(freqs, 20.0) ** (slope / (20.0 * np.log10(2.0)))
    noise = np.fft.irfft(spec * shape, n=num_samples)
    t = np.arange(num_samples) / fs
    depth = rng.uniform(0.0, 0.6)
    noise *= 1.0 + depth * lfo(rng, t, 0.2, 3.0)
    return noise


def _resonant_noise(rng, num_samples, fs):
    """Noise band-passed in the formant region; resonances may drift."""
    white = rng.standard_normal(num_samples)

    def colour():
        out = np.zeros(num_samples)
        for _ in range(int(rng.integers(1, 4))):
            centre = rng.uniform(250.0, 4000.0)
            width = centre / rng.uniform(1.0, 8.0)
            band = signal.sosfilt(bandpass_sos(centre - width / 2, centre + width / 2, fs), white)
            out += rng.uniform(0.3, 1.0) * band / rms(band)
        return out

    noise = colour()
    if rng.random() < 0.5:  # drifting resonances: cross-fade to another colouring
        centre = rng.uniform(0.3, 0.8) * num_samples
        w = _step(num_samples, centre, rng.uniform(0.1, 0.4) * num_samples)
        noise = (1.0 - w) * noise + w * colour()
    t = np.arange(num_samples) / fs
    depth = rng.uniform(0.0, 0.6)
    noise *= 1.0 + depth * lfo(rng, t, 0.2, 4.0)
    return noise


_FAMILIES = {
    "organ": (_organ, 0.5),
    "pluck": (_pluck, 0.5),
    "bass": (_bass, 0.4),
    "drums": (_drums, 0.4),
    "lead": (_lead, 0.45),
    "coloured_noise": (coloured_noise, 0.6),
    "resonant_noise": (_resonant_noise, 0.6),
}


def _synth_background(rng, num_samples, fs, kind):
    if kind == "music":
        pool = INSTRUMENT_FAMILIES
    elif kind == "noise":
        pool = NOISE_FAMILIES
    else:
        pool = INSTRUMENT_FAMILIES + NOISE_FAMILIES
    chosen = [name for name in pool if rng.random() < _FAMILIES[name][1]]
    if not chosen:
        chosen = [pool[int(rng.integers(0, len(pool)))]]
    out = np.zeros(num_samples)
    for name in chosen:
        part = _FAMILIES[name][0](rng, num_samples, fs)
        out += 10 ** (rng.uniform(-15.0, 0.0) / 20.0) * unit_rms(part)
    return unit_rms(out), chosen


def scale_to_snr(segment, background, start, snr_db):
    """Scales a source placed at ``start`` to an SNR over its own interval.

    Where the background happens to be nearly silent under the source, the
    SNR refers to a floor 10 dB below the clip's background power instead
    (so a source over near-silence is not blown up), and the SNR returned is
    the real, higher one.

    Arguments
    ---------
    segment : numpy.ndarray
        The source over its interval, ``[L]``.
    background : numpy.ndarray
        The whole background, ``[N]`` with ``start + L <= N``.
    start : int
        Where the segment starts in the clip (samples).
    snr_db : float
        The wanted source-to-background SNR in dB over the interval.

    Returns
    -------
    tuple
        ``(scaled_segment, snr_db)``: the segment as it goes into the clip and
        its actual SNR over its interval.

    Example
    -------
    >>> bg = np.ones(100)
    >>> seg, snr = scale_to_snr(np.full(10, 3.0), bg, 20, 6.0)
    >>> round(snr, 6), round(float(seg[0]), 4)
    (6.0, 1.9953)
    """
    local_power = float(np.mean(np.square(background[start:start + len(segment)]))) + 1e-12
    ref_power = max(local_power, 0.1 * float(np.mean(np.square(background))))
    segment = segment * np.sqrt(
        ref_power * 10 ** (snr_db / 10.0) / (np.mean(np.square(segment)) + 1e-20)
    )
    return segment, float(10 * np.log10(np.mean(np.square(segment)) / local_power))


def mix_at_level(voice, background, level_db):
    """Scales both stems by one gain so the mixture has RMS ``level_db`` dBFS
    (lowered where the peak would pass 0.95), rounded to a grid of 2**-24 (so
    that last-bit differences between machines do not reach the samples, see
    ``_GRID``).

    Arguments
    ---------
    voice, background : numpy.ndarray
        The stems, ``[N]`` each.
    level_db : float
        The mixture RMS level in dBFS.

    Returns
    -------
    tuple
        ``(voice, background, mixture)`` float32 arrays with
        ``mixture == voice + background`` exactly (float32 sum).

    Example
    -------
    >>> v, b, m = mix_at_level(np.zeros(8), np.linspace(-1, 1, 8), -20.0)
    >>> bool(np.array_equal(m, v + b)), round(float(20 * np.log10(rms(m))), 3)
    (True, -20.0)
    """
    mix = voice + background
    gain = 10 ** (level_db / 20.0) / rms(mix)
    peak = float(np.abs(mix).max()) * gain
    if peak > _PEAK:
        gain *= _PEAK / peak
    voice32 = (np.round(voice * gain / _GRID) * _GRID).astype(np.float32)
    background32 = (np.round(background * gain / _GRID) * _GRID).astype(np.float32)
    return voice32, background32, voice32 + background32  # exact float32 sum


# ---------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------
def synthesize_clip(
    rng,
    sample_rate=16000,
    duration=2.0,
    voice=True,
    background="mix",
    snr_db_range=DEFAULT_SNR_DB_RANGE,
    level_db_range=(-36.0, -18.0),
    voice_fraction_range=(0.3, 0.8),
):
    """Synthesizes one VocalMix clip: a voice-like source over a background.

    Arguments
    ---------
    rng : numpy.random.Generator
        Source of all randomness; the clip is a deterministic function of
        the generator's state and the other arguments.
    sample_rate : int
        Sample rate in Hz (>= 8000).
    duration : float
        Clip length in seconds (>= 0.5).
    voice : bool
        Whether the clip contains the voice.
    background : str
        ``"mix"`` (instruments and noise, the default), ``"music"``
        (instrument families only) or ``"noise"`` (noise families only).
    snr_db_range : tuple of float
        Range of the voice-to-background SNR in dB, measured over the
        voice interval only. (Where the background is nearly silent under
        the voice, the voice is scaled against a floor 10 dB below the clip's
        background power instead, and the SNR reported is the real, higher
        one.)
    level_db_range : tuple of float
        Range of the mixture RMS level in dBFS (lowered if the peak would
        exceed 0.95).
    voice_fraction_range : tuple of float
        Range of the fraction of the clip the voice occupies.

    Returns
    -------
    dict
        ``mixture``, ``voice``, ``background``: float32 arrays ``[N]``, the
        stems as they are in the mixture (``voice`` is zeros when absent), and
        ``mixture == voice + background`` exactly (float32 sum).
        ``voice_start``, ``voice_end``: the voice interval in seconds (0, 0
        when absent); the voice stem is zero outside it.
        ``voice_f0``: float32 ``[N]`` f0 contour of the voice in Hz (0 where
        silent). ``snr_db``: the voice-to-background SNR over the voice
        interval as it is in the mixture (nan when absent), ``level_db`` (mixture RMS in
        dBFS), ``sample_rate``, ``background_families`` (list of str) and
        ``voice_info`` (empty when absent): ``notes_midi``, ``note_bounds_s``
        (note boundaries in clip seconds), ``vowels`` (one per note),
        ``vibrato_rate_hz``, ``vibrato_depth_cents`` (peak deviation).

    Example
    -------
    >>> import numpy as np
    >>> clip = synthesize_clip(np.random.default_rng(0), duration=1.0, voice=True)
    >>> clip["mixture"].shape, clip["mixture"].dtype
    ((16000,), dtype('float32'))
    >>> bool(np.array_equal(clip["mixture"], clip["voice"] + clip["background"]))
    True
    >>> 0.0 <= clip["voice_start"] < clip["voice_end"] <= 1.0
    True
    >>> float(np.abs(clip["mixture"]).max()) <= 0.95
    True
    >>> silent = synthesize_clip(np.random.default_rng(0), duration=1.0, voice=False)
    >>> float(np.abs(silent["voice"]).max()), silent["voice_end"]
    (0.0, 0.0)
    """
    sample_rate, duration = check_audio_args(sample_rate, duration)
    if background not in BACKGROUND_KINDS:
        raise ValueError(f"background must be one of {BACKGROUND_KINDS}, got {background!r}.")
    for name, rng_range in (
        ("snr_db_range", snr_db_range),
        ("level_db_range", level_db_range),
        ("voice_fraction_range", voice_fraction_range),
    ):
        if len(rng_range) != 2 or rng_range[0] > rng_range[1]:
            raise ValueError(
                f"{name} must be a (low, high) pair with low <= high, got {rng_range!r}."
            )
    if not 0.0 < voice_fraction_range[0] <= voice_fraction_range[1] <= 1.0:
        raise ValueError(f"voice_fraction_range must lie in (0, 1], got {voice_fraction_range!r}.")
    if level_db_range[1] > 0.0:
        raise ValueError(f"level_db_range must be <= 0 dBFS, got {level_db_range!r}.")

    num_samples = int(round(duration * sample_rate))
    bg, families = _synth_background(rng, num_samples, sample_rate, background)
    vox = np.zeros(num_samples)
    f0 = np.zeros(num_samples)
    voice_start = voice_end = 0.0
    snr_db = float("nan")
    info = {}
    if voice:
        start, length = sub_interval(rng, num_samples, voice_fraction_range)
        seg, seg_f0, info = _synth_voice(rng, length, sample_rate)
        info["note_bounds_s"] = [round(b + start / sample_rate, 4) for b in info["note_bounds_s"]]
        seg, snr_db = scale_to_snr(seg, bg, start, float(rng.uniform(*snr_db_range)))
        vox[start:start + length] = seg
        f0[start:start + length] = seg_f0
        voice_start = start / sample_rate
        voice_end = (start + length) / sample_rate

    voice32, bg32, mixture = mix_at_level(vox, bg, float(rng.uniform(*level_db_range)))
    return {
        "mixture": mixture,
        "voice": voice32,
        "background": bg32,
        "voice_start": voice_start,
        "voice_end": voice_end,
        "voice_f0": f0.astype(np.float32),
        "snr_db": snr_db,
        "level_db": float(20 * np.log10(rms(mixture))),
        "sample_rate": sample_rate,
        "background_families": families,
        "voice_info": info,
    }


def voice_activity(voice_start, voice_end, num_frames, duration):
    """Per-frame voice-active labels from a clip's voice interval.

    Frame ``j`` of ``num_frames`` evenly spread over ``duration`` seconds is
    active when its centre lies in ``[voice_start, voice_end)``.

    Arguments
    ---------
    voice_start : float
        Start of the voice interval in seconds.
    voice_end : float
        End of the voice interval in seconds (equal to start: no voice).
    num_frames : int
        Number of frames.
    duration : float
        Clip duration in seconds.

    Returns
    -------
    numpy.ndarray
        Boolean ``[num_frames]``.

    Example
    -------
    >>> voice_activity(0.5, 1.0, 4, 2.0).tolist()
    [False, True, False, False]
    """
    centres = (np.arange(num_frames) + 0.5) * (duration / max(num_frames, 1))
    return (centres >= float(voice_start)) & (centres < float(voice_end))


def clip_rng(seed, split, index):
    """The generator of clip ``index`` of ``split``: independent of split sizes.

    Arguments
    ---------
    seed : int
        Data set seed.
    split : str
        ``"train"``, ``"valid"`` or ``"test"``.
    index : int
        Clip index within the split.

    Returns
    -------
    numpy.random.Generator

    Example
    -------
    >>> a = clip_rng(1234, "train", 3).random()
    >>> b = clip_rng(1234, "train", 3).random()
    >>> a == b, a == clip_rng(1234, "valid", 3).random()
    (True, False)
    """
    seq = np.random.SeedSequence(entropy=int(seed), spawn_key=(_SPLIT_CODES[split], int(index)))
    return np.random.default_rng(seq)


def clip_spec(task, index):
    """Label and synthesis settings of clip ``index`` (labels cycle: balanced).

    Arguments
    ---------
    task : str
        ``"voice"`` or ``"source"``.
    index : int
        Clip index within its split.

    Returns
    -------
    tuple
        ``(label, voice, background)`` where ``background`` is ``None`` when
        it is drawn from the clip's own generator.

    Example
    -------
    >>> [clip_spec("voice", i)[0] for i in range(3)]
    ['voice', 'no_voice', 'voice']
    >>> [clip_spec("source", i)[0] for i in range(3)]
    ['voice', 'music', 'noise']
    """
    labels = TASKS[task]
    label = labels[index % len(labels)]
    if task == "voice":
        return label, label == "voice", "mix"
    if label == "voice":
        return label, True, None
    return label, False, label


def is_int(value) -> bool:
    """Whether ``value`` is an integer (``3`` or ``3.0``, not ``True`` nor ``3.5``).

    Arguments
    ---------
    value : object
        Any value.

    Returns
    -------
    bool

    Example
    -------
    >>> is_int(3), is_int(3.0), is_int(True), is_int(3.5), is_int("x")
    (True, True, False, False, False)
    """
    try:
        return not isinstance(value, bool) and int(value) == value
    except (TypeError, ValueError, OverflowError):
        return False


def check_audio_args(sample_rate, duration):
    """Validated audio settings of a clip, with errors that say what to pass.

    Arguments
    ---------
    sample_rate : int
        Sample rate in Hz (an integer >= ``MIN_SAMPLE_RATE``).
    duration : float
        Clip duration in seconds (>= ``MIN_DURATION``).

    Returns
    -------
    tuple
        ``(sample_rate, duration)`` as ``(int, float)``.

    Example
    -------
    >>> check_audio_args(16000.0, 2)
    (16000, 2.0)
    """
    try:
        duration = float(duration)
    except (TypeError, ValueError):
        raise ValueError(f"duration must be a number of seconds, got {duration!r}.") from None
    if not np.isfinite(duration) or duration < MIN_DURATION:
        raise ValueError(
            f"duration must be at least {MIN_DURATION} s, got {duration!r}; "
            "pass e.g. duration=2.0."
        )
    if not is_int(sample_rate) or sample_rate < MIN_SAMPLE_RATE:
        raise ValueError(
            f"sample_rate must be an integer >= {MIN_SAMPLE_RATE} Hz, got {sample_rate!r}; "
            "pass e.g. 16000."
        )
    return int(sample_rate), duration
