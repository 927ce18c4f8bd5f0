"""Explainers: one contract (:class:`Explainer`), one registry.

Every method is an :class:`Explainer` bound to a classifier adapter, with
``attribute(wavs, wav_lens=None, target=None) -> masks [B, T, F]`` and
``explain(...) -> Explanation``; :func:`get_explainer` builds any registered
method by name (``available_explainers()``), including Captum's methods as
``"captum:<Method>"``. Activation maximisation is a global method with its own
search API (:mod:`speechbrain_xai.explainers.activation_maximization`).

Names are imported lazily (see ``speechbrain_xai/__init__.py``).
"""

import importlib

_EXPORTS = {
    "Attribution": "speechbrain_xai.explainers.base",
    "Explainer": "speechbrain_xai.explainers.base",
    "available_explainers": "speechbrain_xai.explainers.base",
    "get_explainer": "speechbrain_xai.explainers.base",
    "register_explainer": "speechbrain_xai.explainers.base",
    "CaptumExplainer": "speechbrain_xai.explainers.captum_bridge",
    "GradCAM": "speechbrain_xai.explainers.captum_bridge",
    "GeneticExplainer": "speechbrain_xai.explainers.genetic",
    "LimeExplainer": "speechbrain_xai.explainers.lime_baseline",
    "LMACExplainer": "speechbrain_xai.explainers.lmac",
    "Saliency": "speechbrain_xai.explainers.gradient_baselines",
    "IntegratedGradients": "speechbrain_xai.explainers.gradient_baselines",
    "SmoothGrad": "speechbrain_xai.explainers.gradient_baselines",
    "AllOnes": "speechbrain_xai.explainers.reference",
    "RandomMask": "speechbrain_xai.explainers.reference",
    "LatentActivationMaximizer": "speechbrain_xai.explainers.activation_maximization",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'speechbrain_xai.explainers' has no attribute {name!r}")
