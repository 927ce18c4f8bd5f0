"""Any registered explainer as a SpeechBrain pretrained model.

An explainer folder is self-contained, in the hub layout: its
``hyperparams.yaml`` is the explained classifier's own ``hyperparams.yaml``
(its ``modules`` and ``pretrainer`` renamed ``classifier_modules`` /
``classifier_pretrainer``) followed by ``explainer_method`` (a registry name,
e.g. ``ga``), ``explainer_options`` (plain values) and new ``modules`` and
``pretrainer`` entries holding the classifier's modules and the explainer's
own trained modules, if any (the L-MAC decoder). The classifier's checkpoint
files are copied next to them. So "the genetic explainer on this classifier"
loads the way any SpeechBrain model does,

    explainer = ExplainerInterface.from_hparams(source="path/or/hub-id")
    explanation = explainer.explain_file("clip.wav")

and the same folder is what one uploads to a model hub. It works for every
classifier layout the adapter understands (SpeechBrain's
``EncoderClassifier`` and ``AudioClassifier`` layouts). Loading a
``hyperparams.yaml`` runs the code it names (``!new:``, ``!apply:``): load
folders you trust, as for any SpeechBrain model.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import tempfile
from typing import Dict, Mapping, Optional, Tuple

import torch
from speechbrain.inference.interfaces import Pretrained

from speechbrain_xai.adapter import ClassifierAdapter
from speechbrain_xai.explainers.base import Explainer, explainer_class, get_explainer
from speechbrain_xai.explanation import Explanation
from speechbrain_xai.pretrained import resolve_source


class ExplainerInterface(Pretrained):
    """A registered explainer on a pretrained classifier, loaded with
    ``from_hparams(source=folder_or_hub_id)`` (see module docstring).

    ``explain_batch(wavs, wav_lens, target)`` and ``explain_file(path, target)``
    return an :class:`~speechbrain_xai.explanation.Explanation`; ``target`` is
    None (the predicted class), a class index or name, or one per example.
    """

    HPARAMS_NEEDED = ["sample_rate", "explainer_method"]

    @classmethod
    def from_hparams(cls, source: str, *args, savedir: Optional[str] = None, **kwargs):
        """SpeechBrain's ``from_hparams``, also accepting the short name of a
        shipped model (:func:`speechbrain_xai.pretrained.resolve_source`); a
        local folder is read in place (``savedir`` defaults to it)."""
        source = resolve_source(source)
        if savedir is None and os.path.isdir(source):
            savedir = source
        return super().from_hparams(source, *args, savedir=savedir, **kwargs)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not hasattr(self.hparams, "audio_normalizer"):
            # Pretrained's default normaliser resamples to 16 kHz whatever the model's rate
            from speechbrain.dataio.preprocess import AudioNormalizer

            self.audio_normalizer = AudioNormalizer(sample_rate=self.hparams.sample_rate)
        self.adapter = ClassifierAdapter.from_pretrained(self.mods, self.hparams).to(self.device)
        self.explainer: Explainer = self._build_explainer()

    def _method_and_options(self) -> Tuple[str, Dict]:
        return self.hparams.explainer_method, dict(getattr(self.hparams, "explainer_options", None) or {})

    def _build_explainer(self) -> Explainer:
        method, options = self._method_and_options()
        params = inspect.signature(explainer_class(method).__init__).parameters
        for name in self.mods:  # the explainer's own trained modules (e.g. the L-MAC decoder)
            if name in params and name != "adapter":
                options.setdefault(name, self.mods[name])
        return get_explainer(method, self.adapter, **options)

    def explain_batch(self, wavs: torch.Tensor, wav_lens: Optional[torch.Tensor] = None,
                      target=None) -> Explanation:
        """The :class:`Explanation` of waveforms ``[B, N]`` at
        ``self.hparams.sample_rate`` (``[B, N, channels]`` is downmixed)."""
        return self.explainer.explain(wavs, wav_lens, target)

    def explain_file(self, path: str, target=None, savedir: Optional[str] = None) -> Explanation:
        """The :class:`Explanation` of one audio file (resampled to the
        classifier's rate and downmixed to mono)."""
        wav = self.read_file(path, savedir)
        return self.explain_batch(wav.unsqueeze(0), target=target)

    def read_file(self, path: str, savedir: Optional[str] = None) -> torch.Tensor:
        """The waveform ``[N]`` of an audio file at the classifier's rate: a
        local file through :func:`~speechbrain_xai.data.inputs.read_for_classifier`
        (a bad file raises a one-line ``InputError``), anything else (a hub
        path, a URL) through SpeechBrain's ``load_audio``."""
        from speechbrain_xai.data.inputs import read_for_classifier

        if os.path.exists(path):
            return read_for_classifier(path, self.adapter).to(self.device)
        return self.load_audio(path, savedir=savedir)

    def forward(self, wavs: torch.Tensor, wav_lens: Optional[torch.Tensor] = None, target=None):
        """Same as :meth:`explain_batch`."""
        return self.explain_batch(wavs, wav_lens, target)


# --------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------
def _rename_top_level(text: str, key: str, new: str) -> str:
    return re.sub(rf"^{key}:", f"{new}:", text, flags=re.M)


def _plain(value, where: str):
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where} must hold plain values (numbers, strings, lists, dicts) to be "
                         f"exported; got {value!r}.") from None
    return value


