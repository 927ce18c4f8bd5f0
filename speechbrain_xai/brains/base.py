"""The bases of the package's Brains: SpeechBrain's ``Brain`` with two DDP
additions, and a Brain that explains a frozen classifier.

:class:`DistributedBrain` is ``sb.Brain`` plus what ``torchrun`` needs here:

* the test stage split across processes (``shard_test = True``): SpeechBrain
  runs validation and test whole on every process; with ``shard_test`` the
  test loader of ``evaluate()`` gets an
  :class:`~speechbrain_xai.data.distributed.EvaluationSampler` (each item on
  exactly one process, in whole batches of the single-process run) and
  :meth:`DistributedBrain.gather_test` merges the per-process results;
* DDP on the CPU (the gloo backend): SpeechBrain converts BatchNorm to
  SyncBatchNorm before wrapping trainable modules in DDP, which torch
  supports only on GPUs; on a CPU the modules are wrapped without that
  conversion (each process normalises with its own batch statistics, and
  DDP broadcasts rank 0's running statistics at every training step).

:class:`FrozenClassifierBrain` keeps the classifier (a
:class:`~speechbrain_xai.adapter.ClassifierAdapter`) outside the Brain's
trainable ``modules``: no optimiser, BatchNorm update or DDP wrap touches it.
SpeechBrain only moves ``modules`` to the run device, so this base moves the
frozen parts itself when fitting or evaluating starts.
"""

from typing import List, Optional, Sequence

import speechbrain as sb
import torch
from speechbrain.utils.distributed import is_distributed_initialized
from speechbrain.utils.logger import get_logger
from torch.nn.parallel import DistributedDataParallel

from speechbrain_xai.data.distributed import EvaluationSampler, gather_in_order

logger = get_logger(__name__)


class DistributedBrain(sb.Brain):
    """``sb.Brain`` with the test stage split across processes (when
    ``shard_test`` is True) and DDP on the CPU (see module docstring)."""

    #: Split ``evaluate()``'s data across processes (subclasses merge with :meth:`gather_test`).
    shard_test: bool = False

    def evaluate(self, test_set, *args, **kwargs):
        self.test_sampler: Optional[EvaluationSampler] = None
        return super().evaluate(test_set, *args, **kwargs)

    def make_dataloader(self, dataset, stage, ckpt_prefix="dataloader-", **loader_kwargs):
        if stage == sb.Stage.TEST and self.shard_test and is_distributed_initialized():
            if loader_kwargs.get("sampler") is not None or loader_kwargs.get("batch_sampler") is not None:
                logger.warning("A sampler was given for the test set: every process evaluates "
                               "all of it.")
            else:
                self.test_sampler = EvaluationSampler(dataset,
                                                      block_size=loader_kwargs.get("batch_size", 1))
                loader_kwargs = dict(loader_kwargs, sampler=self.test_sampler)
                loader_kwargs.pop("shuffle", None)
        return super().make_dataloader(dataset, stage, ckpt_prefix, **loader_kwargs)

    @property
    def test_batch_index(self) -> int:
        """The running test batch's index in the whole test set (from 1, as ``self.step``)."""
        sampler = getattr(self, "test_sampler", None)
        return self.step + (sampler.first_block if sampler is not None else 0)

    def gather_test(self, part: Sequence) -> List:
        """The test results of every process in the data set's order (this
        process's ``part`` when the test set was not split)."""
        if getattr(self, "test_sampler", None) is None:
            return list(part)
        return gather_in_order(part)

    def _wrap_distributed(self):
        if not (self.distributed_launch and torch.device(self.device).type == "cpu"):
            return super()._wrap_distributed()
        for name, module in self.modules.items():
            if any(p.requires_grad for p in module.parameters()):
                self.modules[name] = DistributedDataParallel(
                    module, device_ids=None, find_unused_parameters=self.find_unused_parameters)


class FrozenClassifierBrain(DistributedBrain):
    """A ``Brain`` whose frozen modules (by default ``self.adapter``) follow
    the run device. Subclasses with other frozen parts override
    :meth:`frozen_modules`."""

    def frozen_modules(self) -> List[torch.nn.Module]:
        """Modules kept out of ``self.modules`` that must be on ``self.device``."""
        return [self.adapter]

    def _move_frozen(self):
        for module in self.frozen_modules():
            module.to(self.device)

    def on_fit_start(self):
        self._move_frozen()
        super().on_fit_start()

    def on_evaluate_start(self, max_key=None, min_key=None):
        self._move_frozen()
        super().on_evaluate_start(max_key=max_key, min_key=min_key)
