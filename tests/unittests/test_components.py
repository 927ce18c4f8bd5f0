"""Interpretable components on the STFT grid, fills, and the batched scorer."""

import pytest
import torch

from speechbrain_xai.adapter import ClassifierAdapter
from speechbrain_xai.components import (
    PerturbationScorer,
    batch_component_maps,
    check_component_map,
    component_importance,
    component_masks,
    mel_band_of_bins,
    time_frequency_grid,
    time_segments,
)
from speechbrain_xai.stft import STFTConfig, apply_mask, fill_magnitude, istft, perturbed_spectrum

CFG = STFTConfig(sample_rate=16000)


def test_grid_covers_every_bin_with_nonempty_components():
    cmap = time_frequency_grid(101, CFG, n_time=5, n_bands=4)
    assert cmap.shape == (101, CFG.n_freq)
    counts = torch.bincount(cmap.flatten(), minlength=20)
    assert counts.numel() == 20 and bool((counts > 0).all())
    # time segment = id // n_bands grows with frames; band = id % n_bands grows with frequency
    assert bool((torch.diff(cmap[:, 0] // 4) >= 0).all())
    assert bool((torch.diff(cmap[0] % 4) >= 0).all())


def test_mel_bands_are_narrower_at_low_frequencies():
    bands = mel_band_of_bins(CFG, 6)
    widths = torch.bincount(bands)
    assert widths[0] < widths[-1]
    with pytest.raises(ValueError, match="fewer bands"):
        mel_band_of_bins(STFTConfig(n_fft=16, sample_rate=16000), 8)


def test_padding_frames_are_never_removed():
    cmap = time_frequency_grid(101, CFG, n_time=4, n_bands=2, valid_frames=60)
    assert bool((cmap[60:] == -1).all()) and bool((cmap[:60] >= 0).all())
    assert int(cmap.max()) == 7
    seg = time_segments(101, CFG, n_time=4, valid_frames=60)
    assert bool((seg[60:] == -1).all()) and seg[:60, 0].unique().tolist() == [0, 1, 2, 3]
    masks = component_masks(torch.zeros(1, 8, dtype=torch.bool), cmap)
    assert bool((masks[0, 60:] == 1).all()) and bool((masks[0, :60] == 0).all())


def test_user_map_is_validated():
    ok = torch.zeros(3, 4, dtype=torch.long)
    ok[1:] = 1
    assert check_component_map(ok, 3, 4)[1] == 2
    with pytest.raises(ValueError, match="integer"):
        check_component_map(ok.float(), 3, 4)
    with pytest.raises(ValueError, match="does not match"):
        check_component_map(ok, 4, 4)
    with pytest.raises(ValueError, match="unused"):
        check_component_map(ok * 2, 3, 4)
    with pytest.raises(ValueError, match="components='map'"):
        batch_component_maps("grid", torch.ones(1), 16000, CFG, component_map=ok)


def test_component_masks_select_the_kept_components():
    cmap = torch.tensor([[0, 0, 1], [2, 2, -1]])
    genomes = torch.tensor([[True, False, True], [False, True, False]])
    masks = component_masks(genomes, cmap)
    assert masks.tolist() == [[[1, 1, 0], [1, 1, 1]], [[0, 0, 1], [0, 0, 1]]]
    per_clip = component_masks(genomes, torch.stack([cmap, cmap]))
    assert torch.equal(per_clip, masks)


def test_fills():
    torch.manual_seed(0)
    spec = torch.randn(2, 6, 5, dtype=torch.cfloat)
    mask = (torch.rand(2, 6, 5) > 0.5).float()
    assert fill_magnitude(spec, "zero") is None
    assert torch.equal(perturbed_spectrum(spec, mask), apply_mask(spec, mask))
    mean = fill_magnitude(spec, "mean", torch.tensor([6, 3]))
    assert torch.allclose(mean[1, 0], spec[1, :3].abs().mean(0))
    out = perturbed_spectrum(spec, mask, mean)
    removed = mask == 0
    assert torch.allclose(out.abs()[removed], mean[removed], atol=1e-5)
    assert torch.allclose(torch.angle(out)[removed], torch.angle(spec)[removed], atol=1e-4)
    assert torch.equal(out[~removed], spec[~removed])
    noise = fill_magnitude(spec, "noise", seed=3)
    assert torch.equal(noise, fill_magnitude(spec, "noise", seed=3))
    assert not torch.equal(noise, fill_magnitude(spec, "noise", seed=4))
    # a clip's fill does not depend on the batch it is in
    assert torch.equal(noise[1:], fill_magnitude(spec[1:], "noise", seed=3))
    with pytest.raises(ValueError, match="Unknown fill"):
        fill_magnitude(spec, "pink")


def test_importance_ranks_components_and_puts_fixed_bins_last():
    imp = component_importance(torch.tensor([[0.5, 2.0]]), torch.tensor([[[1, 0, -1]]]))
    assert imp.tolist() == [[[2.0, 0.5, -0.5]]]


@pytest.mark.parametrize("fill", ["zero", "mean"])
def test_scorer_chunks_agree_and_count_evaluations(tiny_adapter, fill):
    torch.manual_seed(1)
    wavs = torch.randn(2, 8000) * 0.1
    lens = torch.ones(2)
    maps, k = batch_component_maps("grid", lens, 8000, tiny_adapter.stft_config, 4, 2)
    target = torch.tensor([0, 2])
    genomes = torch.rand(5, k) > 0.5
    clips = torch.tensor([0, 1, 1, 0, 1])
    big = PerturbationScorer(tiny_adapter, wavs, lens, target, maps, fill, chunk_size=64)
    small = PerturbationScorer(tiny_adapter, wavs, lens, target, maps, fill, chunk_size=2)
    p_big, p_small = big.score(clips, genomes), small.score(clips, genomes)
    assert torch.allclose(p_big, p_small, atol=1e-5)
    assert big.evaluations.tolist() == [2, 3]
    # the score is the target probability of the listenable perturbed audio
    masks = component_masks(genomes[:1], maps[0])
    wav = istft(big.perturbed(torch.tensor([0]), masks), tiny_adapter.stft_config, 8000)
    assert torch.allclose(tiny_adapter.probabilities(wav)[0, 0], p_big[0], atol=1e-5)
    # the feature path is close to the listenable path on the adapter's own grid
    feats = PerturbationScorer(tiny_adapter, wavs, lens, target, maps, fill, path="features")
    assert feats.score(clips, genomes).shape == (5,)
    # plain masks need no component map
    plain = PerturbationScorer(tiny_adapter, wavs, lens, target, fill=fill)
    assert torch.allclose(plain.score_masks(clips[:1], masks), p_big[:1], atol=1e-6)
    with pytest.raises(ValueError, match="component_maps"):
        plain.score(clips, genomes)


def test_scorer_refuses_a_missing_feature_path():
    adapter = ClassifierAdapter.from_module(torch.nn.Linear(4000, 2), sample_rate=16000)
    maps, _ = batch_component_maps("time", torch.ones(1), 4000, adapter.stft_config, n_time=4)
    with pytest.raises(ValueError, match="feature path"):
        PerturbationScorer(adapter, torch.randn(1, 4000), torch.ones(1), torch.zeros(1).long(),
                           maps, path="features")
