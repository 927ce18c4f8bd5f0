"""Captum's attribution methods in the package's mask convention, through one bridge.

``get_explainer("captum:<Method>", adapter, **options)`` wraps any class of
``captum.attr`` (Occlusion, FeatureAblation, ShapleyValueSampling, KernelShap,
Lime, IntegratedGradients, GradientShap, DeepLift, InputXGradient, Saliency,
GuidedBackprop, LayerGradCam, LayerConductance, ...) instead of one wrapper
each. The inputs Captum attributes are the STFT magnitude ``|X|`` (phase
held fixed), as for the package's own gradient baselines; the model is
:meth:`ClassifierAdapter.spectrum_logits`. The attribution is made a mask:
its positive part (``sign="positive"``: evidence for the target), its absolute
value (``"abs"``) or its negative part (``"negative"``), divided by each
example's maximum.

Arguments the Captum method needs are filled in from the package's own
notions, unless given in ``attribute_options``:

* ``feature_mask`` (perturbation methods): the time x mel-band component grid
  of the genetic explainer (``n_time`` x ``n_bands``), so a method perturbs
  whole components instead of 20,000 single bins;
* ``sliding_window_shapes`` and ``strides`` (Occlusion): one grid cell;
* ``baselines``: the silent spectrum (zeros), where a method requires one;
* ``perturbations_per_eval``: ``chunk_size``.

Layer methods (``Layer*``, ``GuidedGradCam``) take ``layer=`` (a name from
``adapter.layer_names()``; default: the last layer with a 2-D map); their
``[B, C, T', F']`` attribution is summed over channels and resampled to the
STFT grid (mel-aware on the frequency axis, as the L-MAC decoder does).
:class:`GradCAM` is this bridge with ``LayerGradCam``.

Needs the optional ``captum`` package (``pip install captum``).

Example
-------
>>> import torch
>>> from speechbrain_xai.adapter import ClassifierAdapter
>>> adapter = ClassifierAdapter.from_module(torch.nn.Linear(4000, 2), sample_rate=16000)
>>> occlusion = CaptumExplainer(adapter, "Occlusion", n_time=4, n_bands=2)
>>> occlusion.attribute(torch.randn(1, 4000)).shape
torch.Size([1, 26, 201])
"""

from __future__ import annotations

import inspect
import math
from typing import Dict, Optional

import torch

from speechbrain_xai.components import batch_component_maps
from speechbrain_xai.explainers.base import Attribution, Explainer, normalize_by_max, register_explainer
from speechbrain_xai.frontends import frequency_positions
from speechbrain_xai.stft import to_grid

SIGNS = ("positive", "abs", "negative")
_MODEL_METHODS = ("DeepLift", "DeepLiftShap", "GuidedBackprop", "Deconvolution", "GuidedGradCam",
                  "LRP")  # constructed from an nn.Module, not a function
_UNSUPPORTED = {"NoiseTunnel": "it wraps another method; use SmoothGrad or a method with noise",
                "FeaturePermutation": "it permutes features across the batch, not within a clip"}


def _captum_attr():
    try:
        import captum.attr
    except ImportError as err:  # optional extra
        raise ImportError("Captum methods need captum: pip install captum "
                          "(or pip install 'speechbrain_xai[captum]').") from err
    return captum.attr


class _MagnitudeModel(torch.nn.Module):
    """``(|X|, phase, wav_lens, length) -> logits``: the classifier seen from the magnitude."""

    def __init__(self, adapter, path: str):
        super().__init__()
        self.adapter, self.path = adapter, path

    def forward(self, mag, phase, wav_lens, length):
        return self.adapter.spectrum_logits(mag * phase, int(length), wav_lens, self.path)


def last_map_layer(adapter, num_samples: Optional[int] = None) -> str:
    """Name of the last layer (in forward order) whose output is a 2-D map
    ``[B, C, T', F']`` larger than one cell: Grad-CAM's default layer."""
    names, seen = dict(adapter.model.named_modules()), []
    handles = []
    for name, module in names.items():
        if not name:
            continue

        def hook(_m, _i, out, name=name):
            out = out[0] if isinstance(out, (tuple, list)) else out
            if isinstance(out, torch.Tensor) and out.dim() == 4 and out.shape[2] * out.shape[3] > 1:
                seen.append(name)
        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            n = num_samples or adapter.sample_rate
            adapter(torch.zeros(1, n, device=adapter.device))
    finally:
        for handle in handles:
            handle.remove()
    if not seen:
        raise ValueError("The classifier has no layer with a 2-D map [B, C, T', F']; give layer= "
                         "a name from adapter.layer_names().")
    return seen[-1]


