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


def lazy_exports(package: str, exports: dict):
    """A module ``__getattr__`` that imports ``exports[name]`` (a module path)
    on first use and returns ``name`` from it (or the module itself when it
    is named ``name``): cheap package imports, optional extras loaded late."""

    def __getattr__(name):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(exports[name])
        return module if module.__name__.rsplit(".", 1)[-1] == name else getattr(module, name)

    return __getattr__


__getattr__ = lazy_exports(__name__, _EXPORTS)
