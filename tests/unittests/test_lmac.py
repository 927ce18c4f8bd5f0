import math

import pytest
import torch

from speechbrain_xai.contamination import contaminate, scale_to_snr, speech_like_noise
from speechbrain_xai.explainers.lmac import (contamination_loss, decode_masks, guided_loss, lmac_loss,
                                             total_variation)
from speechbrain_xai.lobes.decoders import MaskDecoder

LAYERS = ["embedding_model.blocks.0", "embedding_model.blocks.1"]


def test_decode_masks_on_the_adapter_grid(tiny_adapter):
    torch.manual_seed(0)
    wavs, lens = tiny_adapter.prepare(torch.randn(2, 8000))
    dec = MaskDecoder([4, 8], n_freq=tiny_adapter.stft_config.n_freq, hidden=4)
    mask, logits, spec = decode_masks(tiny_adapter, dec, LAYERS, wavs, lens)
    assert mask.shape == spec.shape and logits.shape == (2, 3)
    # batched equals unbatched (the decoder is in eval mode)
    dec.eval()
    mask, _, _ = decode_masks(tiny_adapter, dec, LAYERS, wavs, lens)
    one, _, _ = decode_masks(tiny_adapter, dec, LAYERS, wavs[1:], lens[1:])
    assert torch.allclose(mask[1:], one, atol=1e-5)


def test_loss_terms_are_batch_size_independent():
    torch.manual_seed(0)
    logits_in, logits_out = torch.randn(4, 3), torch.randn(4, 3)
    target, mask = torch.tensor([0, 1, 2, 0]), torch.rand(4, 6, 5)
    full = lmac_loss(logits_in, logits_out, target, mask, tv=0.5)
    doubled = lmac_loss(logits_in.repeat(2, 1), logits_out.repeat(2, 1), target.repeat(2),
                        mask.repeat(2, 1, 1), tv=0.5)
    for key in ("loss", "in", "out", "l1", "tv"):
        assert torch.allclose(full[key], doubled[key], atol=1e-6), key
    assert float(full["l1"]) == pytest.approx(float(mask.mean()), rel=1e-5)


def test_frame_sparsity_prefers_a_mask_gathered_in_time():
    z, target = torch.zeros(1, 2), torch.tensor([0])
    spread = torch.zeros(1, 8, 10)
    spread[:, :, :2] = 1.0  # two bins in every frame
    gathered = torch.zeros(1, 8, 10)
    gathered[:, :2, :8] = 1.0  # the same mass in two frames
    a, b = (lmac_loss(z, z, target, m, frames=1.0) for m in (spread, gathered))
    assert float(a["l1"]) == pytest.approx(float(b["l1"]))  # the plain l1 cannot tell them apart
    assert float(a["frames"]) > float(b["frames"]) and float(a["loss"]) > float(b["loss"])
    plain = lmac_loss(z, z, target, spread)
    assert "frames" not in plain and float(plain["loss"]) < float(a["loss"])
    mask = torch.zeros(1, 8, 10, requires_grad=True)  # all zero: the gradient stays finite
    lmac_loss(z, z, target, mask, frames=1.0)["loss"].backward()
    assert torch.isfinite(mask.grad).all()


def test_in_margin_stops_rewarding_certainty_beyond_it():
    target, mask = torch.tensor([0, 0]), torch.ones(2, 3, 4)
    sure, unsure = torch.tensor([[3.0, 0.0]]), torch.tensor([[0.0, 0.0]])  # p = 0.95, 0.5
    logits = torch.cat([sure, unsure])
    plain = lmac_loss(logits, logits, target, mask)["in"]
    hinge = lmac_loss(logits, logits, target, mask, in_margin=0.9)["in"]
    # p = 0.95 >= 0.9 costs nothing; p = 0.5 costs -log(0.5) + log(0.9)
    assert float(hinge) == pytest.approx((math.log(2) + math.log(0.9)) / 2, rel=1e-5)
    assert float(plain) > float(hinge) > 0
    with pytest.raises(ValueError, match="in_margin"):
        lmac_loss(logits, logits, target, mask, in_margin=1.0)


