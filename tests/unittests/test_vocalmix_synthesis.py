"""Tests for the VocalMix synthesis (speechbrain_xai.data.vocalmix_synthesis)."""

import numpy as np
import pytest

from speechbrain_xai.data import vocalmix_synthesis
from speechbrain_xai.data.vocalmix_synthesis import (
    clip_rng,
    clip_spec,
    synthesize_clip,
    voice_activity,
)

SR = 16000
ARRAYS = ("mixture", "voice", "background", "voice_f0")


# --------------------------------------------------------------------------
# synthesize_clip
# --------------------------------------------------------------------------
def test_same_seed_same_clip():
    for voice in (True, False):
        a = synthesize_clip(np.random.default_rng(5), voice=voice)
        b = synthesize_clip(np.random.default_rng(5), voice=voice)
        for key in ARRAYS:
            assert np.array_equal(a[key], b[key]), key
        assert a["voice_start"] == b["voice_start"]
        assert a["background_families"] == b["background_families"]
    c = synthesize_clip(np.random.default_rng(6), voice=True)
    assert not np.array_equal(a["mixture"], c["mixture"])


@pytest.mark.parametrize("background", ["mix", "music", "noise"])
@pytest.mark.parametrize("voice", [True, False])
def test_mixture_is_sum_of_stems(voice, background):
    for seed in range(3):
        rng = np.random.default_rng(seed)
        clip = synthesize_clip(rng, duration=1.0, voice=voice, background=background)
        n = SR
        for key in ARRAYS:
            assert clip[key].shape == (n,) and clip[key].dtype == np.float32
            assert np.isfinite(clip[key]).all()
        assert np.array_equal(clip["mixture"], clip["voice"] + clip["background"])
        assert np.abs(clip["mixture"]).max() <= 0.95
        assert -40.0 < clip["level_db"] < -15.0
        assert np.sqrt(np.mean(clip["background"].astype(np.float64) ** 2)) > 0
        families = set(clip["background_families"])
        if background == "music":
            assert families <= set(vocalmix_synthesis.INSTRUMENT_FAMILIES)
        if background == "noise":
            assert families <= set(vocalmix_synthesis.NOISE_FAMILIES)


def test_voice_stem_confined_to_its_interval():
    for seed in range(8):
        clip = synthesize_clip(np.random.default_rng(seed), voice=True)
        start, end = round(clip["voice_start"] * SR), round(clip["voice_end"] * SR)
        v = clip["voice"].astype(np.float64)
        assert 0 <= start < end <= len(v)
        assert 0.3 - 1e-3 <= (end - start) / len(v) <= 0.8 + 1e-3
        assert not v[:start].any() and not v[end:].any()
        inside = v[start:end]
        # energy throughout the interval, not only somewhere in it
        for quarter in np.array_split(inside[int(0.1 * SR): -int(0.1 * SR) or None], 4):
            assert np.sqrt(np.mean(quarter**2)) > 1e-4
        # the SNR reported is the one in the mixture, over the voice interval
        b = clip["background"][start:end].astype(np.float64)
        snr = 10 * np.log10(np.mean(inside**2) / np.mean(b**2))
        assert abs(snr - clip["snr_db"]) < 0.01
        low, high = vocalmix_synthesis.DEFAULT_SNR_DB_RANGE
        assert low - 1e-6 <= clip["snr_db"] <= high + 1e-6
        n = np.arange(len(v))
        assert ((clip["voice_f0"] > 0) == ((n >= start) & (n < end))).all()
        # frame annotation follows the interval
        act = voice_activity(clip["voice_start"], clip["voice_end"], 200, 2.0)
        assert act.sum() == pytest.approx((end - start) / SR * 100, abs=1)


def test_no_voice_clip_has_silent_voice_stem():
    clip = synthesize_clip(np.random.default_rng(0), voice=False)
    assert not clip["voice"].any() and not clip["voice_f0"].any()
    assert clip["voice_start"] == clip["voice_end"] == 0.0
    assert np.isnan(clip["snr_db"]) and clip["voice_info"] == {}
    assert np.array_equal(clip["mixture"], clip["background"])


