"""The one explainer contract: every registered method through the same checks.

After Captum's config-driven tests: one list of {method, options} generates the
shape / range / target / determinism / batching / bad-input tests for every
method, and a test makes sure the list covers the whole registry.
"""

import json
import math

import pytest
import torch

from speechbrain_xai.adapter import ClassifierAdapter
from speechbrain_xai.explainers import Explainer, available_explainers, get_explainer
from speechbrain_xai.explainers.base import CAPTUM_PREFIX, explainer_class, register_explainer

LAYERS = ["embedding_model.blocks.0", "embedding_model.blocks.1"]


def lmac_options():
    from speechbrain_xai.lobes.decoders import MaskDecoder

    torch.manual_seed(0)
    return {"decoder": MaskDecoder([4, 8], n_freq=201, hidden=4), "layers": LAYERS}


# method -> options (small settings: the checks are about the contract, not quality)
CONFIGS = {
    "saliency": {},
    "integrated_gradients": {"n_steps": 3},
    "smoothgrad": {"n_samples": 2},
    "gradcam": {"layer": "embedding_model.blocks.1"},
    "random": {"seed": 1},
    "all_ones": {},
    "ga": {"n_time": 3, "n_bands": 2, "population_size": 6, "max_generations": 2,
           "max_evaluations": 16, "prune": 2},
    "lime": {"n_time": 3, "n_bands": 2, "num_samples": 30, "batch_size": 16},
    "lmac": lmac_options,
    "captum:Occlusion": {"n_time": 3, "n_bands": 2},
    "captum:FeatureAblation": {"n_time": 3, "n_bands": 2},
    "captum:ShapleyValueSampling": {"n_time": 3, "n_bands": 2, "attribute_options": {"n_samples": 2}},
    "captum:IntegratedGradients": {"attribute_options": {"n_steps": 4}},
    "captum:LayerGradCam": {"layer": "embedding_model.blocks.1"},
}


def build(name, adapter, **extra):
    options = CONFIGS[name]
    options = options() if callable(options) else dict(options)
    return get_explainer(name, adapter, **{**options, **extra})


def clips(num=2, seed=0):
    return torch.randn(num, 8000, generator=torch.Generator().manual_seed(seed)) * 0.1


def test_every_registered_method_is_checked():
    registered = [n for n in available_explainers() if not n.startswith(CAPTUM_PREFIX)]
    assert sorted(set(registered) - set(CONFIGS)) == []


@pytest.mark.parametrize("name", CONFIGS)
def test_explanation_shapes_range_settings_and_probabilities(tiny_adapter, name):
    explainer = build(name, tiny_adapter)
    assert isinstance(explainer, Explainer)
    exp = explainer.explain(clips(), torch.tensor([1.0, 0.75]))
    spec = tiny_adapter.stft(tiny_adapter.prepare(clips())[0])
    assert exp.mask.shape == spec.shape and exp.method == explainer.name
    assert float(exp.mask.min()) >= 0.0 and float(exp.mask.max()) <= 1.0
    json.dumps(exp.summary(1))  # settings and details are JSON-ready
    assert exp.settings == explainer.settings() and "fill" in exp.settings
    # the reported probabilities are those of the listenable masked audio
    again = tiny_adapter.probabilities(exp.masked_in, exp.wav_lens)
    assert torch.allclose(again, exp.probs_masked_in, atol=1e-5)
    assert exp.seconds is not None and exp.seconds > 0
    if exp.importance is not None:
        assert exp.importance.shape == exp.mask.shape


@pytest.mark.parametrize("name", CONFIGS)
def test_targets_by_index_name_or_list_agree(tiny_adapter, name):
    wavs = clips()
    by_index = build(name, tiny_adapter).attribute(wavs, target=1)
    by_name = build(name, tiny_adapter).attribute(wavs, target="b")
    by_list = build(name, tiny_adapter).explain(wavs, target=[1, 1])
    assert torch.equal(by_index, by_name) and torch.equal(by_index, by_list.mask)
    assert by_list.target.tolist() == [1, 1]


@pytest.mark.parametrize("name", CONFIGS)
def test_same_seed_same_masks_whatever_ran_before(tiny_adapter, name):
    wavs = clips()
    first = build(name, tiny_adapter).attribute(wavs)
    torch.manual_seed(1234)  # disturb the global random state
    torch.rand(10)
    build("random", tiny_adapter, seed=9).attribute(wavs)
    second = build(name, tiny_adapter).attribute(wavs)
    assert torch.equal(first, second)


@pytest.mark.parametrize("name", [n for n in CONFIGS if not n.startswith(CAPTUM_PREFIX)
                                  and explainer_class(n).batch_invariant] + ["captum:LayerGradCam"])
def test_batch_equals_one_by_one(tiny_adapter, name):
    wavs = clips(3, seed=1)
    explainer = build(name, tiny_adapter)
    batch = explainer.attribute(wavs)
    for i in range(3):
        alone = explainer.attribute(wavs[i:i + 1])
        assert torch.allclose(batch[i], alone[0], atol=1e-5), f"clip {i}"