def test_out_terms_push_the_masked_out_decision_away():
    target = torch.tensor([0])
    kept, gone = torch.tensor([[4.0, 0.0]]), torch.tensor([[-4.0, 0.0]])
    mask = torch.ones(1, 2, 2)
    for kind in ("neg_ce", "complement"):
        assert lmac_loss(kept, gone, target, mask, out_loss=kind)["out"] < \
            lmac_loss(kept, kept, target, mask, out_loss=kind)["out"]
    with pytest.raises(ValueError, match="out_loss"):
        lmac_loss(kept, kept, target, mask, out_loss="other")


def test_total_variation_zero_for_constant_masks():
    assert float(total_variation(torch.full((2, 5, 4), 0.3)).abs().max()) == 0.0


def test_guided_loss_selects_only_correlated_examples():
    torch.manual_seed(0)
    clean = torch.rand(2, 10, 8)
    mix = clean + 0.01
    mask = torch.stack([torch.ones(10, 8), torch.rand(10, 8)])  # 2nd: noise, uncorrelated
    loss, selected = guided_loss(mask, mix, clean, corr_threshold=0.9)
    assert selected.tolist() == [True, False] and float(loss) > 0
    none, sel = guided_loss(torch.rand(2, 10, 8), mix, clean, corr_threshold=0.999)
    assert not sel.any() and float(none) == 0.0


def test_contamination_loss_only_pushes_the_mask_off_contaminated_bins():
    torch.manual_seed(0)
    clean = torch.randn(3, 10, 8, dtype=torch.complex64)
    noise = torch.zeros_like(clean)
    noise[0, :5] = 10.0  # example 0: its first five frames are the contamination's
    mix = clean + noise
    mask = torch.rand(3, 10, 8, requires_grad=True)
    loss, selected = contamination_loss(mask, mix, clean)
    assert selected.tolist() == [True, False, False]
    loss.backward()
    # a gradient only on the contaminated bins, pushing the mask down there
    assert float(mask.grad[0, :5].min()) > 0 and float(mask.grad[0, 5:].abs().max()) == 0.0
    assert float(mask.grad[1:].abs().max()) == 0.0
    # a mask already off the contamination costs (almost) nothing
    off = torch.ones(3, 10, 8)
    off[0, :5] = 0.0
    assert float(contamination_loss(off, mix, clean)[0]) < 1e-5
    none, sel = contamination_loss(mask, clean, clean)
    assert not sel.any() and float(none) == 0.0


def test_unknown_guided_target_is_refused_with_the_choices():
    from speechbrain_xai.brains.lmac import LMACBrain

    assert LMACBrain.guided_target({}) == "clean"
    assert LMACBrain.guided_target({"guided_target": "not_contamination"}) == "not_contamination"
    with pytest.raises(ValueError, match="not_contamination"):
        LMACBrain.guided_target({"guided_target": "voice"})


@pytest.mark.parametrize("kind", ["mix", "white", "speech_like"])
def test_contamination_hits_the_snr(kind):
    gen = torch.Generator().manual_seed(0)
    clean = torch.randn(3, 4000)
    mixed, noise = contaminate(clean, kind, torch.tensor([0.0, 5.0, 10.0]), 16000, gen)
    assert torch.allclose(mixed, clean + noise)
    snr = 10 * torch.log10(clean.pow(2).mean(1) / noise.pow(2).mean(1))
    assert torch.allclose(snr, torch.tensor([0.0, 5.0, 10.0]), atol=1e-3)
    with pytest.raises(ValueError, match="contamination"):
        contaminate(clean, "rain")


def test_speech_like_noise_is_band_limited_and_modulated():
    noise = speech_like_noise(1, 32000, 16000, torch.Generator().manual_seed(0))[0]
    power = torch.fft.rfft(noise).abs().pow(2)
    freqs = torch.fft.rfftfreq(32000, 1 / 16000)
    assert power[freqs > 6000].sum() < 1e-6 * power.sum()
    frames = noise.reshape(-1, 400).pow(2).mean(1)  # 25 ms frames
    assert frames.max() > 10 * frames.min()  # syllabic on/off envelope


def test_scale_to_snr_silent_signal_gives_silent_noise():
    out = scale_to_snr(torch.zeros(1, 100), torch.randn(1, 100), 0.0)
    assert float(out.abs().max()) < 1e-3