class CaptumExplainer(Explainer):
    """Any ``captum.attr`` method as an :class:`Explainer` (see module docstring).

    Arguments
    ---------
    adapter : ClassifierAdapter
        The explained classifier.
    method : str
        The class name in ``captum.attr`` (e.g. ``"Occlusion"``).
    layer : str, optional
        For layer methods: a name from ``adapter.layer_names()`` (default:
        :func:`last_map_layer`).
    sign : str
        ``"positive"``, ``"abs"`` or ``"negative"`` part of the attribution.
    n_time, n_bands : int
        The component grid of perturbation methods (``feature_mask``, Occlusion windows).
    freq_scale, f_min, f_max : str, float, float
        Frequency axis of a layer's maps (:func:`speechbrain_xai.frontends.frequency_positions`).
    method_options : dict, optional
        Passed to the Captum class (e.g. ``{"multiply_by_inputs": False}``).
    attribute_options : dict, optional
        Passed to its ``attribute`` (e.g. ``{"n_samples": 50}``); they win over
        the filled-in arguments.
    chunk_size : int
        ``perturbations_per_eval`` of perturbation methods.
    path : str
        ``"auto"``, ``"features"`` or ``"istft"`` (:meth:`ClassifierAdapter.spectrum_logits`).
    seed : int
        Seeds torch's generator during each call (sampling methods are
        reproducible; the global random state is left as it was).
    """

    batch_invariant = False  # sampling methods draw for the whole batch

    def __init__(self, adapter, method: str = "Occlusion", layer: Optional[str] = None,
                 sign: str = "positive", n_time: int = 8, n_bands: int = 4,
                 freq_scale: str = "mel", f_min: float = 0.0, f_max: Optional[float] = None,
                 method_options: Optional[Dict] = None, attribute_options: Optional[Dict] = None,
                 chunk_size: int = 64, path: str = "auto", seed: int = 0):
        super().__init__(adapter)
        attr = _captum_attr()
        if method in _UNSUPPORTED:
            raise ValueError(f"captum:{method} is not supported: {_UNSUPPORTED[method]}.")
        if method.startswith("Neuron"):
            raise ValueError(f"captum:{method} attributes one neuron, not the class: use a layer "
                             "or input method.")
        cls = getattr(attr, method, None)
        if not (isinstance(cls, type) and hasattr(cls, "attribute")):
            names = sorted(n for n in dir(attr) if isinstance(getattr(attr, n), type)
                           and hasattr(getattr(attr, n), "attribute"))
            raise ValueError(f"captum.attr has no attribution method {method!r}; e.g. {names[:12]}.")
        if sign not in SIGNS:
            raise ValueError(f"sign must be one of {SIGNS}, got {sign!r}.")
        self.method, self.sign = method, sign
        self.n_time, self.n_bands = int(n_time), int(n_bands)
        self.freq_scale, self.f_min, self.f_max = freq_scale, f_min, f_max
        self.method_options = dict(method_options or {})
        self.attribute_options = dict(attribute_options or {})
        self.chunk_size, self.path, self.seed = int(chunk_size), path, int(seed)
        self.name = f"captum:{method}"
        self._is_layer = method.startswith("Layer") or method == "GuidedGradCam"
        self.layer = layer
        if self._is_layer and self.layer is None:
            self.layer = last_map_layer(adapter)
        self.needs_gradients = method not in ("Occlusion", "FeatureAblation", "ShapleyValueSampling",
                                              "ShapleyValues", "KernelShap", "Lime")
        model = _MagnitudeModel(adapter, path)
        args = [model]
        if self._is_layer:
            modules = dict(adapter.model.named_modules())
            if self.layer not in modules:
                raise ValueError(f"Unknown layer {self.layer!r}; see adapter.layer_names(), "
                                 f"e.g. {adapter.layer_names()[:8]}.")
            args.append(modules[self.layer])
        self._captum = cls(*args, **self.method_options)
        self._accepts = set(inspect.signature(self._captum.attribute).parameters)
        self._required = {p.name for p in inspect.signature(self._captum.attribute).parameters.values()
                          if p.default is inspect.Parameter.empty and p.name not in ("self", "inputs")}

    def _filled_arguments(self, mag, wav_lens, length: int) -> Dict:
        """The Captum arguments the package fills in (see module docstring)."""
        opts: Dict = {}
        cfg = self.adapter.stft_config
        if "feature_mask" in self._accepts:
            maps, num = batch_component_maps("grid", wav_lens, length, cfg,
                                             self.n_time, self.n_bands)
            opts["feature_mask"] = torch.where(maps < 0, torch.full_like(maps, num), maps).to(mag.device)
        if "sliding_window_shapes" in self._accepts:  # one grid cell, not overlapping
            window = (math.ceil(mag.shape[1] / self.n_time), math.ceil(mag.shape[2] / self.n_bands))
            opts["sliding_window_shapes"] = opts["strides"] = window
        if "perturbations_per_eval" in self._accepts:
            opts["perturbations_per_eval"] = self.chunk_size
        if "baselines" in self._required:
            opts["baselines"] = torch.zeros_like(mag[:1])
        if "internal_batch_size" in self._accepts:
            opts["internal_batch_size"] = self.chunk_size * mag.shape[0]
        if "relu_attributions" in self._accepts:
            opts["relu_attributions"] = True
        return opts

    def compute(self, wavs, wav_lens, target, probs) -> Attribution:
        spec = self.adapter.stft(wavs)
        mag = spec.abs()
        phase = torch.polar(torch.ones_like(mag), spec.angle())
        opts = {**self._filled_arguments(mag, wav_lens, wavs.shape[1]), **self.attribute_options}
        with torch.random.fork_rng(devices=[]), torch.enable_grad():
            torch.manual_seed(self.seed)
            attr = self._captum.attribute(mag.detach().requires_grad_(self.needs_gradients),
                                          target=target,
                                          additional_forward_args=(phase, wav_lens, wavs.shape[1]),
                                          **opts)
        attr = attr[0] if isinstance(attr, tuple) else attr
        attr = attr.detach().float()
        if attr.dim() == 4:  # a layer's maps [B, C, T', F'] -> the STFT grid
            cfg = self.adapter.stft_config
            pos = frequency_positions(cfg.n_freq, cfg.sample_rate, self.freq_scale, self.f_min,
                                      self.f_max)
            attr = to_grid(attr.sum(dim=1, keepdim=True), mag.shape[1], pos).squeeze(1)
        if attr.shape != mag.shape:
            raise ValueError(f"captum:{self.method} gave attributions of shape {tuple(attr.shape)}, "
                             f"not the magnitude's {tuple(mag.shape)} nor a layer's [B, C, T', F'] map.")
        if self.sign == "abs":
            attr = attr.abs()
        elif self.sign == "negative":
            attr = (-attr).clamp_min(0.0)
        return Attribution(normalize_by_max(attr.clamp_min(0.0)))


@register_explainer("gradcam")
class GradCAM(CaptumExplainer):
    """Grad-CAM (captum's ``LayerGradCam``) on a 2-D convolutional layer.

    The layer's ``[T', F']`` map (ReLU of the gradient-weighted channel sum)
    is resampled to the STFT grid, mel-aware on the frequency axis.

    Arguments
    ---------
    adapter : ClassifierAdapter
        The explained classifier.
    layer : str, optional
        A name from ``adapter.layer_names()`` (e.g. ``embedding_model.blocks.2``);
        default: the last layer with a 2-D map.
    freq_scale, f_min, f_max : str, float, float
        Frequency axis of the layer's maps.
    path : str
        ``"auto"``, ``"features"`` or ``"istft"``.
    """

    batch_invariant = True

    def __init__(self, adapter, layer: Optional[str] = None, freq_scale: str = "mel",
                 f_min: float = 0.0, f_max: Optional[float] = None, path: str = "auto"):
        super().__init__(adapter, "LayerGradCam", layer=layer, freq_scale=freq_scale, f_min=f_min,
                         f_max=f_max, path=path)
        self.name = "gradcam"
