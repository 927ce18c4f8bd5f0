"""A trained L-MAC interpreter as a SpeechBrain pretrained model.

An interpreter folder is self-contained: its ``hyperparams.yaml`` is the
explained classifier's own ``hyperparams.yaml`` (its ``modules`` and
``pretrainer`` renamed to ``classifier_modules`` / ``classifier_pretrainer``)
followed by the decoder, the captured layer names, and new ``modules`` and
``pretrainer`` entries that hold the classifier's modules *and* the decoder.
The classifier's checkpoint files are copied next to ``decoder.ckpt``. So the
folder loads with ``LMACInterpreter.from_hparams(source=folder)`` (or from a
hub id once uploaded) without the classifier's own folder, and it works for
any classifier layout the adapter understands (SpeechBrain's
``EncoderClassifier`` and ``AudioClassifier`` layouts).

Example
-------
>>> interp = LMACInterpreter.from_hparams("path/to/interpreter")  # doctest: +SKIP
>>> masks, masked_in, labels = interp.interpret_file("clip.wav")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
import tempfile
from typing import List, Optional, Sequence, Tuple

import torch
from speechbrain.inference.interfaces import Pretrained
from speechbrain.utils.logger import get_logger

from speechbrain_xai.adapter import ClassifierAdapter
from speechbrain_xai.explainers.lmac import decode_masks
from speechbrain_xai.explanation import Explanation
from speechbrain_xai.lobes.decoders import MaskDecoder, decoder_yaml
from speechbrain_xai.stft import istft, apply_mask

logger = get_logger(__name__)


class LMACInterpreter(Pretrained):
    """Explains a classifier's decisions with a trained L-MAC decoder.

    Loaded with ``LMACInterpreter.from_hparams(source=folder_or_hub_id)``
    from a folder written by :func:`export_interpreter`.

    ``interpret_batch(wavs, wav_lens)`` returns the masks ``[B, T, F]`` (on
    ``self.adapter.stft_config``), the masked-in (listenable) audio ``[B, N]``
    and the predicted labels; ``explain_batch`` returns a full
    :class:`~speechbrain_xai.explanation.Explanation` (probabilities,
    masked-out audio, metrics, saving).
    """

    MODULES_NEEDED = ["decoder", "embedding_model", "classifier"]
    HPARAMS_NEEDED = ["sample_rate", "lmac_layers"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not hasattr(self.hparams, "audio_normalizer"):
            # Pretrained's default normaliser resamples to 16 kHz whatever the model's rate
            from speechbrain.dataio.preprocess import AudioNormalizer

            self.audio_normalizer = AudioNormalizer(sample_rate=self.hparams.sample_rate)
        self.adapter = ClassifierAdapter.from_pretrained(self.mods, self.hparams).to(self.device)
        self.layers: List[str] = list(self.hparams.lmac_layers)
        self.mask_mode: str = getattr(self.hparams, "lmac_mask_mode", "linear")

    def _prepare(self, wavs, wav_lens):
        return self.adapter.prepare(wavs, wav_lens, require_signal=False)

    @torch.no_grad()
    def interpret_batch(self, wavs: torch.Tensor, wav_lens: Optional[torch.Tensor] = None
                        ) -> Tuple[torch.Tensor, torch.Tensor, List[str]]:
        """Masks, masked-in audio and predicted labels for waveforms ``[B, N]``
        at ``self.hparams.sample_rate`` (``[B, N, channels]`` is downmixed)."""
        wavs, wav_lens = self._prepare(wavs, wav_lens)
        mask, logits, spec = decode_masks(self.adapter, self.mods.decoder, self.layers, wavs, wav_lens)
        masked_in = istft(apply_mask(spec, mask, self.mask_mode), self.adapter.stft_config,
                          wavs.shape[1])
        return mask, masked_in, self._labels(logits.argmax(dim=-1))

    @torch.no_grad()
    def explain_batch(self, wavs: torch.Tensor, wav_lens: Optional[torch.Tensor] = None
                      ) -> Explanation:
        """The full :class:`Explanation` of a batch (predicted class as target)."""
        wavs, wav_lens = self._prepare(wavs, wav_lens)
        mask, logits, _ = decode_masks(self.adapter, self.mods.decoder, self.layers, wavs, wav_lens)
        return Explanation.from_mask(self.adapter, wavs, mask, wav_lens, mode=self.mask_mode,
                                     method="L-MAC", probs_input=logits.softmax(dim=-1))

    def interpret_file(self, path: str, savedir: Optional[str] = None
                       ) -> Tuple[torch.Tensor, torch.Tensor, str]:
        """Mask ``[T, F]``, masked-in audio ``[N]`` and label for one file
        (resampled to the classifier's rate and downmixed to mono)."""
        wav = self.load_audio(path, savedir=savedir)
        mask, masked_in, labels = self.interpret_batch(wav.unsqueeze(0))
        return mask[0], masked_in[0], labels[0]

    def forward(self, wavs: torch.Tensor, wav_lens: Optional[torch.Tensor] = None):
        """Same as :meth:`interpret_batch`."""
        return self.interpret_batch(wavs, wav_lens)

    def _labels(self, indices: torch.Tensor) -> List[str]:
        names = self.adapter.class_names
        return [names[i] if names else str(i) for i in indices.tolist()]


# --------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------
def _rename_top_level(text: str, key: str, new: str) -> str:
    return re.sub(rf"^{key}:", f"{new}:", text, flags=re.M)


def export_interpreter(folder: str, classifier_source: str, decoder: MaskDecoder,
                       layers: Sequence[str], mask_mode: str = "linear",
                       savedir: Optional[str] = None) -> str:
    """Writes a self-contained L-MAC interpreter folder (see module docstring).

    Arguments
    ---------
    folder : str
        Destination (replaced atomically).
    classifier_source : str
        The explained classifier: a local pretrained folder or a hub id.
    decoder : MaskDecoder
        The trained decoder.
    layers : sequence of str
        The captured layer names, in decoder order.
    mask_mode : str
        Mask convention the decoder was trained with.
    savedir : str, optional
        Where a hub classifier's files are fetched (defaults to a temporary folder).

    Returns
    -------
    str
        ``folder``.
    """
    from hyperpyyaml import load_hyperpyyaml
    from speechbrain.utils.fetching import LocalStrategy, fetch

    from speechbrain_xai.export import export_pretrained

    with tempfile.TemporaryDirectory() as tmp:
        savedir = savedir or os.path.join(tmp, "classifier")
        strategy = LocalStrategy.COPY
        yaml_path = fetch("hyperparams.yaml", source=classifier_source, savedir=savedir,
                          local_strategy=strategy)
        text = open(yaml_path).read()
        hparams = load_hyperpyyaml(text)
        if "pretrainer" not in hparams or "modules" not in hparams:
            raise ValueError(f"{classifier_source}/hyperparams.yaml needs `modules` and a `pretrainer`.")
        pretrainer = hparams["pretrainer"]

        def key_of(obj):
            for key, value in hparams.items():
                if value is obj and key not in ("modules", "pretrainer"):
                    return key
            raise ValueError(f"Cannot find the top-level key of the classifier's {type(obj).__name__}.")

        extra_files = {}
        for name in pretrainer.loadables:
            source_path = pretrainer.paths.get(name)
            if source_path is not None and "/" in str(source_path):
                src, fname = str(source_path).rsplit("/", 1)
            else:
                src, fname = classifier_source, f"{name}.ckpt"
            extra_files[f"{name}.ckpt"] = str(fetch(fname, source=src, savedir=savedir,
                                                    local_strategy=strategy))
        mods = "\n".join(f"    {name}: !ref <{key_of(obj)}>" for name, obj in hparams["modules"].items())
        loads = "\n".join(f"        {name}: !ref <{key_of(obj)}>"
                          for name, obj in pretrainer.loadables.items())
        text = _rename_top_level(_rename_top_level(text, "modules", "classifier_modules"),
                                 "pretrainer", "classifier_pretrainer")
        text += (
            "\n\n# ---- L-MAC interpreter (speechbrain_xai) ----\n"
            f"lmac_layers: {list(layers)!r}\n".replace("'", '"')
            + f"lmac_mask_mode: {mask_mode}\n"
            + decoder_yaml(decoder)
            + f"\nmodules:\n{mods}\n    decoder: !ref <decoder>\n"
            + "\npretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer\n"
            + f"    loadables:\n{loads}\n        decoder: !ref <decoder>\n"
        )
        template = os.path.join(tmp, "interpreter.yaml")
        with open(template, "w") as f:
            f.write(text)
        return export_pretrained(folder, template, {}, {"decoder": decoder}, extra_files)