def test_interpreter_resamples_downmixes_and_matches_batch(tiny_modules, tmp_path):
    import numpy as np
    import soundfile as sf

    from speechbrain_xai.inference.lmac import LMACInterpreter

    torch.manual_seed(0)
    modules = dict(tiny_modules, decoder=MaskDecoder([4, 8], n_freq=201, hidden=4).eval())
    interp = LMACInterpreter(modules=modules, hparams={"sample_rate": 16000, "lmac_layers": LAYERS})
    stereo = np.random.default_rng(0).standard_normal((8000, 2)).astype(np.float32) * 0.1
    sf.write(tmp_path / "clip.wav", stereo, 8000)  # 1 s at 8 kHz, two channels
    mask, masked_in, label = interp.interpret_file(str(tmp_path / "clip.wav"))
    assert masked_in.shape == (16000,) and mask.shape == (101, 201)
    assert label in {"0", "1", "2"}
    wav = interp.load_audio(str(tmp_path / "clip.wav"))
    masks, audio, labels = interp(torch.stack([wav, wav]))
    assert torch.allclose(masks[0], mask, atol=1e-5) and labels == [label, label]
    exp = interp.explain_batch(wav.unsqueeze(0))
    assert exp.method == "lmac" and torch.allclose(exp.mask[0], mask, atol=1e-5)
    assert exp.settings["layers"] == LAYERS and exp.settings["decoder"]["hidden"] == 4


def _plain_decoder(dec, maps, log_mag):
    """The decoder written plainly (modules as they are, BatchNorm unfused,
    einsum projections, torch.std_mean): the reference of the fast path."""
    import torch.nn.functional as F

    from speechbrain_xai.stft import to_grid

    def pointwise(x, conv):
        return torch.einsum("bchw,oc->bohw", x, conv.weight[:, :, 0, 0]) + conv.bias[None, :, None, None]

    maps = [pointwise(dec._as_map(r, c), p) for r, c, p in zip(maps, dec.layer_channels, dec.projections)]
    size = (max(m.shape[2] for m in maps), max(m.shape[3] for m in maps))
    x = sum(F.interpolate(m, size=size, mode="bilinear", align_corners=False) for m in maps)
    logit = pointwise(dec.fusion(x), dec.to_logit)
    logit = to_grid(logit, log_mag.shape[1], dec.freq_pos).squeeze(1)
    std, mean = torch.std_mean(log_mag, dim=(1, 2), keepdim=True)
    z = dec.refine_gain * (log_mag - mean) / std.clamp_min(1e-3) + dec.refine_bias
    return torch.sigmoid(logit + z)


@pytest.mark.parametrize("mask_mode", ["linear", "log1p"])
def test_fast_listenable_path_equals_the_plain_computation(tiny_adapter, mask_mode):
    """One forward (STFT read from the front-end), the folded decoder, one ISTFT
    with masked-out = input - masked-in: the same masks and audio as the plain
    path (separate STFT, hooked forward, plain decoder, torch.istft twice)."""
    from speechbrain_xai.explainers.lmac import LMACExplainer
    from speechbrain_xai.stft import apply_mask, stft

    torch.manual_seed(0)
    dec = MaskDecoder([4, 8], n_freq=tiny_adapter.stft_config.n_freq, hidden=4)
    with torch.no_grad():  # a trained-looking decoder: BatchNorm statistics and gains not at their init
        for bn in dec.fusion:
            if isinstance(bn, torch.nn.BatchNorm2d):
                bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2)
                bn.weight.uniform_(0.5, 1.5), bn.bias.uniform_(-0.5, 0.5)
        dec.refine_gain.uniform_(-1, 1), dec.refine_bias.uniform_(-1, 1)
    explainer = LMACExplainer(tiny_adapter, dec, LAYERS, mask_mode=mask_mode)
    wavs, lens = tiny_adapter.prepare(0.1 * torch.randn(3, 8000), torch.tensor([1.0, 0.6, 1.0]))
    fast = explainer.listenable(wavs, lens)

    cfg = tiny_adapter.stft_config
    spec = stft(wavs, cfg)
    with torch.no_grad(), tiny_adapter.capture(LAYERS) as reps:
        logits = tiny_adapter(wavs, lens)
    dec.eval()
    with torch.no_grad():
        mask = _plain_decoder(dec, [reps[n] for n in LAYERS], torch.log(spec.abs() + 1e-6))

    def plain_istft(s):
        return torch.istft(s.transpose(1, 2), cfg.n_fft, cfg.hop_length, cfg.win_length,
                           cfg.window_tensor(), cfg.center, False, True, length=wavs.shape[1])

    masked_in = plain_istft(apply_mask(spec, mask, mask_mode))
    masked_out = plain_istft(apply_mask(spec, 1 - mask, mask_mode))
    assert torch.equal(fast.logits, logits)
    assert (fast.mask - mask).abs().max() < 2e-6
    scale = wavs.abs().max()
    assert (fast.masked_in - masked_in).abs().max() < 2e-6 * scale
    assert (fast.masked_out - masked_out).abs().max() < 2e-6 * scale
    # explain(): the same masks and audio, the input forward run once
    exp = explainer.explain(wavs, lens)
    assert (exp.mask - mask).abs().max() < 2e-6
    assert (exp.masked_out - masked_out).abs().max() < 2e-6 * scale
    assert torch.allclose(exp.probs_input, logits.softmax(-1), atol=1e-6)


