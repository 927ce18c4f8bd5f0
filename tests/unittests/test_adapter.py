import pytest
import torch

from speechbrain_xai.adapter import ClassifierAdapter


class WaveNet(torch.nn.Module):
    """A black box: energy in a few bands -> logits (takes lengths)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(1, 4, 64, stride=32)
        self.head = torch.nn.Linear(4, 2)

    def forward(self, wavs, wav_lens):
        h = self.conv(wavs.unsqueeze(1)).abs().mean(-1)
        return self.head(h)


def test_waveform_and_masked_paths_agree_for_ones_mask(tiny_adapter):
    torch.manual_seed(0)
    wavs, lens = tiny_adapter.prepare(torch.randn(2, 8000))
    direct = tiny_adapter(wavs, lens)
    spec = tiny_adapter.stft(wavs)
    ones = torch.ones(spec.shape)
    assert tiny_adapter.has_feature_path
    via_istft = tiny_adapter.masked_logits(spec, ones, 8000, lens, path="istft")
    via_feats = tiny_adapter.masked_logits(spec, ones, 8000, lens, path="features")
    assert torch.allclose(direct, via_istft, atol=1e-4)
    assert torch.allclose(direct, via_feats, atol=1e-4)
    # a real mask changes the decision scores on both paths
    half = torch.zeros(spec.shape)
    half[:, :, : spec.shape[2] // 4] = 1.0
    assert not torch.allclose(direct, tiny_adapter.masked_logits(spec, half, 8000, lens), atol=1e-3)


def test_gradients_reach_mask_but_classifier_stays_frozen(tiny_adapter):
    wavs, lens = tiny_adapter.prepare(torch.randn(2, 8000))
    spec = tiny_adapter.stft(wavs)
    mask = torch.full(spec.shape, 0.5, requires_grad=True)
    for path in ("istft", "features"):
        mask.grad = None
        tiny_adapter.masked_logits(spec, mask, 8000, lens, path=path)[:, 1].sum().backward()
        assert mask.grad is not None and mask.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in tiny_adapter.parameters())
    tiny_adapter.train()
    assert not tiny_adapter.training and not tiny_adapter.model.embedding_model.training


def test_black_box_module_answers_the_same_calls():
    torch.manual_seed(0)
    adapter = ClassifierAdapter.from_module(WaveNet(), sample_rate=16000, class_names=["x", "y"])
    assert adapter.model.takes_lengths and not adapter.has_feature_path
    wavs, lens = adapter.prepare(torch.randn(2, 4000))
    probs, pred = adapter.predict(wavs, lens)
    assert probs.shape == (2, 2) and torch.allclose(probs.sum(-1), torch.ones(2))
    spec = adapter.stft(wavs)
    logits = adapter.masked_logits(spec, torch.ones(spec.shape), 4000, lens)
    assert torch.allclose(logits, adapter(wavs, lens), atol=1e-4)
    with pytest.raises(ValueError, match="path='istft'"):
        adapter.masked_logits(spec, torch.ones(spec.shape), 4000, lens, path="features")
    with adapter.capture(["module.conv"]) as reps:
        adapter(wavs, lens)
    assert reps["module.conv"].shape[:2] == (2, 4)
    with pytest.raises(ValueError, match="layer_names"):
        with adapter.capture(["nope"]):
            pass


def test_prepare_conversions(tiny_adapter):
    one, lens = tiny_adapter.prepare(torch.randn(4000))
    assert one.shape == (1, 4000) and lens.tolist() == [1.0]
    stereo = torch.randn(2, 4000, 2)
    mono, _ = tiny_adapter.prepare(stereo)
    assert torch.allclose(mono, stereo.mean(-1))
    t = torch.arange(8000) / 8000.0
    tone = torch.sin(2 * torch.pi * 440 * t)[None]
    up, _ = tiny_adapter.prepare(tone, sample_rate=8000)
    assert up.shape == (1, 16000)
    # the 440 Hz tone stays at 440 Hz after resampling
    peak = torch.fft.rfft(up[0]).abs().argmax().item()
    assert abs(peak * 16000 / 16000 - 440) <= 1


@pytest.mark.parametrize("bad, message", [
    (torch.zeros(0, 100), "Empty"),
    (torch.full((1, 4000), float("nan")), "NaN"),
    (torch.randn(1, 1, 1, 10), "shape"),
    (torch.randn(1, 100), "too short"),
    (torch.zeros(1, 4000, dtype=torch.long), "floating"),
])
def test_prepare_rejects_bad_input(tiny_adapter, bad, message):
    with pytest.raises(ValueError, match=message):
        tiny_adapter.prepare(bad)


def test_prepare_rejects_silence_and_bad_lengths(tiny_adapter):
    with pytest.raises(ValueError, match="silent"):
        tiny_adapter.prepare(torch.zeros(2, 4000), require_signal=True)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        tiny_adapter.prepare(torch.randn(2, 4000), torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="entries"):
        tiny_adapter.prepare(torch.randn(2, 4000), torch.tensor([1.0]))


def test_resolve_targets(tiny_adapter):
    logits = torch.tensor([[0.1, 2.0, 0.0], [3.0, 0.0, 0.0]])
    assert tiny_adapter.resolve_targets(None, logits).tolist() == [1, 0]
    assert tiny_adapter.resolve_targets(2, logits).tolist() == [2, 2]
    assert tiny_adapter.resolve_targets([0, 2], logits).tolist() == [0, 2]
    assert tiny_adapter.resolve_targets("c", logits).tolist() == [2, 2]
    with pytest.raises(ValueError, match="indices"):
        tiny_adapter.resolve_targets(5, logits)
    with pytest.raises(ValueError, match="one int"):
        tiny_adapter.resolve_targets([0, 1, 2], logits)
    with pytest.raises(ValueError, match="Unknown class"):
        tiny_adapter.resolve_targets("zebra", logits)


def test_batched_equals_unbatched_for_equal_lengths(tiny_adapter):
    torch.manual_seed(3)
    wavs, lens = tiny_adapter.prepare(torch.randn(3, 6000))
    batched = tiny_adapter(wavs, lens)
    single = torch.cat([tiny_adapter(wavs[i : i + 1], lens[i : i + 1]) for i in range(3)])
    assert torch.allclose(batched, single, atol=1e-5)


def test_audio_classifier_layout_matches_speechbrain_interface(tmp_path):
    """A folder in the speechbrain/cnn14-esc50 (AudioClassifier) layout."""
    from speechbrain.inference.classifiers import AudioClassifier

    folder = tmp_path / "audio_classifier"
    folder.mkdir()
    (folder / "hyperparams.yaml").write_text(AUDIO_CLASSIFIER_YAML)
    torch.manual_seed(0)
    from speechbrain_xai.lobes.classifiers import SmallCNN

    emb = SmallCNN(n_mels=16, channels=(4, 8), emb_dim=32)
    torch.save(emb.state_dict(), folder / "embedding_model.ckpt")
    torch.save(torch.nn.Linear(32, 3).state_dict(), folder / "classifier.ckpt")
    (folder / "label_encoder.ckpt").write_text("'dog' => 0\n'rain' => 1\n'bell' => 2\n================\n'starting_index' => 0\n")
    reference = AudioClassifier.from_hparams(source=str(folder), savedir=str(tmp_path / "ref"))
    adapter = ClassifierAdapter.from_hparams(str(folder), savedir=str(tmp_path / "ad"))
    assert adapter.class_names == ["dog", "rain", "bell"] and adapter.has_feature_path
    wavs = torch.randn(2, 16000)
    expected = reference.classify_batch(wavs)[0].squeeze(1)  # (B, 1, C) there
    assert torch.allclose(adapter(wavs), expected, atol=1e-4)
    spec = adapter.stft(wavs)
    assert torch.allclose(
        adapter.masked_logits(spec, torch.ones(spec.shape), 16000, path="features"), expected, atol=1e-3
    )


AUDIO_CLASSIFIER_YAML = """
sample_rate: 16000
spec_mag_power: 0.5
use_melspectra: True
compute_stft: !new:speechbrain.processing.features.STFT
    n_fft: 1024
    hop_length: 11.6099
    win_length: 23.2199
    sample_rate: 16000
