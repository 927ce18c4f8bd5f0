"""speechbrain_xai: explain pretrained SpeechBrain audio classifiers.

The public names are imported lazily so that ``import speechbrain_xai`` stays
cheap and optional extras (matplotlib, captum, lime) are only loaded when used.
"""

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "ClassifierAdapter": "speechbrain_xai.adapter",
    "Explanation": "speechbrain_xai.explanation",
    "Explainer": "speechbrain_xai.explainers.base",
    "get_explainer": "speechbrain_xai.explainers.base",
    "available_explainers": "speechbrain_xai.explainers.base",
    "evaluate_explainers": "speechbrain_xai.brains.harness",
    "STFTConfig": "speechbrain_xai.stft",
    "metrics": "speechbrain_xai.metrics",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        module = importlib.import_module(_EXPORTS[name])
        return module if module.__name__.endswith(name) else getattr(module, name)
    raise AttributeError(f"module 'speechbrain_xai' has no attribute {name!r}")