def test_time_gate_fades_the_frames_the_mask_barely_uses_on_both_paths(tiny_adapter):
    """time_gate multiplies the decoder's mask by its own frame profile: never
    above the plain mask, equal on its strongest frame (and, with a knee, on
    every frame at least that share of it), the same on explain() and the
    fast listenable path; bad settings are refused."""
    from speechbrain_xai.explainers.lmac import LMACExplainer

    torch.manual_seed(0)
    dec = MaskDecoder([4, 8], n_freq=tiny_adapter.stft_config.n_freq, hidden=4)
    wavs, lens = tiny_adapter.prepare(0.1 * torch.randn(2, 8000), torch.tensor([1.0, 1.0]))
    plain = LMACExplainer(tiny_adapter, dec, LAYERS).explain(wavs, lens).mask
    gated = LMACExplainer(tiny_adapter, dec, LAYERS, time_gate=2.0)
    exp = gated.explain(wavs, lens)
    assert bool((exp.mask <= plain + 1e-7).all()) and not torch.allclose(exp.mask, plain)
    profile = plain.mean(dim=2)
    for b in range(2):
        top = int(profile[b].argmax())
        assert torch.allclose(exp.mask[b, top], plain[b, top])
    assert (gated.listenable(wavs, lens).mask - exp.mask).abs().max() < 2e-6
    assert exp.settings["time_gate"] == 2.0
    knee = LMACExplainer(tiny_adapter, dec, LAYERS, time_gate=2.0, time_gate_knee=0.5).explain(wavs, lens).mask
    strong = profile >= 0.5 * profile.amax(dim=1, keepdim=True)
    assert torch.allclose(knee[strong], plain[strong]) and bool((knee >= exp.mask - 1e-7).all())
    # padding never sets the strongest frame: a clip's gate is the same alone and padded in a batch
    from speechbrain_xai.explainers.lmac import time_gated

    padded = torch.tensor([[[1.0, 1.0], [0.5, 0.5], [9.0, 9.0]]])
    gains = time_gated(padded, 1.0, valid=torch.tensor([2]))[0, :2, 0].tolist()
    assert gains == [1.0, 0.25]
    # ... and explain() passes each clip's valid frames
    from speechbrain_xai.stft import valid_frame_counts

    both = 0.1 * torch.randn(2, 8000)
    lens = torch.tensor([5000 / 8000, 1.0])
    ungated = LMACExplainer(tiny_adapter, dec, LAYERS).explain(both, lens).mask
    valid = valid_frame_counts(lens, 8000, tiny_adapter.stft_config)
    expected = time_gated(ungated, 2.0, 1.0, valid)
    assert (gated.explain(both, lens).mask - expected).abs().max() < 1e-6
    assert (gated.listenable(both, lens).mask - expected).abs().max() < 2e-6
    with pytest.raises(ValueError, match="time_gate"):
        LMACExplainer(tiny_adapter, dec, LAYERS, time_gate=-1.0)
    with pytest.raises(ValueError, match="time_gate_knee"):
        LMACExplainer(tiny_adapter, dec, LAYERS, time_gate=1.0, time_gate_knee=0.0)