compute_fbank: !new:speechbrain.processing.features.Filterbank
    n_mels: 16
    n_fft: 1024
    sample_rate: 16000
embedding_model: !new:speechbrain_xai.lobes.classifiers.SmallCNN
    n_mels: 16
    channels: [4, 8]
    emb_dim: 32
classifier: !new:torch.nn.Linear
    in_features: 32
    out_features: 3
label_encoder: !new:speechbrain.dataio.encoder.CategoricalEncoder
modules:
    compute_stft: !ref <compute_stft>
    compute_fbank: !ref <compute_fbank>
    embedding_model: !ref <embedding_model>
    classifier: !ref <classifier>
pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        embedding_model: !ref <embedding_model>
        classifier: !ref <classifier>
        label_encoder: !ref <label_encoder>
"""


def test_feature_domain_round_trip(tiny_adapter):
    wavs, lens = tiny_adapter.prepare(torch.randn(2, 8000))
    feats = tiny_adapter.features(wavs)
    assert feats.shape[0] == 2 and feats.shape[2] == 24
    assert torch.allclose(tiny_adapter.logits_from_features(feats, lens), tiny_adapter(wavs, lens), atol=1e-5)
    black = ClassifierAdapter.from_module(WaveNet(), sample_rate=16000)
    assert not black.has_features
    with pytest.raises(ValueError, match="black box"):
        black.features(wavs)
