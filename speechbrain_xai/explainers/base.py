"""The one explainer contract, and the registry that builds explainers by name.

After Captum (``captum/attr/_core/saliency.py``): an explainer is bound to the
classifier at construction and answers one call,

* :meth:`Explainer.attribute` ``(wavs, wav_lens=None, target=None) -> masks
  [B, T, F]`` in ``[0, 1]`` on ``adapter.stft_config`` (1 keeps a bin), and
* :meth:`Explainer.explain` ``(wavs, wav_lens=None, target=None) ->``
  :class:`~speechbrain_xai.explanation.Explanation`, written once here:
  prepare the audio (checks, downmix, resampling), resolve the target, attribute,
  then :meth:`Explanation.from_mask` (masked-in and masked-out audio with the
  method's fill, the three sets of probabilities, the settings).

``target`` is ``None`` (the predicted class), one int or class name, or one per
example, for every method. Every constructor option is recorded the same way
(:meth:`Explainer.settings`: the ``__init__`` arguments, read back from the
attributes of the same name), and a method with randomness draws it from its
own ``seed`` at each call, so the same seed gives the same masks whatever was
called before.

Methods are registered by name (:func:`register_explainer`) and built with
:func:`get_explainer` (YAML, recipes, the harness, the command line):

>>> import torch
>>> from speechbrain_xai.adapter import ClassifierAdapter
>>> adapter = ClassifierAdapter.from_module(torch.nn.Linear(4000, 2), sample_rate=16000)
>>> explainer = get_explainer("saliency", adapter)
>>> exp = explainer.explain(torch.randn(2, 4000))
>>> exp.method, exp.mask.shape, tuple(exp.target.shape)
('saliency', torch.Size([2, 26, 201]), (2,))
>>> "ga" in available_explainers() and "captum:<Method>" in available_explainers()
True
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Type

import torch

from speechbrain_xai.explanation import Explanation, jsonable
from speechbrain_xai.stft import FILLS


@dataclass
class Attribution:
    """What a method computes for a batch.

    Arguments
    ---------
    masks : torch.Tensor
        ``[B, T, F]`` in ``[0, 1]`` on the adapter's STFT grid.
    importance : torch.Tensor, optional
        ``[B, T, F]`` ranking of the bins for deletion / insertion curves
        (default: the masks). Component methods rank whole components.
    details : list of dict, optional
        Per-example facts of the method (e.g. the genetic explainer's genome,
        fitness and model evaluations), kept in the explanation.
    spec : torch.Tensor, optional
        The input's complex STFT ``[B, T, F]`` when the method computed it
        (``adapter.stft(wavs)``), so that :meth:`Explainer.explain` does not
        compute it again.
    """

    masks: torch.Tensor
    importance: Optional[torch.Tensor] = None
    details: Optional[List[Dict]] = None
    spec: Optional[torch.Tensor] = None


class Explainer:
    """Base of every explainer (see module docstring).

    Subclasses implement :meth:`compute` and store each ``__init__`` argument
    under the attribute of the same name (so :meth:`settings` can record it).

    Class attributes a subclass may set:

    * ``name``: the registry name (also ``Explanation.method``);
    * ``fill``: what removed bins become in the explanation's audio (default
      ``"zero"``, the package's mask convention);
    * ``mask_mode``: ``"linear"`` (default) or ``"log1p"``;
    * ``batch_invariant``: whether explaining a batch gives each clip the
      masks it gets alone (checked by the test suite where promised);
    * ``needs_gradients``: whether the classifier must be differentiable.
    """

    name = ""
    fill = "zero"
    mask_mode = "linear"
    batch_invariant = True
    needs_gradients = False

    def __init__(self, adapter):
        if not hasattr(adapter, "stft_config") or not hasattr(adapter, "prepare"):
            raise ValueError(
                f"{type(self).__name__} needs a ClassifierAdapter; wrap a waveform->logits module "
                "with ClassifierAdapter.from_module(module, sample_rate) or load one with "
                "ClassifierAdapter.from_hparams(folder)."
            )
        self.adapter = adapter

    # ------------------------------------------------------------ to implement
    def compute(self, wavs: torch.Tensor, wav_lens: torch.Tensor, target: torch.Tensor,
                probs: torch.Tensor) -> Attribution:
        """The method itself: prepared waveforms ``[B, N]`` at the adapter's
        rate, relative lengths ``[B]``, resolved targets ``[B]`` and the
        classifier's probabilities on the input ``[B, C]`` -> :class:`Attribution`."""
        raise NotImplementedError

    # ------------------------------------------------------------ the contract
    def settings(self) -> Dict:
        """The method's configuration: every ``__init__`` argument (but the
        adapter) as a JSON-ready value, plus ``fill`` and ``mask_mode``."""
        out = {}
        for cls in type(self).__mro__:
            if cls is Explainer or "__init__" not in vars(cls):
                continue
            for pname, param in inspect.signature(cls.__init__).parameters.items():
                if pname in ("self", "adapter") or param.kind in (param.VAR_POSITIONAL,
                                                                 param.VAR_KEYWORD):
                    continue
                out.setdefault(pname, jsonable(getattr(self, pname, param.default)))
        out.setdefault("fill", self.fill)
        out.setdefault("mask_mode", self.mask_mode)
        return out

    def input_probabilities(self, wavs: torch.Tensor, wav_lens: torch.Tensor) -> torch.Tensor:
        """The classifier's probabilities ``[B, C]`` on the prepared input (run
        once per call, under ``no_grad``, before :meth:`compute`). A method
        that needs more from this forward pass (hidden representations, the
        STFT) overrides it to keep them for its :meth:`compute`."""
        return self.adapter.probabilities(wavs, wav_lens)

    def _prepare(self, wavs, wav_lens, target, sample_rate):
        wavs, wav_lens = self.adapter.prepare(wavs, wav_lens, sample_rate)
        with torch.no_grad():
            probs = self.input_probabilities(wavs, wav_lens)
        return wavs, wav_lens, self.adapter.resolve_targets(target, probs), probs

    def attribute(self, wavs, wav_lens=None, target=None,
                  sample_rate: Optional[int] = None) -> torch.Tensor:
        """Masks ``[B, T, F]`` in ``[0, 1]`` for waveforms ``[N]``, ``[B, N]`` or
        ``[B, N, channels]`` (at ``sample_rate``, default the classifier's)."""
        wavs, wav_lens, target, probs = self._prepare(wavs, wav_lens, target, sample_rate)
        return self._checked(self.compute(wavs, wav_lens, target, probs), wavs).masks

    def explain(self, wavs, wav_lens=None, target=None,
                sample_rate: Optional[int] = None) -> Explanation:
        """The :class:`Explanation` of a batch (see module docstring)."""
        start = time.perf_counter()
        wavs, wav_lens, target, probs = self._prepare(wavs, wav_lens, target, sample_rate)
        result = self._checked(self.compute(wavs, wav_lens, target, probs), wavs)
        exp = Explanation.from_mask(
            self.adapter, wavs, result.masks, wav_lens, target, mode=self.mask_mode,
            method=self.name, settings=self.settings(), probs_input=probs, fill=self.fill,
            fill_seed=int(getattr(self, "seed", 0) or 0), importance=result.importance,
            details=result.details, spec=result.spec,
        )
        exp.seconds = time.perf_counter() - start
        return exp

    def __call__(self, wavs, wav_lens=None, target=None, sample_rate=None) -> Explanation:
        return self.explain(wavs, wav_lens, target, sample_rate)

    def _checked(self, result, wavs: torch.Tensor) -> Attribution:
        if isinstance(result, torch.Tensor):
            result = Attribution(result)
        spec_shape = (wavs.shape[0], self.adapter.stft_config.num_frames(wavs.shape[1]),
                      self.adapter.stft_config.n_freq)
        masks = result.masks.detach()
        if tuple(masks.shape) != spec_shape:
            raise RuntimeError(f"{type(self).__name__} returned masks of shape {tuple(masks.shape)}, "
                               f"not the STFT grid {spec_shape}.")
        result.masks = masks.clamp(0.0, 1.0)
        return result

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.settings().items())
        return f"{type(self).__name__}({opts})"


