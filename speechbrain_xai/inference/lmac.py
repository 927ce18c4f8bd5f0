"""A trained L-MAC interpreter as a SpeechBrain pretrained model.

An interpreter folder is an explainer folder
(:mod:`speechbrain_xai.inference.explainer`) for the method ``lmac``: the
explained classifier's own ``hyperparams.yaml`` and checkpoints, the decoder
(``decoder.ckpt`` and the YAML that builds it) and the options ``layers`` (the
captured layer names) and ``mask_mode``. So the folder loads with
``LMACInterpreter.from_hparams(source=folder)`` (or from a hub id once
uploaded) without the classifier's own folder, and it works for any
classifier layout the adapter understands.

Example
-------
>>> interp = LMACInterpreter.from_hparams("path/to/interpreter")  # doctest: +SKIP
>>> masks, masked_in, labels = interp.interpret_file("clip.wav")  # doctest: +SKIP
>>> explanation = interp.explain_file("clip.wav")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import torch

from speechbrain_xai.inference.explainer import ExplainerInterface, export_explainer
from speechbrain_xai.lobes.decoders import MaskDecoder, decoder_yaml


class LMACInterpreter(ExplainerInterface):
    """Explains a classifier's decisions with a trained L-MAC decoder.

    Loaded with ``LMACInterpreter.from_hparams(source=folder_or_hub_id)``
    from a folder written by :func:`export_interpreter`. Besides
    ``explain_batch`` / ``explain_file`` (an
    :class:`~speechbrain_xai.explanation.Explanation`, through
    ``self.explainer``, an :class:`~speechbrain_xai.explainers.lmac.LMACExplainer`),
    ``interpret_batch(wavs, wav_lens)`` returns the masks ``[B, T, F]`` (on
    ``self.adapter.stft_config``), the masked-in (listenable) audio ``[B, N]``
    and the predicted labels, from one forward pass of the classifier
    (``self.explainer.listenable`` also gives the masked-out audio).
    """

    MODULES_NEEDED = ["decoder", "embedding_model", "classifier"]
    HPARAMS_NEEDED = ["sample_rate"]

    def _method_and_options(self) -> Tuple[str, Dict]:
        if hasattr(self.hparams, "explainer_method"):
            return super()._method_and_options()
        # folders exported before the explainer contract: lmac_layers, lmac_mask_mode
        return "lmac", {"layers": list(self.hparams.lmac_layers),
                        "mask_mode": getattr(self.hparams, "lmac_mask_mode", "linear")}

    @torch.no_grad()
    def interpret_batch(self, wavs: torch.Tensor, wav_lens: Optional[torch.Tensor] = None
                        ) -> Tuple[torch.Tensor, torch.Tensor, List[str]]:
        """Masks, masked-in audio and predicted labels for waveforms ``[B, N]``
        at ``self.hparams.sample_rate`` (``[B, N, channels]`` is downmixed)."""
        out = self.explainer.listenable(wavs, wav_lens)
        return out.mask, out.masked_in, self._labels(out.logits.argmax(dim=-1))

    def interpret_file(self, path: str, savedir: Optional[str] = None
                       ) -> Tuple[torch.Tensor, torch.Tensor, str]:
        """Mask ``[T, F]``, masked-in audio ``[N]`` and label for one file
        (resampled to the classifier's rate and downmixed to mono)."""
        wav = self.read_file(path, savedir)
        mask, masked_in, labels = self.interpret_batch(wav.unsqueeze(0))
        return mask[0], masked_in[0], labels[0]

    def forward(self, wavs: torch.Tensor, wav_lens: Optional[torch.Tensor] = None):
        """Same as :meth:`interpret_batch`."""
        return self.interpret_batch(wavs, wav_lens)

    def _labels(self, indices: torch.Tensor) -> List[str]:
        names = self.adapter.class_names
        return [names[i] if names else str(i) for i in indices.tolist()]


def export_interpreter(folder: str, classifier_source: str, decoder: MaskDecoder,
                       layers: Sequence[str], mask_mode: str = "linear",
                       savedir: Optional[str] = None) -> str:
    """Writes a self-contained L-MAC interpreter folder (see module docstring):
    :func:`speechbrain_xai.inference.explainer.export_explainer` for the method
    ``lmac``, with the trained ``decoder``, the captured ``layers`` (in decoder
    order) and the ``mask_mode`` it was trained with, into ``folder`` (replaced
    atomically); ``classifier_source`` is the explained classifier's folder or
    hub id (its files fetched into ``savedir``, default a temporary folder).
    Returns ``folder``.
    """
    return export_explainer(folder, classifier_source, "lmac",
                            {"layers": list(layers), "mask_mode": mask_mode},
                            {"decoder": (decoder, decoder_yaml(decoder))}, savedir=savedir)
