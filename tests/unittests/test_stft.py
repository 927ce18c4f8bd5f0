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


@pytest.mark.parametrize("cfg", [
    STFTConfig(),
    STFTConfig.from_ms(16000, 1024, 23.22, 11.61, window="hann"),
    STFTConfig(n_fft=512, win_length=400, hop_length=160),
    STFTConfig(n_fft=400, hop_length=100, window="rect", center=False),
])
def test_istft_equals_torch_istft(cfg):
    torch.manual_seed(3)
    wavs = torch.randn(2, 5000)
    spec = stft(wavs, cfg) * torch.rand(2, cfg.num_frames(5000), cfg.n_freq)
    for length in (5000, 4990):
        ref = torch.istft(spec.transpose(1, 2), cfg.n_fft, cfg.hop_length, cfg.win_length,
                          cfg.window_tensor(), cfg.center, False, True, length=length)
        assert (istft(spec, cfg, length) - ref).abs().max() < 1e-6
    # differentiable, with torch.istft's gradient
    ours, theirs = spec.clone().requires_grad_(), spec.clone().requires_grad_()
    istft(ours, cfg, 5000).pow(2).sum().backward()
    torch.istft(theirs.transpose(1, 2), cfg.n_fft, cfg.hop_length, cfg.win_length, cfg.window_tensor(),
                cfg.center, False, True, length=5000).pow(2).sum().backward()
    assert (ours.grad - theirs.grad).abs().max() < 1e-5


def test_istft_refuses_windows_that_do_not_overlap():
    cfg = STFTConfig(n_fft=256, hop_length=256, window="hann")
    spec = stft(torch.randn(1, 2000), cfg)
    with pytest.raises(ValueError, match="NOLA"):
        istft(spec, cfg, 2000)


@pytest.mark.parametrize("mode", ["linear", "log1p"])
def test_masked_waveforms_from_the_input_equal_two_inverse_transforms(mode):
    torch.manual_seed(4)
    cfg = STFTConfig()
    wavs = torch.randn(3, 6000)
    spec = stft(wavs, cfg)
    mask = torch.rand(spec.shape)
    ref_in = istft(apply_mask(spec, mask, mode), cfg, 6000)
    ref_out = istft(apply_mask(spec, 1 - mask, mode), cfg, 6000)
    inside, outside = masked_waveforms(spec, mask, cfg, 6000, mode, wavs=wavs)
    assert (inside - ref_in).abs().max() < 1e-6 and (outside - ref_out).abs().max() < 1e-5
    with pytest.raises(ValueError, match="waveforms"):
        masked_waveforms(spec, mask, cfg, 6000, "linear", wavs=wavs[:2])