@pytest.mark.parametrize("name", CONFIGS)
def test_bad_input_gets_a_clear_error(tiny_adapter, name):
    explainer = build(name, tiny_adapter)
    broken = clips()
    broken[0, 100] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        explainer.explain(broken)
    with pytest.raises(ValueError, match="target"):
        explainer.explain(clips(), target=7)
    with pytest.raises(ValueError, match="too short"):
        explainer.explain(torch.randn(1, 100))
    with pytest.raises(ValueError, match="Unknown class"):
        explainer.explain(clips(), target="zebra")


def test_resampling_and_channels_are_handled(tiny_adapter):
    explainer = build("saliency", tiny_adapter)
    stereo_8k = torch.randn(1, 4000, 2) * 0.1  # [B, N, channels] at 8 kHz
    exp = explainer.explain(stereo_8k, sample_rate=8000)
    assert exp.input_wav.shape == (1, 8000) and exp.sample_rate == 16000


def test_registry_errors_and_extension(tiny_adapter):
    with pytest.raises(ValueError, match="Unknown explainer"):
        get_explainer("shap-magic", tiny_adapter)
    with pytest.raises(ValueError, match="no option"):
        get_explainer("saliency", tiny_adapter, n_steps=3)
    with pytest.raises(ValueError, match="ClassifierAdapter"):
        get_explainer("saliency", torch.nn.Linear(3, 2))
    with pytest.raises(ValueError, match="trained decoder"):
        get_explainer("lmac", tiny_adapter)
    with pytest.raises(ValueError, match="captum.attr has no"):
        get_explainer("captum:Nope", tiny_adapter)
    with pytest.raises(ValueError, match="not supported"):
        get_explainer("captum:NoiseTunnel", tiny_adapter)
    assert type(get_explainer("IG", tiny_adapter)).__name__ == "IntegratedGradients"  # alias

    @register_explainer("test_half")
    class Half(Explainer):
        def compute(self, wavs, wav_lens, target, probs):
            cfg = self.adapter.stft_config
            return torch.full((wavs.shape[0], cfg.num_frames(wavs.shape[1]), cfg.n_freq), 0.5)

    assert "test_half" in available_explainers()
    exp = get_explainer("test_half", tiny_adapter).explain(clips(1))
    assert exp.method == "test_half" and float(exp.mask.mean()) == 0.5
    with pytest.raises(ValueError, match="already registered"):
        register_explainer("saliency")(Half)


def test_saliency_points_at_the_bins_the_classifier_reads():
    """A black box that only reads one STFT band: saliency must live there."""
    from speechbrain_xai.stft import STFTConfig, stft

    cfg = STFTConfig(sample_rate=8000, n_fft=64)

    class Band(torch.nn.Module):
        def forward(self, wavs):
            energy = stft(wavs, cfg).abs()[:, :, 10:12].mean((1, 2))
            return torch.stack([energy, -energy], dim=1)

    adapter = ClassifierAdapter.from_module(Band(), sample_rate=8000, stft_config=cfg)
    for name in ("saliency", "integrated_gradients", "captum:Occlusion"):
        options = {"n_time": 2, "n_bands": 8} if name.startswith(CAPTUM_PREFIX) else {}
        masks = get_explainer(name, adapter, **options).attribute(torch.randn(2, 800), target=0)
        assert float(masks[:, :, 10:12].mean()) > 3 * float(masks[:, :, 20:].mean()), name


def test_gradient_maps_are_normalised_by_their_maximum(tiny_adapter):
    wavs = clips()
    for name in ("saliency", "integrated_gradients", "smoothgrad", "gradcam"):
        peak = build(name, tiny_adapter).attribute(wavs).flatten(1).amax(1)
        assert torch.allclose(peak, torch.ones(2)), name


def test_gradcam_defaults_to_the_last_map_and_refuses_unknown_layers(tiny_adapter):
    default = get_explainer("gradcam", tiny_adapter)
    assert default.layer == "embedding_model.blocks.1"
    with pytest.raises(ValueError, match="Unknown layer"):
        get_explainer("gradcam", tiny_adapter, layer="nope")


def test_captum_signs(tiny_adapter):
    wavs = clips(1)
    pos = build("captum:IntegratedGradients", tiny_adapter, sign="positive").attribute(wavs)
    neg = build("captum:IntegratedGradients", tiny_adapter, sign="negative").attribute(wavs)
    both = build("captum:IntegratedGradients", tiny_adapter, sign="abs").attribute(wavs)
    # positive and negative evidence live in different bins; abs covers both
    assert float((pos * neg).sum()) == 0.0
    assert bool(((both > 0) == ((pos > 0) | (neg > 0))).all())


def test_lmac_from_an_exported_interpreter_checks_its_classifier(tiny_modules, tmp_path):
    from speechbrain_xai.inference.lmac import LMACInterpreter
    from speechbrain_xai.lobes.decoders import MaskDecoder

    decoder = MaskDecoder([4, 8], n_freq=201, hidden=4).eval()
    interp = LMACInterpreter(modules=dict(tiny_modules, decoder=decoder),
                             hparams={"sample_rate": 16000, "lmac_layers": LAYERS})
    other = ClassifierAdapter.from_module(torch.nn.Linear(16000, 3), sample_rate=16000)
    from speechbrain_xai.explainers.lmac import _check_same_classifier

    _check_same_classifier(interp.adapter, interp.adapter, "here")  # the same: fine
    with pytest.raises(ValueError, match="another classifier"):
        _check_same_classifier(other, interp.adapter, "here")
    assert math.isfinite(float(interp.explain_batch(clips(1)).mask.sum()))
