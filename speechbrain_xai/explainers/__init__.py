"""Explainers. Each returns :class:`speechbrain_xai.Explanation` objects.

Names are imported lazily (see ``speechbrain_xai/__init__.py``).
"""

import importlib

_EXPORTS = {
    "GeneticExplainer": "speechbrain_xai.explainers.genetic",
    "LMACBrain": "speechbrain_xai.explainers.lmac",
    "LatentActivationMaximizer": "speechbrain_xai.explainers.activation_maximization",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'speechbrain_xai.explainers' has no attribute {name!r}")
