"""The models shipped inside the package, in SpeechBrain's hub layout.

Each folder here is what ``from_hparams(source=...)`` loads and what one
uploads to a model hub as it is (``hyperparams.yaml``, one ``.ckpt`` per
module, a model card ``README.md``). They load by folder or by short name:

>>> import os
>>> os.path.basename(resolve_source("voice-detector"))  # doctest: +SKIP
'voice_detector'
>>> resolve_source("speechbrain/cnn14-esc50")  # not a short name: unchanged
'speechbrain/cnn14-esc50'

``list_shipped()`` gives the short names of the folders this install has.
"""

from __future__ import annotations

import os
from typing import Dict

HERE = os.path.dirname(os.path.abspath(__file__))

#: Short name -> folder under speechbrain_xai/pretrained.
SHIPPED: Dict[str, str] = {
    "voice-detector": "voice_detector",
    "voice-detector-lmac": "voice_detector_lmac",
    "voice-detector-gan": "voice_detector_gan",
}


def shipped_folder(name: str) -> str:
    """The folder of a shipped model, or a ``ValueError`` naming the short names."""
    key = name.lower().replace("_", "-")
    if key not in SHIPPED:
        raise ValueError(f"No shipped model named {name!r}; shipped: {', '.join(SHIPPED)}.")
    folder = os.path.join(HERE, SHIPPED[key])
    if not os.path.isfile(os.path.join(folder, "hyperparams.yaml")):
        raise ValueError(f"The shipped model {name!r} is missing from this install ({folder}); "
                         "reinstall speechbrain_xai or pass a folder or hub id instead.")
    return folder


def resolve_source(source: str) -> str:
    """``source`` itself, unless it is the short name of a shipped model
    (``voice-detector``, ``voice-detector-lmac``, ``voice-detector-gan``):
    then that model's folder."""
    if isinstance(source, str) and source.lower().replace("_", "-") in SHIPPED \
            and not os.path.exists(source):
        return shipped_folder(source)
    return source


def list_shipped() -> Dict[str, str]:
    """``{short name: folder}`` of the shipped models present in this install."""
    out = {}
    for name in SHIPPED:
        try:
            out[name] = shipped_folder(name)
        except ValueError:
            continue
    return out
