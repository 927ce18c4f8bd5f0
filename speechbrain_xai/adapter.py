"""The one classifier contract every explainer talks to.

A :class:`ClassifierAdapter` wraps a frozen audio classifier and answers:

* ``adapter(wavs, wav_lens)`` -> logits ``[B, C]`` for waveforms ``[B, N]``;
* :meth:`ClassifierAdapter.masked_logits` -> logits for a masked STFT, either
  through the exact listenable path (masked STFT -> ISTFT -> classifier) or,
  where the front-end is known, a faster path that feeds the masked magnitude
  straight into the classifier's features;
* :meth:`ClassifierAdapter.capture` -> named hidden representations (hooks);
* ``sample_rate``, ``class_names`` and the ``stft_config`` masks live on.

It is built from a SpeechBrain pretrained folder or hub id
(:meth:`from_hparams`), from the modules of a recipe (:meth:`from_modules`,
:meth:`from_brain`), or from any waveform -> logits module
(:meth:`from_module`). Explainers never branch on the kind of model.

The adapter is frozen: its parameters do not require gradients, it stays in
eval mode whatever ``train()`` is called with, and it is kept *outside* a
Brain's trainable ``modules`` (so no optimiser, BatchNorm update or DDP wrap
touches it). Gradients still flow through it to the inputs and masks.

Example
-------
>>> import torch
>>> black_box = torch.nn.Sequential(torch.nn.Linear(800, 3))
>>> adapter = ClassifierAdapter.from_module(black_box, sample_rate=8000)
>>> adapter(torch.randn(2, 800)).shape
torch.Size([2, 3])
"""

from __future__ import annotations

import contextlib
import os
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch
from speechbrain.utils.logger import get_logger

from speechbrain_xai.frontends import (
    EncoderPipeline,
    SpectrogramPipeline,
    WaveformModule,
    label_names,
    stft_config_from_speechbrain,
)
from speechbrain_xai.stft import STFTConfig, apply_mask, istft, stft

logger = get_logger(__name__)

TargetSpec = Union[None, int, Sequence[int], torch.Tensor]


