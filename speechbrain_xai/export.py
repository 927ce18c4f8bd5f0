"""Writes trained models as SpeechBrain pretrained folders.

A pretrained folder is what ``from_hparams(source=folder)`` loads and what one
uploads to a model hub: ``hyperparams.yaml`` (with ``modules`` and a
``pretrainer`` whose loadables have no explicit paths, so each is read from
``<source>/<name>.ckpt``) plus one checkpoint file per loadable.

The ``hyperparams.yaml`` is an inference template from the recipe, with the
training run's values (sizes, class count...) substituted as overrides, so the
exported file is self-contained.
"""

from __future__ import annotations

import os
import shutil
from typing import Dict, Optional

from hyperpyyaml import resolve_references
from speechbrain.utils.checkpoints import DEFAULT_SAVE_HOOKS, get_default_hook
from speechbrain.utils.logger import get_logger

from speechbrain_xai.files import staged_folder

logger = get_logger(__name__)


def export_pretrained(folder: str, template: str, overrides: Dict,
                      loadables: Dict[str, object],
                      extra_files: Optional[Dict[str, str]] = None) -> str:
    """Writes a SpeechBrain pretrained folder.

    Arguments
    ---------
    folder : str
        Destination; replaced as a whole (the new folder is written beside it
        and moved into place, so a failed export leaves the old one intact).
    template : str
        Path of the inference hyperparameter template (HyperPyYAML).
    overrides : dict
        Values substituted into the template (e.g. ``n_mels``, ``n_classes``).
    loadables : dict
        ``name -> object`` saved as ``<name>.ckpt`` with SpeechBrain's default
        checkpoint hooks (``torch.nn.Module`` state dicts, label encoders...).
        The names must match the template's pretrainer loadables.
    extra_files : dict, optional
        ``name -> source path`` copied into the folder.

    Returns
    -------
    str
        ``folder``.
    """
    with open(template) as f:
        resolved = resolve_references(f, overrides=overrides, overrides_must_match=True).getvalue()
    with staged_folder(folder) as tmp:
        with open(os.path.join(tmp, "hyperparams.yaml"), "w") as f:
            f.write(f"# Exported by speechbrain_xai from {os.path.basename(template)}\n")
            f.write(resolved)
        for name, obj in loadables.items():
            hook = get_default_hook(obj, DEFAULT_SAVE_HOOKS)
            if hook is None:
                raise ValueError(f"Don't know how to save {name!r} ({type(obj).__name__}).")
            hook(obj, os.path.join(tmp, f"{name}.ckpt"))
        for name, src in (extra_files or {}).items():
            shutil.copyfile(src, os.path.join(tmp, name))
    logger.info("Exported pretrained folder to %s", folder)
    return folder