def normalize_by_max(attr: torch.Tensor) -> torch.Tensor:
    """Non-negative maps ``[B, ...]`` divided by their per-example maximum (all-zero stays zero).

    >>> normalize_by_max(torch.tensor([[2.0, 1.0], [0.0, 0.0]]))
    tensor([[1.0000, 0.5000],
            [0.0000, 0.0000]])
    """
    peak = attr.flatten(1).amax(dim=1).clamp_min(1e-12)
    return attr / peak.reshape(-1, *([1] * (attr.dim() - 1)))


def clip_generators(wavs: torch.Tensor, wav_lens: torch.Tensor, seed: int) -> List[torch.Generator]:
    """One CPU generator per clip, seeded by ``seed`` and the clip's valid
    samples: random draws differ from clip to clip but not with the batch a
    clip is in (padding is not part of the seed), nor with earlier calls.

    >>> w = torch.randn(2, 100)
    >>> a = [torch.rand(1, generator=g) for g in clip_generators(w, torch.ones(2), 0)]
    >>> b = [torch.rand(1, generator=g) for g in clip_generators(w[1:], torch.ones(1), 0)]
    >>> bool(a[1] == b[0]), bool(a[0] == a[1])
    (True, False)
    """
    out = []
    lengths = (wav_lens.detach().cpu().double() * wavs.shape[1]).round().long().tolist()
    for wav, n in zip(wavs.detach().cpu().float(), lengths):
        digest = hashlib.sha1(wav[:n].numpy().tobytes() + str(int(seed)).encode()).digest()
        out.append(torch.Generator().manual_seed(int.from_bytes(digest[:7], "little")))
    return out


