import pytest
import torch

from speechbrain_xai.stft import (
    STFTConfig, apply_mask, istft, masked_waveforms, stft,
)


@pytest.mark.parametrize("cfg", [
    STFTConfig(),
    STFTConfig.from_ms(16000, 1024, 23.22, 11.61, window="hann"),
    STFTConfig(sample_rate=8000, n_fft=256, hop_length=64, window="hann"),
])
def test_ones_mask_reconstructs_and_zeros_silence(cfg):
    torch.manual_seed(0)
    wavs = torch.randn(3, 5000)
    spec = stft(wavs, cfg)
    assert spec.shape == (3, cfg.num_frames(5000), cfg.n_freq)
    inside, outside = masked_waveforms(spec, torch.ones(spec.shape), cfg, 5000)
    assert torch.allclose(inside, wavs, atol=1e-4)
    assert outside.abs().max() < 1e-5


def test_linear_masks_add_back_to_input():
    torch.manual_seed(1)
    cfg = STFTConfig()
    wavs = torch.randn(2, 8000)
    spec = stft(wavs, cfg)
    mask = torch.rand(spec.shape)
    inside, outside = masked_waveforms(spec, mask, cfg, 8000)
    assert torch.allclose(inside + outside, wavs, atol=1e-4)
    assert not torch.allclose(inside, wavs, atol=1e-2)


def test_log1p_mode_matches_speechbrain_recipe_convention():
    torch.manual_seed(2)
    spec = stft(torch.randn(1, 4000), STFTConfig())
    mask = torch.rand(spec.shape)
    out = apply_mask(spec, mask, "log1p")
    assert torch.allclose(out.abs(), torch.expm1(mask * torch.log1p(spec.abs())), atol=1e-5)
    # phase is kept where the magnitude is non-zero
    keep = out.abs() > 1e-3
    unit = lambda z: z[keep] / z[keep].abs()  # noqa: E731 (angles wrap at +-pi)
    assert torch.allclose(unit(out), unit(spec), atol=1e-3)


def test_same_grid_as_speechbrain_stft():
    from speechbrain.processing.features import STFT

    sb_stft = STFT(sample_rate=16000, n_fft=1024, win_length=23.22, hop_length=11.61)
    cfg = STFTConfig.from_ms(16000, 1024, 23.22, 11.61)
    wavs = torch.randn(2, 16000)
    assert torch.allclose(sb_stft(wavs), torch.view_as_real(stft(wavs, cfg)), atol=1e-4)


def test_bad_inputs_raise():
    cfg = STFTConfig()
    spec = stft(torch.randn(1, 4000), cfg)
    with pytest.raises(ValueError, match="does not match"):
        apply_mask(spec, torch.ones(1, 3, 3))
    with pytest.raises(ValueError, match="finite"):
        apply_mask(spec, torch.full(spec.shape, float("nan")))
    with pytest.raises(ValueError, match="mode"):
        apply_mask(spec, torch.ones(spec.shape), "sqrt")
    with pytest.raises(ValueError, match=r"\[B, N\]"):
        stft(torch.randn(4000), cfg)
    with pytest.raises(ValueError, match="window"):
        STFTConfig(window="kaiser")
    with pytest.raises(ValueError, match="hop_length"):
        STFTConfig(n_fft=256, win_length=512)
    with pytest.raises(ValueError, match="complex"):
        istft(spec.abs(), cfg, 4000)
