import pytest
import torch

from speechbrain_xai.frontends import frequency_positions
from speechbrain_xai.lobes.decoders import MaskDecoder, count_parameters, log_magnitude
from speechbrain_xai.stft import to_grid


def test_mask_shape_range_and_any_length():
    torch.manual_seed(0)
    dec = MaskDecoder([4, 8], n_freq=65, hidden=4)
    for frames in (17, 40):
        maps = [torch.randn(2, 4, frames // 2, 8), torch.randn(2, 8, frames // 4, 4)]
        mask = dec(maps, torch.randn(2, frames, 65)).detach()
        assert mask.shape == (2, frames, 65)
        assert float(mask.min()) >= 0 and float(mask.max()) <= 1


@pytest.mark.parametrize("layout", ["btc", "bct"])
def test_one_dimensional_sequences(layout):
    dec = MaskDecoder([6], n_freq=33, freq_scale="linear")
    seq = torch.randn(3, 12, 6) if layout == "btc" else torch.randn(3, 6, 12)
    assert dec([seq], torch.randn(3, 25, 33)).shape == (3, 25, 33)


def test_wrong_channels_and_grid_raise_clear_errors():
    dec = MaskDecoder([4], n_freq=33)
    with pytest.raises(ValueError, match="layer_channels"):
        dec([torch.randn(1, 5, 4, 4)], torch.randn(1, 9, 33))
    with pytest.raises(ValueError, match="STFT grid"):
        dec([torch.randn(1, 4, 4, 4)], torch.randn(1, 9, 40))
    with pytest.raises(ValueError, match="empty"):
        MaskDecoder([], n_freq=33)


def test_mel_positions_are_monotonic_and_spread_low_frequencies():
    mel = frequency_positions(201, 16000, "mel")
    lin = frequency_positions(201, 16000, "linear")
    assert torch.all(mel[1:] >= mel[:-1])
    assert float(mel[0]) == pytest.approx(-1) and float(mel[-1]) == pytest.approx(1)
    # the mel axis gives the low linear bins more room than a linear axis
    assert mel[20] > lin[20]


def test_to_grid_keeps_time_order():
    ramp = torch.arange(4.0).reshape(1, 1, 4, 1).expand(1, 1, 4, 3)
    out = to_grid(ramp, 8, torch.zeros(5))
    assert torch.all(out[0, 0, 1:, 0] >= out[0, 0, :-1, 0])


def test_decoder_is_small_and_learns_to_follow_energy():
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead
    try:
        _learn_energy()
    finally:
        torch.set_num_threads(threads)


def _learn_energy():
    assert count_parameters(MaskDecoder([4], n_freq=33, hidden=4)) < 1000
    dec = MaskDecoder([4], n_freq=33, hidden=4, num_fusion_layers=0)  # the skip path alone
    opt = torch.optim.Adam(dec.parameters(), lr=0.1)
    spec = torch.rand(4, 20, 33) + 0.01
    spec[:, :, 10:14] += 10.0  # a loud band the mask should keep
    target = (spec > 5).float()
    rep = torch.randn(4, 4, 10, 8)
    for _ in range(40):
        loss = torch.nn.functional.binary_cross_entropy(dec([rep], log_magnitude(spec)), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    mask = dec([rep], log_magnitude(spec)).detach()
    assert float(mask[:, :, 10:14].mean()) > 0.8 > 0.2 > float(mask[:, :, 20:].mean())


def test_eval_mode_folds_batchnorm_into_the_fusion_convolutions():
    from speechbrain_xai.lobes.decoders import _fused_eval

    torch.manual_seed(2)
    dec = MaskDecoder([4], n_freq=33, hidden=6)
    x = torch.randn(2, 6, 10, 8)
    dec.train()
    for _ in range(3):  # running statistics away from their init
        dec.fusion(x + torch.randn_like(x))
    dec.eval()
    with torch.no_grad():
        assert (_fused_eval(dec.fusion, x.clone()) - dec.fusion(x)).abs().max() < 1e-5
    # training mode runs the modules themselves (batch statistics, running averages updated)
    dec.train()
    before = dec.fusion[1].running_mean.clone()
    dec([torch.randn(2, 4, 10, 8)], torch.randn(2, 21, 33)).sum().backward()
    assert not torch.equal(before, dec.fusion[1].running_mean)
    assert dec.fusion[0].weight.grad is not None


def test_one_head_per_class_returns_the_target_class_mask():
    torch.manual_seed(0)
    dec = MaskDecoder([4], n_freq=33, hidden=4, num_classes=3).eval()
    with torch.no_grad():
        dec.to_logit.weight.normal_()  # heads that differ
        maps, log_mag = [torch.randn(2, 4, 6, 5)], torch.randn(2, 11, 33)
        every = [dec(maps, log_mag, torch.tensor([c, c])) for c in range(3)]
        mixed = dec(maps, log_mag, torch.tensor([2, 0]))
    assert torch.equal(mixed[0], every[2][0]) and torch.equal(mixed[1], every[0][1])
    assert not torch.allclose(every[0], every[1])
    with pytest.raises(ValueError, match="pass target"):
        dec(maps, log_mag)
    with pytest.raises(ValueError, match="outside"):
        dec(maps, log_mag, torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="3 targets for a batch of 2"):
        dec(maps, log_mag, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="positive"):
        MaskDecoder([4], n_freq=33, num_classes=0)


def test_decoder_yaml_rebuilds_the_per_class_heads():
    from hyperpyyaml import load_hyperpyyaml

    from speechbrain_xai.lobes.decoders import decoder_yaml

    rebuilt = load_hyperpyyaml(decoder_yaml(MaskDecoder([4], n_freq=33, hidden=2, num_classes=5)))
    assert rebuilt["decoder"].num_classes == 5 and rebuilt["decoder"].to_logit.out_channels == 5
    plain = load_hyperpyyaml(decoder_yaml(MaskDecoder([4], n_freq=33, hidden=2)))
    assert plain["decoder"].num_classes is None and plain["decoder"].to_logit.out_channels == 1


@pytest.mark.parametrize("num_classes", [None, 3])
def test_modulated_skip_starts_as_the_per_frequency_gain_and_can_change_over_time(num_classes):
    torch.manual_seed(0)
    maps, log_mag = [torch.randn(2, 4, 6, 5)], torch.randn(2, 11, 33)
    target = None if num_classes is None else torch.tensor([2, 0])
    plain = MaskDecoder([4], n_freq=33, hidden=4, num_classes=num_classes).eval()
    modulated = MaskDecoder([4], n_freq=33, hidden=4, num_classes=num_classes, modulated_skip=True).eval()
    modulated.load_state_dict(plain.state_dict(), strict=False)
    with torch.no_grad():
        plain.refine_gain.normal_()
        modulated.refine_gain.copy_(plain.refine_gain)
        assert torch.allclose(plain(maps, log_mag, target), modulated(maps, log_mag, target), atol=1e-6)
        # a gain map from the representations: the same log-magnitude is weighted differently
        # in different frames
        modulated.to_gain.weight.normal_()
        flat = torch.ones(2, 11, 33)  # a log-magnitude equal in every frame
        flat[:, :, ::2] = 3.0
        mask = modulated([torch.randn(2, 4, 6, 5)], flat, target)
    assert float((mask[:, 1:] - mask[:, :-1]).abs().max()) > 1e-3
    assert modulated.config["modulated_skip"] is True and "modulated_skip" not in plain.config