def export_explainer(folder: str, classifier_source: str, method: str,
                     options: Optional[Mapping] = None,
                     modules: Optional[Mapping[str, Tuple[torch.nn.Module, str]]] = None,
                     savedir: Optional[str] = None) -> str:
    """Writes a self-contained explainer folder (see module docstring).

    Arguments
    ---------
    folder : str
        Destination (replaced atomically).
    classifier_source : str
        The explained classifier: a local pretrained folder or a hub id.
    method : str
        A registered explainer name (:func:`speechbrain_xai.explainers.available_explainers`).
    options : dict, optional
        Its options, plain values only (they are written into the YAML).
    modules : dict, optional
        The explainer's trained modules: ``{name: (module, yaml)}`` where
        ``yaml`` is the HyperPyYAML that builds the module under the key
        ``name`` (e.g. :func:`speechbrain_xai.lobes.decoders.decoder_yaml`);
        each is saved as ``<name>.ckpt`` and passed to the explainer as the
        option ``name``.
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

    explainer_class(method)  # an unknown method fails before anything is written
    options = _plain(dict(options or {}), "options")
    modules = dict(modules or {})
    with tempfile.TemporaryDirectory() as tmp:
        savedir = savedir or os.path.join(tmp, "classifier")
        strategy = LocalStrategy.COPY
        yaml_path = fetch("hyperparams.yaml", source=classifier_source, savedir=savedir,
                          local_strategy=strategy)
        with open(yaml_path) as f:
            text = f.read()
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
        mods = [f"    {name}: !ref <{key_of(obj)}>" for name, obj in hparams["modules"].items()]
        loads = [f"        {name}: !ref <{key_of(obj)}>" for name, obj in pretrainer.loadables.items()]
        mods += [f"    {name}: !ref <{name}>" for name in modules]
        loads += [f"        {name}: !ref <{name}>" for name in modules]
        text = _rename_top_level(_rename_top_level(text, "modules", "classifier_modules"),
                                 "pretrainer", "classifier_pretrainer")
        text += (
            f"\n\n# ---- explainer (speechbrain_xai): {method} ----\n"
            f"explainer_method: {json.dumps(method)}\n"
            f"explainer_options: {json.dumps(options)}\n"
            + "".join(yaml for _, yaml in modules.values())
            + "\nmodules:\n" + "\n".join(mods) + "\n"
            + "\npretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer\n"
            + "    loadables:\n" + "\n".join(loads) + "\n"
        )
        template = os.path.join(tmp, "explainer.yaml")
        with open(template, "w") as f:
            f.write(text)
        return export_pretrained(folder, template, {},
                                 {name: module for name, (module, _) in modules.items()}, extra_files)
