"""Checkpoints that a killed process cannot leave half-written, with the random state in them.

SpeechBrain's ``Checkpointer`` writes a checkpoint's ``CKPT.yaml`` (the file
that makes a folder a checkpoint) *before* the parameter files, and deletes
old checkpoints with one ``rmtree``. A process killed while saving or
deleting leaves a folder that looks complete but lacks files or holds a
truncated one; the next run takes it for the latest checkpoint and fails to
load it, or resumes from half a model. :class:`Checkpointer` is SpeechBrain's
with four changes:

* ``CKPT.yaml`` is written last, atomically, and lists the files saved
  (``saved_files``): its presence means the save finished;
* a checkpoint that lacks one of its listed files (a deletion cut short) is
  not listed; such folders, and those of an unfinished save, are removed
  (main process) before a checkpoint is recovered;
* ``save_and_keep_only`` does not slow down with every save (SpeechBrain
  1.1 grows its default ``importance_keys`` list by one key per call);
* the random state (torch's default generator, and CUDA's, through
  SpeechBrain's :class:`~speechbrain.utils.repro.SaveableGenerator`) is saved
  with every checkpoint and restored with it, so that dropout and random
  augmentation continue the stream of the interrupted run. It is optional
  on load: checkpoints written without it still load.

Recipes use it in place of SpeechBrain's, with the same arguments::

    checkpointer: !new:speechbrain_xai.checkpoints.Checkpointer
        checkpoints_dir: !ref <save_folder>
        recoverables:
            model: !ref <model>
            counter: !ref <epoch_counter>

A resumed *epoch* (an intra-epoch checkpoint, run option
``--ckpt_interval_steps`` or ``--ckpt_interval_minutes``) continues the
random stream exactly only when creating the training loader's iterator does
not draw from the global generator: give the loader its own
(``train_dataloader_opts: {generator: !new:torch.Generator}``, as the
recipes do).

Example
-------
>>> import os, tempfile, torch
>>> folder = tempfile.mkdtemp()
>>> net = torch.nn.Linear(2, 2)
>>> ckpt = Checkpointer(folder, {"net": net})
>>> _ = torch.manual_seed(0)
>>> saved = ckpt.save_checkpoint()
>>> sorted(saved.meta["saved_files"])
['net.ckpt', 'random_state.ckpt']
>>> a = torch.rand(1)
>>> _ = ckpt.recover_if_possible()
>>> bool(torch.rand(1) == a)  # the random stream continues from the checkpoint
True
>>> os.remove(os.path.join(saved.path, "net.ckpt"))  # as a deletion cut short leaves it
>>> ckpt.list_checkpoints()
[]
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time

import yaml
from speechbrain.utils import checkpoints as sb_checkpoints
from speechbrain.utils.distributed import if_main_process
from speechbrain.utils.logger import get_logger
from speechbrain.utils.repro import SaveableGenerator

from speechbrain_xai.files import remove_stale, write_text

logger = get_logger(__name__)

#: The meta key listing a checkpoint's files (written with CKPT.yaml, last).
SAVED_FILES = "saved_files"


class Checkpointer(sb_checkpoints.Checkpointer):
    """SpeechBrain's ``Checkpointer``, safe against a kill at any moment (see
    the module docstring).

    Arguments
    ---------
    checkpoints_dir : str
        Where checkpoints are saved.
    recoverables : dict, optional
        ``name -> object``, as for SpeechBrain's ``Checkpointer``.
    save_random_state : bool
        Save and restore the random state (``random_state``) with every checkpoint.
    **kwargs
        The other arguments of SpeechBrain's ``Checkpointer``.
    """

    def __init__(self, checkpoints_dir, recoverables=None, save_random_state: bool = True,
                 **kwargs):
        super().__init__(checkpoints_dir, recoverables, **kwargs)
        if save_random_state and "random_state" not in self.recoverables:
            self.add_recoverable("random_state", SaveableGenerator(), optional_load=True)
        self._meta_to_write = None

    # -- saving: CKPT.yaml last
    def _save_checkpoint_metafile(self, fpath, meta_to_include={}, end_of_epoch=True):
        # SpeechBrain writes the meta file here, before the parameter files:
        # keep it, and write it in save_checkpoint once they are all written
        meta = {"unixtime": time.time(), "end-of-epoch": end_of_epoch, **meta_to_include}
        self._meta_to_write = (fpath, meta)
        return meta

    def save_checkpoint(self, meta={}, end_of_epoch=True, name=None, verbosity=logging.INFO):
        """Saves a checkpoint; its ``CKPT.yaml`` is written when every file is."""
        self._meta_to_write = None
        checkpoint = super().save_checkpoint(meta, end_of_epoch, name, verbosity)
        if self._meta_to_write is not None and if_main_process():
            fpath, full_meta = self._meta_to_write
            folder = os.path.dirname(fpath)
            full_meta[SAVED_FILES] = sorted(n for n in os.listdir(folder)
                                            if n.endswith(sb_checkpoints.PARAMFILE_EXT))
            write_text(fpath, "# yamllint disable\n" + yaml.dump(full_meta))
        self._meta_to_write = None
        return checkpoint

    def save_and_keep_only(self, meta={}, end_of_epoch=True, name=None, num_to_keep=1,
                           keep_recent=True, importance_keys=None, max_keys=None, min_keys=None,
                           ckpt_predicate=None, verbosity=logging.INFO):
        """As SpeechBrain's, with a fresh ``importance_keys`` list per call:
        SpeechBrain 1.1 appends its recency key to the *default* list, which
        then grows by one key per call, and each save scans every checkpoint
        once per earlier save (quadratic in the number of saves)."""
        return super().save_and_keep_only(
            meta=meta, end_of_epoch=end_of_epoch, name=name, num_to_keep=num_to_keep,
            keep_recent=keep_recent, importance_keys=list(importance_keys or []),
            max_keys=list(max_keys or []), min_keys=list(min_keys or []),
            ckpt_predicate=ckpt_predicate, verbosity=verbosity)

    # -- listing: only complete checkpoints
    def list_checkpoints(self):
        """The checkpoints whose files are all there."""
        return [c for c in super().list_checkpoints() if _complete(c)]

    def recover_if_possible(self, importance_key=None, max_key=None, min_key=None,
                            ckpt_predicate=None):
        """Removes unfinished checkpoints (main process), then recovers as
        SpeechBrain's ``Checkpointer`` does."""
        if if_main_process():
            self.remove_unfinished()
        return super().recover_if_possible(importance_key, max_key, min_key, ckpt_predicate)

    def remove_unfinished(self) -> list:
        """Removes the checkpoint folders of a save or a deletion that a killed
        process left unfinished; returns their paths."""
        if not self.checkpoints_dir.is_dir():
            return []
        removed = []
        for path in self.checkpoints_dir.iterdir():
            if not (path.is_dir() and path.name.startswith(sb_checkpoints.CKPT_PREFIX)):
                continue
            meta_file = path / sb_checkpoints.METAFNAME
            if meta_file.exists():
                try:
                    (checkpoint,) = self._construct_checkpoint_objects([path])
                except (OSError, yaml.YAMLError):
                    checkpoint = None
                if checkpoint is not None and _complete(checkpoint):
                    continue
            logger.warning("Removing the unfinished checkpoint %s (a killed save or deletion).", path)
            # out of the way first (one rename), then deleted
            trash = tempfile.mkdtemp(prefix=f".{path.name}.old_", dir=self.checkpoints_dir)
            os.replace(path, os.path.join(trash, path.name))
            shutil.rmtree(trash, ignore_errors=True)
            removed.append(str(path))
        remove_stale(str(self.checkpoints_dir))
        return removed


def _complete(checkpoint) -> bool:
    """Whether every file a checkpoint's meta lists is there (checkpoints
    written by SpeechBrain's own ``Checkpointer`` list none: complete)."""
    listed = checkpoint.meta.get(SAVED_FILES) or []
    return all((checkpoint.path / name).exists() for name in listed)
