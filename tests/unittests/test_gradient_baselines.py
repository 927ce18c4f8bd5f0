import pytest
import torch

from speechbrain_xai.explainers.gradient_baselines import (
    AllOnes, GradCAM, IntegratedGradients, RandomMask, Saliency, SmoothGrad, logits_from_magnitude,
)

EXPLAINERS = [
    Saliency(), IntegratedGradients(n_steps=3), SmoothGrad(n_samples=2),
    GradCAM("embedding_model.blocks.1"), AllOnes(), RandomMask(seed=1),
]


@pytest.mark.parametrize("explainer", EXPLAINERS, ids=lambda e: e.name)
def test_masks_on_the_grid_normalised_by_max(tiny_adapter, explainer):
    torch.manual_seed(0)
    wavs, lens = tiny_adapter.prepare(torch.randn(2, 8000))
    masks = explainer.masks(tiny_adapter, wavs, lens)
    assert masks.shape == tiny_adapter.stft(wavs).shape
    assert float(masks.min()) >= 0.0
    assert torch.allclose(masks.flatten(1).amax(1), torch.ones(2))
    assert not masks.requires_grad


def test_feature_and_istft_paths_give_the_same_logits(tiny_adapter):
    wavs, lens = tiny_adapter.prepare(torch.randn(2, 8000))
    spec = tiny_adapter.stft(wavs)
    phase = torch.polar(torch.ones_like(spec.abs()), spec.angle())
    a = logits_from_magnitude(tiny_adapter, spec.abs(), phase, 8000, lens, "features")
    b = logits_from_magnitude(tiny_adapter, spec.abs(), phase, 8000, lens, "istft")
    assert torch.allclose(a, b, atol=1e-4)


def test_saliency_points_at_the_bins_the_classifier_reads():
    """A classifier that only reads one STFT band: saliency must live there."""
    from speechbrain_xai.adapter import ClassifierAdapter
    from speechbrain_xai.stft import STFTConfig, stft

    cfg = STFTConfig(sample_rate=8000, n_fft=64)

    class Band(torch.nn.Module):
        def forward(self, wavs):
            energy = stft(wavs, cfg).abs()[:, :, 10:12].mean((1, 2))
            return torch.stack([energy, -energy], dim=1)

    adapter = ClassifierAdapter.from_module(Band(), sample_rate=8000, stft_config=cfg)
    masks = Saliency().masks(adapter, torch.randn(2, 800), target=0)
    assert float(masks[:, :, 10:12].mean()) > 0.5 > 0.01 > float(masks[:, :, 20:].mean())


def test_smoothgrad_and_random_are_reproducible(tiny_adapter):
    wavs, lens = tiny_adapter.prepare(torch.randn(1, 8000))
    for make in (lambda: SmoothGrad(n_samples=2, seed=3), lambda: RandomMask(seed=3)):
        assert torch.equal(make().masks(tiny_adapter, wavs, lens), make().masks(tiny_adapter, wavs, lens))


def test_explain_returns_an_explanation(tiny_adapter):
    exp = Saliency().explain(tiny_adapter, torch.randn(1, 8000))
    assert exp.method == "saliency" and set(exp.metrics()) >= {"AI", "AD", "FF", "Fid-In"}


def test_gradcam_unknown_layer(tiny_adapter):
    with pytest.raises(ValueError, match="Unknown layer"):
        GradCAM("nope").masks(tiny_adapter, torch.randn(1, 8000))
