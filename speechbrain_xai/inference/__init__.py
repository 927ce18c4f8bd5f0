"""Pretrained-style inference interfaces (``from_hparams`` with a folder or hub id).

* :class:`ExplainerInterface`: any registered explainer on a pretrained
  classifier (:func:`export_explainer` writes its folder);
* :class:`LMACInterpreter`: a trained L-MAC interpreter (:func:`export_interpreter`).
"""

import importlib

_EXPORTS = {
    "ExplainerInterface": "speechbrain_xai.inference.explainer",
    "export_explainer": "speechbrain_xai.inference.explainer",
    "LMACInterpreter": "speechbrain_xai.inference.lmac",
    "export_interpreter": "speechbrain_xai.inference.lmac",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'speechbrain_xai.inference' has no attribute {name!r}")
