"""Explainers: one contract (:class:`Explainer`), one registry.

Every method is an :class:`Explainer` bound to a classifier adapter, with
``attribute(wavs, wav_lens=None, target=None) -> masks [B, T, F]`` and
``explain(...) -> Explanation``; :func:`get_explainer` builds any registered
method by name (``available_explainers()``), including Captum's methods as
``"captum:<Method>"``. Activation maximisation is a global method with its own
search API (:mod:`speechbrain_xai.explainers.activation_maximization`).

Names are imported lazily (see ``speechbrain_xai/__init__.py``).
"""

from speechbrain_xai import lazy_exports

_EXPORTS = {
    name: f"speechbrain_xai.explainers.{module}"
    for module, names in {
        "base": ("Attribution", "Explainer", "available_explainers", "get_explainer",
                 "register_explainer"),
        "captum_bridge": ("CaptumExplainer", "GradCAM"),
        "genetic": ("GeneticExplainer",),
        "lime_baseline": ("LimeExplainer",),
        "lmac": ("LMACExplainer",),
        "gradient_baselines": ("Saliency", "IntegratedGradients", "SmoothGrad"),
        "reference": ("AllOnes", "RandomMask"),
        "activation_maximization": ("LatentActivationMaximizer",),
    }.items()
    for name in names
}

__all__ = list(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