def _acf_f0(frame, fmin=90.0, fmax=500.0):
    frame = frame - frame.mean()
    ac = np.correlate(frame, frame, "full")[len(frame) - 1:]
    ac = ac / ac[0]
    lo, hi = int(SR / fmax), int(SR / fmin)
    lag = lo + int(np.argmax(ac[lo:hi]))
    return SR / lag, ac[lag]


def test_voice_is_harmonic_and_follows_its_f0():
    clip = synthesize_clip(np.random.default_rng(3), voice=True)
    start, end = round(clip["voice_start"] * SR), round(clip["voice_end"] * SR)
    peaks, errors = [], []
    for pos in range(start + 1600, end - 2400, 800):
        f0, peak = _acf_f0(clip["voice"][pos:pos + 640].astype(np.float64))
        peaks.append(peak)
        errors.append(abs(1200 * np.log2(f0 / clip["voice_f0"][pos + 320])))
    assert np.median(peaks) > 0.6  # strong periodicity at 1/f0
    assert np.median(errors) < 30  # cents


def test_bad_clip_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="duration"):
        synthesize_clip(rng, duration=0.2)
    with pytest.raises(ValueError, match="sample_rate"):
        synthesize_clip(rng, sample_rate=4000)
    with pytest.raises(ValueError, match="background"):
        synthesize_clip(rng, background="choir")
    with pytest.raises(ValueError, match="snr_db_range"):
        synthesize_clip(rng, snr_db_range=(10, -5))


def test_clip_rng_and_spec():
    assert clip_rng(1, "train", 0).random() == clip_rng(1, "train", 0).random()
    assert clip_rng(1, "train", 0).random() != clip_rng(1, "train", 1).random()
    assert clip_rng(1, "train", 0).random() != clip_rng(1, "test", 0).random()
    assert clip_rng(1, "train", 0).random() != clip_rng(2, "train", 0).random()
    assert [clip_spec("voice", i)[:2] for i in range(2)] == [("voice", True), ("no_voice", False)]
    assert [clip_spec("source", i) for i in range(1, 3)] == [
        ("music", False, "music"),
        ("noise", False, "noise"),
    ]


# --------------------------------------------------------------------------
# the label must not be given away by loudness or one frequency band
# --------------------------------------------------------------------------
def _best_threshold_accuracy(feature, labels):
    order = np.argsort(feature, kind="stable")
    y = labels[order]
    neg_below = np.concatenate([[0], np.cumsum(1 - y)])
    pos_above = y.sum() - np.concatenate([[0], np.cumsum(y)])
    acc = (neg_below + pos_above) / len(y)
    return float(max(acc.max(), 1.0 - acc.min()))


def test_not_trivially_separable():
    num = 200
    labels = np.array([i % 2 == 0 for i in range(num)], dtype=int)
    mixes = np.stack(
        [
            synthesize_clip(clip_rng(2024, "train", i), voice=bool(labels[i]))["mixture"]
            for i in range(num)
        ]
    ).astype(np.float64)

    features = {
        "rms": np.log(np.sqrt(np.mean(mixes**2, axis=1))),
        "peak": np.log(np.abs(mixes).max(axis=1)),
    }
    n_fft, hop = 512, 256
    frames = np.lib.stride_tricks.sliding_window_view(mixes, n_fft, axis=1)[:, ::hop]
    frames = frames * np.hanning(n_fft)
    power = (np.abs(np.fft.rfft(frames, axis=-1)) ** 2).sum(axis=1)  # [clips, bins]
    freqs = np.fft.rfftfreq(n_fft, 1.0 / SR)
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    edges = {
        "linear": np.linspace(0, SR / 2, 17),
        "mel": 700 * (10 ** (np.linspace(0, mel(SR / 2), 17) / 2595) - 1),
    }
    total = power.sum(axis=1)
    for scale, e in edges.items():
        for b in range(16):
            band = power[:, (freqs >= e[b]) & (freqs <= e[b + 1])].sum(axis=1) + 1e-20
            features[f"{scale}{b}"] = np.log(band)
            features[f"{scale}{b}_relative"] = np.log(band / total)
    accuracies = {name: _best_threshold_accuracy(f, labels) for name, f in features.items()}
    worst = max(accuracies, key=accuracies.get)
    assert accuracies[worst] < 0.75, (worst, accuracies[worst])
