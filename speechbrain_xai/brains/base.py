"""The base of every Brain that explains a frozen classifier.

The classifier (a :class:`~speechbrain_xai.adapter.ClassifierAdapter`) stays
outside the Brain's trainable ``modules``: no optimiser, BatchNorm update or
DDP wrap touches it. SpeechBrain only moves ``modules`` to the run device, so
this base moves the frozen parts itself when fitting or evaluating starts.
"""

from typing import List

import speechbrain as sb
import torch


class FrozenClassifierBrain(sb.Brain):
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