def check_fill(fill: str) -> str:
    """``fill`` if it is one of :data:`speechbrain_xai.stft.FILLS`, else a clear error."""
    if fill not in FILLS:
        raise ValueError(f"Unknown fill {fill!r}; use one of {FILLS}.")
    return fill


# --------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------
_REGISTRY: Dict[str, Type[Explainer]] = {}
# the built-in methods, imported on first use (their optional extras stay unloaded)
_BUILTIN = {
    "lmac": "speechbrain_xai.explainers.lmac:LMACExplainer",
    "ga": "speechbrain_xai.explainers.genetic:GeneticExplainer",
    "lime": "speechbrain_xai.explainers.lime_baseline:LimeExplainer",
    "saliency": "speechbrain_xai.explainers.gradient_baselines:Saliency",
    "integrated_gradients": "speechbrain_xai.explainers.gradient_baselines:IntegratedGradients",
    "smoothgrad": "speechbrain_xai.explainers.gradient_baselines:SmoothGrad",
    "gradcam": "speechbrain_xai.explainers.captum_bridge:GradCAM",
    "random": "speechbrain_xai.explainers.reference:RandomMask",
    "all_ones": "speechbrain_xai.explainers.reference:AllOnes",
}
ALIASES = {"genetic": "ga", "l-mac": "lmac", "ig": "integrated_gradients", "grad-cam": "gradcam"}
CAPTUM_PREFIX = "captum:"


def register_explainer(name: str):
    """Class decorator: makes an :class:`Explainer` subclass available to
    :func:`get_explainer` under ``name`` (and sets its ``name``)."""
    def add(cls: Type[Explainer]) -> Type[Explainer]:
        if not (isinstance(cls, type) and issubclass(cls, Explainer)):
            raise TypeError(f"{cls!r} is not an Explainer subclass.")
        known = _REGISTRY.get(name)
        same = known is not None and (known.__module__, known.__qualname__) == (
            cls.__module__, cls.__qualname__)  # the same class, re-imported
        if known is not None and not same:
            raise ValueError(f"An explainer named {name!r} is already registered ({known.__name__}).")
        cls.name = name
        _REGISTRY[name] = cls
        return cls
    return add


def available_explainers() -> List[str]:
    """Registered names (built-in and user-registered), plus ``"captum:<Method>"``."""
    return sorted(set(_BUILTIN) | set(_REGISTRY)) + [f"{CAPTUM_PREFIX}<Method>"]


def explainer_class(name: str) -> Type[Explainer]:
    """The class registered under ``name`` (aliases accepted; ``"captum:<Method>"``
    gives the Captum bridge)."""
    if isinstance(name, str) and name.startswith(CAPTUM_PREFIX):
        from speechbrain_xai.explainers.captum_bridge import CaptumExplainer

        return CaptumExplainer
    key = ALIASES.get(name.lower(), name.lower()) if isinstance(name, str) else name
    if key not in _REGISTRY and key in _BUILTIN:
        module, attr = _BUILTIN[key].split(":")
        getattr(importlib.import_module(module), attr)  # registers itself on import
    if key not in _REGISTRY:
        raise ValueError(f"Unknown explainer {name!r}; available: "
                         f"{', '.join(available_explainers())}.")
    return _REGISTRY[key]


def get_explainer(name: str, adapter, **options) -> Explainer:
    """Builds the explainer registered as ``name`` on ``adapter``.

    ``"captum:<Method>"`` (e.g. ``"captum:Occlusion"``) wraps any of Captum's
    attribution classes in the package's mask convention (see
    :mod:`speechbrain_xai.explainers.captum_bridge`). Unknown options give a
    ``ValueError`` that lists the valid ones.
    """
    if isinstance(name, str) and name.startswith(CAPTUM_PREFIX):
        from speechbrain_xai.explainers.captum_bridge import CaptumExplainer

        return CaptumExplainer(adapter, method=name[len(CAPTUM_PREFIX):], **options)
    cls = explainer_class(name)
    valid = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "adapter")]
    unknown = sorted(set(options) - set(valid))
    if unknown and "kwargs" not in valid:
        raise ValueError(f"{cls.__name__} ({name}) has no option(s) {unknown}; valid: {valid}.")
    return cls(adapter, **options)
