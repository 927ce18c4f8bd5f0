"""VocalMix voice checks and the voice-focus cut: frame times from the classifier's own hop."""

import csv

import pytest
import soundfile as sf
import torch

from speechbrain_xai.data.datasets import vocalmix_clip_datasets, vocalmix_excerpt_datasets
from speechbrain_xai.data.excerpts import excerpts_from_features, samples_for_frames
from speechbrain_xai.data.voice_probes import vibrato_features, voice_labels


def cnn14_style_adapter(n_mels=16):
    """An untrained classifier with CNN14's front-end on ESC-50: STFT with an
    11.61 ms hop (186 samples at 16 kHz) + dB mel filterbank (AudioClassifier layout)."""
    from speechbrain.processing.features import STFT, Filterbank

    from speechbrain_xai.adapter import ClassifierAdapter
    from speechbrain_xai.frontends import SpectrogramPipeline
    from speechbrain_xai.lobes.classifiers import ClassifierHead, SmallCNN

    torch.manual_seed(0)
    pipeline = SpectrogramPipeline(
        STFT(sample_rate=16000, n_fft=1024, hop_length=11.6099, win_length=23.2199),
        SmallCNN(n_mels=n_mels, channels=(4,), emb_dim=8), ClassifierHead(8, 2),
        compute_fbank=Filterbank(n_mels=n_mels, n_fft=1024, sample_rate=16000),
    )
    return ClassifierAdapter(pipeline, 16000, ["no_voice", "voice"])


@pytest.mark.parametrize("hop_seconds", [0.01, 186 / 16000])  # Fbank's 10 ms; CNN14's 11.61 ms
def test_vibrato_features_see_a_wobbling_partial_not_a_steady_one(hop_seconds):
    t = torch.arange(64) * hop_seconds  # 64 frames on the classifier's clock
    bands = torch.arange(32.0)
    floor = torch.randn(3, 64, 32, generator=torch.Generator().manual_seed(0)) * 0.1

    def partial(centre):  # a bright line across the bands, centre [64] (band units)
        return 6 * torch.exp(-0.5 * (bands[None] - centre[:, None]) ** 2)

    steady = floor[0] + partial(torch.full((64,), 12.0))
    wobbling = floor[1] + partial(12 + 1.5 * torch.sin(2 * torch.pi * 5.5 * t))  # 5.5 Hz vibrato
    slow = floor[2] + partial(12 + 1.5 * torch.sin(2 * torch.pi * 1.0 * t))  # a 1 Hz glide
    feats = vibrato_features(torch.stack([steady, wobbling, slow]), hop_seconds=hop_seconds)
    assert feats.shape == (3, 32 + 31)  # per band share + per neighbour pair correlation
    share = feats[:, 9:16].mean(1)  # bands around the partial
    assert share[1] > 0.5 and share[1] > 3 * share[0] and share[1] > 3 * share[2]


def test_voice_labels_use_the_hop_in_seconds(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("ID,label,voice_start,voice_end\nv,voice,0.5,1.5\nn,no_voice,0.0,0.0\n")
    starts = torch.tensor([50, 10, 0])  # frames
    # 64 frames of 11.61 ms = 0.74 s: frame 50 -> 0.58-1.33 s, inside; frame 10 -> from 0.12 s, mixed
    labels = voice_labels(str(manifest), ["v", "v", "n"], starts, 64, 186 / 16000)
    assert labels.tolist() == [1, -1, 0]
    # frame 80 at 11.61 ms ends at 1.67 s, past the voice; at 10 ms it would end at 1.44 s, inside
    assert voice_labels(str(manifest), ["v"], torch.tensor([80]), 64, 186 / 16000).tolist() == [-1]
    assert voice_labels(str(manifest), ["v"], torch.tensor([80]), 64, 0.01).tolist() == [1]


def test_voice_focus_cut_holds_an_excerpt_at_a_186_sample_hop(tmp_path):
    """CNN14-style front-end (hop 186 samples at 16 kHz): a voice clip whose
    voice interval is shorter than an excerpt is widened to hold one
    (``excerpt_frames`` = 64 feature frames); a 10 ms clock (10,400 samples)
    would give only 56."""
    adapter = cnn14_style_adapter()
    assert adapter.feature_hop_length == 186
    rate, frames = 16000, 64
    g = torch.Generator().manual_seed(0)
    rows = [("short", "voice", 0.9, 1.0), ("edge", "voice", 0.0, 0.05), ("none", "no_voice", "", "")]
    for name, *_ in rows:
        sf.write(tmp_path / f"{name}.wav", (0.1 * torch.randn(2 * rate, generator=g)).numpy(), rate)
    with open(tmp_path / "m.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["ID", "wav", "label", "voice_start", "voice_end"])
        writer.writerows([(name, f"$data_root/{name}.wav", *rest) for name, *rest in rows])
    hparams = {"classifier": adapter, "data_folder": str(tmp_path), "sample_rate": rate,
               "excerpt_frames": frames, "voice_focus": True}
    data = vocalmix_excerpt_datasets(hparams, {"train": str(tmp_path / "m.csv")}, splits=["train"])["train"]
    assert samples_for_frames(adapter, frames + 1, rate) == 65 * 186
    lengths = []
    for i in range(3):
        sig = data[i]["sig"]
        lengths.append(len(sig))
        feats = adapter.features(sig[None])
        assert feats.shape[1] >= frames  # the cut holds a whole excerpt
        excerpts_from_features(feats, torch.ones(1), frames)  # no "fewer than excerpt_frames" error
    assert lengths == [65 * 186, 65 * 186, 2 * rate]  # voice clips cut, the no-voice clip whole
    assert adapter.features(torch.zeros(1, 10400)).shape[1] < frames  # what a 10 ms clock would give
    # without voice focus every clip stays whole
    plain = vocalmix_clip_datasets({"train": str(tmp_path / "m.csv")}, str(tmp_path), rate)["train"]
    assert [len(plain[i]["sig"]) for i in range(3)] == [2 * rate] * 3