# --------------------------------------------------------------------------
# The adapter
# --------------------------------------------------------------------------
class ClassifierAdapter(torch.nn.Module):
    """A frozen audio classifier behind one contract (see module docstring).

    Arguments
    ---------
    model : torch.nn.Module
        Maps ``(wavs [B, N], wav_lens [B])`` to logits ``[B, C]``; one of
        :class:`EncoderPipeline`, :class:`SpectrogramPipeline`,
        :class:`WaveformModule`. Use the ``from_*`` constructors.
    sample_rate : int
        The rate the classifier expects; other rates are resampled.
    class_names : list of str, optional
        Names of the ``C`` classes.
    stft_config : STFTConfig, optional
        Grid for masks. Defaults to the classifier's own STFT when it is known
        (then the fast feature path is available), else SpeechBrain's default
        25 ms / 10 ms grid at ``sample_rate``.
    min_samples : int
        Shortest accepted waveform (default: one STFT window).
    """

    def __init__(self, model: torch.nn.Module, sample_rate: int,
                 class_names: Optional[Sequence[str]] = None,
                 stft_config: Optional[STFTConfig] = None,
                 min_samples: Optional[int] = None):
        super().__init__()
        self.model = model
        self.sample_rate = int(sample_rate)
        self.class_names = list(class_names) if class_names is not None else None
        native = None
        if getattr(model, "stft_module", None) is not None:
            native = stft_config_from_speechbrain(model.stft_module, self.sample_rate)
        self.stft_config = stft_config or native or STFTConfig(sample_rate=self.sample_rate)
        if self.stft_config.sample_rate != self.sample_rate:
            raise ValueError(
                f"stft_config.sample_rate={self.stft_config.sample_rate} differs from the "
                f"classifier's sample_rate={self.sample_rate}."
            )
        # The fast path is exact only when masks live on the front-end's own grid.
        self.has_feature_path = native is not None and native == self.stft_config
        self.min_samples = int(min_samples or self.stft_config.win_length)
        self.requires_grad_(False)
        super().train(False)

    # ---------------------------------------------------------------- builders
    @classmethod
    def from_module(cls, module: torch.nn.Module, sample_rate: int,
                    class_names: Optional[Sequence[str]] = None,
                    takes_lengths: Optional[bool] = None, **kwargs) -> "ClassifierAdapter":
        """Wraps any ``waveforms [B, N] -> logits [B, C]`` module (a black box).

        ``takes_lengths`` says whether it is called as ``module(wavs, wav_lens)``;
        by default this is read from its ``forward`` signature.
        """
        return cls(WaveformModule(module, takes_lengths), sample_rate, class_names, **kwargs)

    @classmethod
    def from_modules(cls, compute_features, embedding_model, classifier, sample_rate: int,
                     mean_var_norm=None, class_names=None, label_encoder=None,
                     **kwargs) -> "ClassifierAdapter":
        """Builds the adapter from a recipe's modules (features, embedding, head)."""
        model = EncoderPipeline(compute_features, embedding_model, classifier, mean_var_norm)
        names = class_names or label_names(label_encoder)
        return cls(model, sample_rate, names, **kwargs)

    @classmethod
    def from_brain(cls, brain, sample_rate: int, **kwargs) -> "ClassifierAdapter":
        """Builds the adapter from a trained classification ``Brain``.

        Reads ``compute_features``, optional ``mean_var_norm``,
        ``embedding_model`` and ``classifier`` from ``brain.modules`` (or
        ``brain.hparams``) and the label encoder from ``brain.hparams``.
        """
        def get(name):
            mod = getattr(brain.modules, name, None)
            return mod if mod is not None else getattr(brain.hparams, name, None)

        missing = [n for n in ("compute_features", "embedding_model", "classifier") if get(n) is None]
        if missing:
            raise ValueError(f"The Brain lacks the modules {missing} needed by from_brain.")
        return cls.from_modules(
            get("compute_features"), get("embedding_model"), get("classifier"),
            sample_rate=sample_rate, mean_var_norm=get("mean_var_norm"),
            label_encoder=getattr(brain.hparams, "label_encoder", None), **kwargs,
        )

    @classmethod
    def from_hparams(cls, source: str, savedir: Optional[str] = None,
                     hparams_file: str = "hyperparams.yaml", run_opts: Optional[dict] = None,
                     sample_rate: Optional[int] = None, fetch_config=None,
                     **kwargs) -> "ClassifierAdapter":
        """Loads a SpeechBrain pretrained classifier (local folder or hub id).

        The folder holds ``hyperparams.yaml`` with ``modules`` and a
        ``pretrainer``, as written by this project's classification recipe or
        published by SpeechBrain. Two layouts are understood:
        ``EncoderClassifier`` (``compute_features``, optional
        ``mean_var_norm``, ``embedding_model``, ``classifier``) and
        ``AudioClassifier`` (``compute_stft``, optional ``compute_fbank``,
        ``embedding_model``, ``classifier``; e.g. ``speechbrain/cnn14-esc50``).

        Arguments
        ---------
        source : str
            Local folder, hub id, or the short name of a shipped model
            (:mod:`speechbrain_xai.pretrained`).
        savedir : str, optional
            Where SpeechBrain links or downloads the files; defaults to the
            source folder itself when ``source`` is a local folder.
        hparams_file : str
            Name of the hyperparameter file inside ``source``.
        run_opts : dict, optional
            SpeechBrain run options (e.g. ``{"device": "cuda:0"}``).
        sample_rate : int, optional
            Overrides the ``sample_rate`` read from the hyperparameters.
        fetch_config : speechbrain.utils.fetching.FetchConfig, optional
            How a hub id is fetched (cache folder, ``allow_network=False``
            to read only the local hub cache...).
        **kwargs
            Passed to the adapter (``class_names``, ``stft_config``, ``min_samples``).
        """
        from speechbrain.inference.interfaces import Pretrained

        from speechbrain_xai.pretrained import resolve_source

        source = resolve_source(source)
        if savedir is None and os.path.isdir(source):
            savedir = source
        fetch = {} if fetch_config is None else {"fetch_config": fetch_config}
        pretrained = Pretrained.from_hparams(
            source=source, hparams_file=hparams_file, savedir=savedir, run_opts=run_opts, **fetch
        )
        where = f"{source}/{hparams_file}"
        adapter = cls.from_pretrained(pretrained.mods, pretrained.hparams, where, sample_rate, **kwargs)
        return adapter.to(pretrained.device)

    @classmethod
    def from_pretrained(cls, mods, hparams, where: str = "the hyperparameters",
                        sample_rate: Optional[int] = None, **kwargs) -> "ClassifierAdapter":
        """Builds the adapter over the modules of an already loaded ``Pretrained``
        (``pretrained.mods``, ``pretrained.hparams``), e.g. inside another
        interface whose folder also holds a classifier. Layouts as in
        :meth:`from_hparams`.
        """
        rate = sample_rate or getattr(hparams, "sample_rate", None)
        if rate is None:
            raise ValueError(f"{where} has no sample_rate; pass sample_rate=.")
        names = label_names(getattr(hparams, "label_encoder", None))
        if "compute_stft" in mods and "embedding_model" in mods and "classifier" in mods:
            model = SpectrogramPipeline(
                mods.compute_stft, mods.embedding_model, mods.classifier,
                compute_fbank=mods["compute_fbank"] if "compute_fbank" in mods else None,
                spec_mag_power=getattr(hparams, "spec_mag_power", 0.5),
                use_melspectra=getattr(hparams, "use_melspectra", True),
            )
        elif all(k in mods for k in ("compute_features", "embedding_model", "classifier")):
            model = EncoderPipeline(
                mods.compute_features, mods.embedding_model, mods.classifier,
                mods["mean_var_norm"] if "mean_var_norm" in mods else None,
            )
        else:
            raise ValueError(
                f"{where}: unsupported module layout {sorted(mods.keys())}. Expected "
                "compute_features + embedding_model + classifier (EncoderClassifier) or "
                "compute_stft + embedding_model + classifier (AudioClassifier); for other "
                "models wrap a waveform->logits module with ClassifierAdapter.from_module."
            )
        return cls(model, rate, names, **kwargs)

    # ------------------------------------------------------------ frozen state
    def train(self, mode: bool = True):
        """The classifier stays in eval mode: explanations must not change it."""
        return super().train(False)

    @property
    def device(self) -> torch.device:
        for tensor in list(self.parameters()) + list(self.buffers()):
            return tensor.device
        return torch.device("cpu")

    @property
    def num_classes(self) -> Optional[int]:
        return len(self.class_names) if self.class_names is not None else None

    # ------------------------------------------------------------------ inputs
    def prepare(self, wavs, wav_lens=None, sample_rate: Optional[int] = None,
                require_signal: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
        """Validates and converts waveforms to the classifier's expectations.

        Accepts ``[N]`` (one clip), ``[B, N]``, or ``[B, N, C]`` (channels
        last, as SpeechBrain's audio loaders give; downmixed by averaging).
        Resamples from ``sample_rate`` to the classifier's rate. Raises a
        ``ValueError`` for empty, too short, non-finite (and, with
        ``require_signal``, silent) audio, and for bad ``wav_lens``.

        Returns
        -------
        (torch.Tensor, torch.Tensor)
            Waveforms ``[B, N]`` (float32, on the adapter's device) and
            relative lengths ``[B]``.
        """
        wavs = torch.as_tensor(wavs)
        if not torch.is_floating_point(wavs):
            raise ValueError(f"Waveforms must be floating point, got {wavs.dtype}.")
        if wavs.dim() == 1:
            wavs = wavs.unsqueeze(0)
        elif wavs.dim() == 3:
            logger.info("Downmixing %d channels to mono by averaging.", wavs.shape[-1])
            wavs = wavs.mean(dim=-1)
        elif wavs.dim() != 2:
            raise ValueError(
                f"Waveforms must be [N], [B, N] or [B, N, channels]; got shape {tuple(wavs.shape)}."
            )
        if wavs.numel() == 0:
            raise ValueError("Empty waveform batch: nothing to classify.")
        if not torch.isfinite(wavs).all():
            raise ValueError("Waveforms contain NaN or infinite samples; clean the audio first.")
        wavs = wavs.to(self.device, torch.float32)
        if wav_lens is None:
            wav_lens = torch.ones(wavs.shape[0], device=wavs.device)
        wav_lens = torch.as_tensor(wav_lens, dtype=torch.float32, device=wavs.device).reshape(-1)
        if wav_lens.shape[0] != wavs.shape[0]:
            raise ValueError(f"wav_lens has {wav_lens.shape[0]} entries for {wavs.shape[0]} waveforms.")
        if (wav_lens <= 0).any() or (wav_lens > 1).any():
            raise ValueError("wav_lens are relative lengths and must lie in (0, 1].")
        if sample_rate is not None and int(sample_rate) != self.sample_rate:
            import torchaudio.functional as AF

            wavs = AF.resample(wavs, int(sample_rate), self.sample_rate)
        abs_lens = (wav_lens * wavs.shape[1]).round().long()
        if int(abs_lens.min()) < self.min_samples:
            raise ValueError(
                f"Audio too short: {int(abs_lens.min())} samples, the classifier needs at least "
                f"{self.min_samples} ({self.min_samples / self.sample_rate:.3f} s)."
            )
        if require_signal:
            valid = torch.arange(wavs.shape[1], device=wavs.device)[None] < abs_lens[:, None]
            silent = ((wavs.abs() * valid).amax(dim=1) == 0).nonzero().flatten().tolist()
            if silent:
                raise ValueError(f"Clips {silent} are silent: there is nothing to explain.")
        return wavs, wav_lens

    # ---------------------------------------------------------------- forwards
    def forward(self, wavs: torch.Tensor, wav_lens: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Logits ``[B, C]`` for waveforms ``[B, N]`` at the classifier's rate."""
        if wav_lens is None:
            wav_lens = torch.ones(wavs.shape[0], device=wavs.device)
        return self.model(wavs, wav_lens)

    def probabilities(self, wavs, wav_lens=None) -> torch.Tensor:
        """Softmax of :meth:`forward`."""
        return self.forward(wavs, wav_lens).softmax(dim=-1)

    def predict(self, wavs, wav_lens=None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Probabilities ``[B, C]`` and predicted indices ``[B]``."""
        probs = self.probabilities(wavs, wav_lens)
        return probs, probs.argmax(dim=-1)

    @property
    def has_features(self) -> bool:
        """Whether the front-end is known, so :meth:`features` and
        :meth:`logits_from_features` work (SpeechBrain layouts, not black boxes)."""
        return hasattr(self.model, "from_features")

    def features(self, wavs: torch.Tensor) -> torch.Tensor:
        """The classifier's front-end features for waveforms (e.g. log-mel ``[B, T, n_mels]``)."""
        if not self.has_features:
            raise ValueError("This classifier is a black box: its features are unknown.")
        return self.model.features(wavs)

    def logits_from_features(self, feats: torch.Tensor,
                             wav_lens: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Logits ``[B, C]`` from front-end features (the rest of the classifier).

        This is the input domain of feature-space explainers such as
        activation maximisation: ``adapter.logits_from_features(adapter.features(w))``
        equals ``adapter(w)``.
        """
        if not self.has_features:
            raise ValueError("This classifier is a black box: its features are unknown.")
        if wav_lens is None:
            wav_lens = torch.ones(feats.shape[0], device=feats.device)
        return self.model.from_features(feats, wav_lens)

    def stft(self, wavs: torch.Tensor) -> torch.Tensor:
        """Complex STFT ``[B, T, F]`` on the adapter's mask grid."""
        return stft(wavs, self.stft_config)

    def forward_with_spectrum(self, wavs: torch.Tensor, wav_lens: Optional[torch.Tensor] = None,
                              layers: Sequence[str] = ()
                              ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:
        """One forward pass that also gives the input's complex STFT on
        :attr:`stft_config` and the outputs of the named ``layers``.

        Where the front-end computes that very STFT (:attr:`has_feature_path`)
        it is read from the front-end during the forward (a hook) instead of
        being computed a second time; otherwise it is computed with
        :meth:`stft`. Either way it equals ``adapter.stft(wavs)``.

        Returns
        -------
        (torch.Tensor, dict, torch.Tensor)
            Logits ``[B, C]``, ``{layer: output}`` and the STFT ``[B, T, F]``.

        Example
        -------
        >>> from speechbrain.lobes.features import Fbank
        >>> from speechbrain_xai.lobes.classifiers import ClassifierHead, SmallCNN
        >>> adapter = ClassifierAdapter.from_modules(
        ...     Fbank(n_mels=16), SmallCNN(16, (4,), 8), ClassifierHead(8, 2), sample_rate=16000)
        >>> wavs = torch.randn(2, 4000)
        >>> logits, reps, spec = adapter.forward_with_spectrum(wavs, layers=["embedding_model.blocks.0"])
        >>> torch.equal(spec, adapter.stft(wavs)), tuple(reps["embedding_model.blocks.0"].shape)
        (True, (2, 4, 13, 8))
        """
        front = self._front_end_stft_name() if self.has_feature_path else None
        names = list(dict.fromkeys(list(layers) + ([front] if front else [])))
        with self.capture(names) as reps:
            logits = self.forward(wavs, wav_lens)
        if front is None:
            return logits, reps, self.stft(wavs)
        # SpeechBrain's STFT gives view_as_real(stft).transpose(1, 2): (B, T, F, 2)
        out = reps[front] if front in layers else reps.pop(front)
        return logits, reps, torch.view_as_complex(out)

    def _front_end_stft_name(self) -> Optional[str]:
        """Name of the front-end's STFT module inside :attr:`model` (None if unknown)."""
        target = getattr(self.model, "stft_module", None)
        for name, module in self.model.named_modules():
            if module is target and name:
                return name
        return None

    def spectrum_logits(self, spec: torch.Tensor, length: int,
                        wav_lens: Optional[torch.Tensor] = None, path: str = "istft") -> torch.Tensor:
        """Logits for a (masked, filled or otherwise perturbed) complex STFT:
        the one place where a perturbed spectrum reaches the classifier.

        Arguments
        ---------
        spec : torch.Tensor
            Complex STFT ``[B, T, F]`` on :attr:`stft_config` (gradients flow
            back to it).
        length : int
            Number of waveform samples it stands for.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[B]``.
        path : str
            ``"istft"``: the listenable path, ISTFT then the classifier (what a
            listener hears). ``"features"``: the magnitude straight into the
            classifier's front-end (only where :attr:`has_feature_path`; skips
            the ISTFT, and differs from the ISTFT path because a perturbed STFT
            is not the STFT of any signal). ``"auto"``: ``"features"`` where
            available, else ``"istft"``.
        """
        if path == "auto":
            path = "features" if self.has_feature_path else "istft"
        if path == "istft":
            return self.forward(istft(spec, self.stft_config, length), wav_lens)
        if path == "features":
            if not self.has_feature_path:
                raise ValueError(
                    "This classifier has no known STFT front-end on the mask grid; use path='istft'."
                )
            if wav_lens is None:
                wav_lens = torch.ones(spec.shape[0], device=spec.device)
            return self.model.forward_magnitude(spec.abs(), wav_lens)
        raise ValueError(f"Unknown path {path!r}; use 'istft', 'features' or 'auto'.")

    def masked_logits(self, spec: torch.Tensor, mask: torch.Tensor, length: int,
                      wav_lens: Optional[torch.Tensor] = None, mode: str = "linear",
                      path: str = "istft") -> torch.Tensor:
        """Logits for the input masked by ``mask`` ``[B, T, F]`` in the mask
        convention ``mode`` (``"linear"`` or ``"log1p"``, see ``stft``), through
        :meth:`spectrum_logits` (same ``path`` choices)."""
        return self.spectrum_logits(apply_mask(spec, mask, mode), length, wav_lens, path)

    @property
    def feature_hop_length(self) -> Optional[int]:
        """Samples between the classifier's feature frames (None for a black box)."""
        return getattr(self.model, "feature_hop_length", None)

    def features_to_audio(self, feats: torch.Tensor, n_iter: int = 100,
                          length: Optional[int] = None) -> torch.Tensor:
        """Waveforms ``[B, N]`` for features ``[B, T, F]`` in the classifier's
        input domain (activation maximisation, GAN samples): the front-end's
        inverse (see :mod:`speechbrain_xai.frontends`) with Griffin-Lim phase."""
        render = getattr(self.model, "features_to_audio", None)
        if render is None:
            raise ValueError(
                f"No audio rendering for the front-end of {type(self.model).__name__}; supported: "
                "SpeechBrain Fbank (EncoderClassifier layout) and STFT + Filterbank/log1p "
                "(AudioClassifier layout)."
            )
        return render(feats, n_iter=n_iter, length=length)

    # ------------------------------------------------------------------ hooks
    def layer_names(self) -> List[str]:
        """Names accepted by :meth:`capture` (submodules of ``self.model``)."""
        return [name for name, _ in self.model.named_modules() if name]

    @contextlib.contextmanager
    def capture(self, layers: Sequence[str]) -> Iterator[Dict[str, torch.Tensor]]:
        """Records the outputs of named layers during forwards in the block.

        Example
        -------
        >>> net = torch.nn.Sequential(torch.nn.Linear(400, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
        >>> adapter = ClassifierAdapter.from_module(net, sample_rate=8000)
        >>> with adapter.capture(["module.1"]) as reps:
        ...     logits = adapter(torch.randn(3, 400))
        >>> reps["module.1"].shape
        torch.Size([3, 8])
        """
        modules = dict(self.model.named_modules())
        unknown = [name for name in layers if name not in modules]
        if unknown:
            raise ValueError(
                f"Unknown layers {unknown}; adapter.layer_names() lists the valid ones, "
                f"e.g. {self.layer_names()[:8]}."
            )
        outputs: Dict[str, torch.Tensor] = {}
        handles = []
        for name in layers:
            def hook(_module, _inputs, output, name=name):
                outputs[name] = output[0] if isinstance(output, (tuple, list)) else output
            handles.append(modules[name].register_forward_hook(hook))
        try:
            yield outputs
        finally:
            for handle in handles:
                handle.remove()

    # ---------------------------------------------------------------- targets
    def resolve_targets(self, target: TargetSpec, logits: torch.Tensor) -> torch.Tensor:
        """Targets ``[B]`` from ``None`` (predicted class), an int, or one per example."""
        batch, num_classes = logits.shape
        if target is None:
            return logits.argmax(dim=-1)
        if isinstance(target, str) or (
            isinstance(target, (list, tuple)) and target and isinstance(target[0], str)
        ):
            names = [target] if isinstance(target, str) else list(target)
            if self.class_names is None or any(n not in self.class_names for n in names):
                raise ValueError(f"Unknown class name(s) {names}; classes: {self.class_names}.")
            target = [self.class_names.index(n) for n in names]
        target = torch.as_tensor(target, dtype=torch.long, device=logits.device)
        if target.dim() == 0 or target.numel() == 1:
            target = target.reshape(1).expand(batch)
        if target.shape != (batch,):
            raise ValueError(f"target must be None, one int, or {batch} ints; got {tuple(target.shape)}.")
        if (target < 0).any() or (target >= num_classes).any():
            raise ValueError(f"target indices must lie in [0, {num_classes}).")
        return target.clone()
