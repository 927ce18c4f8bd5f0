"""Pretrained-style inference interfaces (``from_hparams`` with a folder or hub id).

* :class:`ExplainerInterface`: any registered explainer on a pretrained
  classifier (:func:`export_explainer` writes its folder);
* :class:`LMACInterpreter`: a trained L-MAC interpreter (:func:`export_interpreter`).
"""

from speechbrain_xai import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("ExplainerInterface", "export_explainer"), "speechbrain_xai.inference.explainer"),
    **dict.fromkeys(("LMACInterpreter", "export_interpreter"), "speechbrain_xai.inference.lmac"),
}

__all__ = list(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