def test_mask_power_lifts_the_faint_bins_before_the_time_gate_on_both_paths(tiny_adapter):
    """mask_power raises the decoder's mask to a power (below 1: more bins
    pass 0.5, the bins keep their order), on explain() and the fast
    listenable path, before the time gate; bad settings are refused."""
    from speechbrain_xai.explainers.lmac import LMACExplainer, time_gated
    from speechbrain_xai.metrics import roc_auc
    from speechbrain_xai.stft import valid_frame_counts

    torch.manual_seed(0)
    dec = MaskDecoder([4, 8], n_freq=tiny_adapter.stft_config.n_freq, hidden=4)
    wavs, lens = tiny_adapter.prepare(0.1 * torch.randn(2, 8000), torch.tensor([5000 / 8000, 1.0]))
    plain = LMACExplainer(tiny_adapter, dec, LAYERS).explain(wavs, lens).mask
    lifted = LMACExplainer(tiny_adapter, dec, LAYERS, mask_power=0.5)
    exp = lifted.explain(wavs, lens)
    assert (exp.mask - plain.sqrt()).abs().max() < 1e-6
    assert bool((exp.mask >= plain - 1e-7).all()) and int((exp.mask > 0.5).sum()) > int((plain > 0.5).sum())
    truth = (torch.rand(plain.shape, generator=torch.Generator().manual_seed(1)) < 0.3).float()
    assert torch.allclose(roc_auc(exp.mask, truth), roc_auc(plain, truth), atol=1e-4)
    assert (lifted.listenable(wavs, lens).mask - exp.mask).abs().max() < 2e-6
    assert exp.settings["mask_power"] == 0.5
    both = LMACExplainer(tiny_adapter, dec, LAYERS, mask_power=0.5, time_gate=2.0, time_gate_knee=0.5)
    valid = valid_frame_counts(lens, wavs.shape[1], tiny_adapter.stft_config)
    expected = time_gated(plain.sqrt(), 2.0, 0.5, valid)
    assert (both.explain(wavs, lens).mask - expected).abs().max() < 1e-6
    assert (both.listenable(wavs, lens).mask - expected).abs().max() < 2e-6
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="mask_power"):
            LMACExplainer(tiny_adapter, dec, LAYERS, mask_power=bad)


def test_a_per_class_decoder_explains_the_requested_class(tiny_adapter):
    """With one head per class, explain(target=c) is head c's mask, the
    default target is the decision, and the fast listenable path agrees."""
    from speechbrain_xai.explainers.lmac import LMACExplainer

    torch.manual_seed(0)
    dec = MaskDecoder([4, 8], n_freq=tiny_adapter.stft_config.n_freq, hidden=4, num_classes=3).eval()
    with torch.no_grad():
        dec.to_logit.weight.normal_(), dec.to_logit.bias.normal_()
    explainer = LMACExplainer(tiny_adapter, dec, LAYERS)
    wavs = 0.1 * torch.randn(2, 8000)
    per_class = [explainer.explain(wavs, target=torch.tensor([c, c])).mask for c in range(3)]
    assert not torch.allclose(per_class[0], per_class[1])
    chosen = explainer.explain(wavs, target=torch.tensor([2, 1])).mask
    assert torch.allclose(chosen[0], per_class[2][0]) and torch.allclose(chosen[1], per_class[1][1])
    decided = explainer.explain(wavs)
    for i, c in enumerate(decided.target.tolist()):
        assert torch.allclose(decided.mask[i], per_class[c][i])
    fast = explainer.listenable(wavs)
    assert torch.allclose(fast.mask, decided.mask, atol=1e-6)


def test_lmac_brain_refuses_a_decoder_with_another_head_count_than_the_classifier(tiny_adapter):
    """One mask head per class must match the classifier's classes; a one-head
    decoder (the paper's) fits any classifier."""
    from speechbrain_xai.brains.lmac import LMACBrain

    n_freq = tiny_adapter.stft_config.n_freq
    hparams = dict.fromkeys(LMACBrain.hparams_required)  # only their presence is checked here

    def brain(num_classes):
        dec = MaskDecoder([4, 8], n_freq=n_freq, hidden=4, num_classes=num_classes)
        return LMACBrain(modules={"decoder": dec}, hparams=hparams, adapter=tiny_adapter,
                         run_opts={"device": "cpu"})

    with pytest.raises(ValueError, match=r"one head for each of 2 classes but the classifier has 3; "
                                         r"set the decoder's num_classes to 3"):
        brain(2)
    assert brain(3).modules.decoder.num_classes == 3
    assert brain(None).modules.decoder.num_classes is None
