import json
import os

import numpy as np
import pytest
import soundfile as sf
import torch

from speechbrain_xai.explanation import Explanation, is_saved


@pytest.fixture
def explanation(tiny_adapter):
    torch.manual_seed(0)
    wavs, lens = tiny_adapter.prepare(torch.randn(3, 8000), torch.tensor([1.0, 0.75, 0.5]))
    mask = torch.rand(tiny_adapter.stft(wavs).shape)
    return Explanation.from_mask(tiny_adapter, wavs, mask, lens, target=[0, 1, 2],
                                 method="random", settings={"seed": 0, "fn": torch.sigmoid})


def test_from_mask_fields_and_probabilities(tiny_adapter, explanation):
    assert len(explanation) == 3 and explanation.target.tolist() == [0, 1, 2]
    expected = tiny_adapter.probabilities(explanation.masked_in, explanation.wav_lens)
    assert torch.allclose(explanation.probs_masked_in, expected, atol=1e-5)
    assert torch.allclose(explanation.masked_in + explanation.masked_out, explanation.input_wav, atol=1e-4)
    metrics = explanation.metrics()
    assert set(metrics) == {"AI", "AD", "AG", "FF", "Fid-In", "SPS", "COMP"}
    assert all(v.shape == (3,) for v in metrics.values())


def test_default_target_is_prediction(tiny_adapter):
    wavs, lens = tiny_adapter.prepare(torch.randn(2, 8000))
    ex = Explanation.from_mask(tiny_adapter, wavs, torch.ones(tiny_adapter.stft(wavs).shape), lens)
    assert ex.target.tolist() == tiny_adapter.predict(wavs, lens)[1].tolist()
    # an all-ones mask keeps the decision exactly
    assert torch.allclose(ex.probs_masked_in, ex.probs_input, atol=1e-5)


def test_log1p_mode_recorded(tiny_adapter):
    wavs, lens = tiny_adapter.prepare(torch.randn(1, 8000))
    mask = torch.full(tiny_adapter.stft(wavs).shape, 0.5)
    ex = Explanation.from_mask(tiny_adapter, wavs, mask, lens, mode="log1p")
    assert ex.summary(0)["mask_mode"] == "log1p"
    assert not torch.allclose(ex.masked_in + ex.masked_out, ex.input_wav, atol=1e-3)
    with pytest.raises(ValueError, match="mask mode"):
        Explanation.from_mask(tiny_adapter, wavs, mask, lens, mode="db")


def test_indexing(explanation):
    one = explanation[1]
    assert len(one) == 1 and one.target.tolist() == [1]
    assert torch.equal(one.mask[0], explanation.mask[1])
    assert len(explanation[-1]) == 1 and explanation[-1].target.tolist() == [2]


def test_save_writes_complete_outputs(explanation, tmp_path):
    paths = explanation.save(str(tmp_path), ids=["a", "b", "c"])
    assert [os.path.basename(p) for p in paths] == ["a.json", "b.json", "c.json"]
    info = json.loads((tmp_path / "b.json").read_text())
    assert info["target"] == 1 and info["target_name"] == "b" and info["method"] == "random"
    assert info["settings"] == {"seed": 0, "fn": "sigmoid"}
    assert abs(info["prob_masked_in"] - float(explanation.probs_masked_in[1, 1])) < 1e-6
    audio, rate = sf.read(tmp_path / "b_masked_in.wav")
    assert rate == 16000 and len(audio) == 6000  # trimmed to the valid length (0.75)
    assert np.allclose(audio, explanation.masked_in[1, :6000].numpy(), atol=1e-6)
    assert np.load(tmp_path / "c_mask.npy").shape == tuple(explanation.mask.shape[1:])
    assert (tmp_path / "a.png").stat().st_size > 1000
    assert is_saved(str(tmp_path), "a") and not is_saved(str(tmp_path), "d")
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")], "temporary folders left behind"


def test_failed_save_leaves_no_partial_output(explanation, tmp_path, monkeypatch):
    import speechbrain_xai.explanation as module

    def broken_dump(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(module.json, "dump", broken_dump)
    with pytest.raises(RuntimeError):
        explanation.save(str(tmp_path), ids=["a", "b", "c"])
    assert os.listdir(tmp_path) == []


def test_save_rejects_bad_ids(explanation, tmp_path):
    with pytest.raises(ValueError, match="ids"):
        explanation.save(str(tmp_path), ids=["a"])
    with pytest.raises(ValueError, match="plain file names"):
        explanation.save(str(tmp_path), ids=["a", "../b", "c"])
