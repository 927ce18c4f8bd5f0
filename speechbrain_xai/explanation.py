"""The one output convention shared by every explainer.

An :class:`Explanation` holds, for a batch of ``B`` clips: the mask
``[B, T, F]`` on the adapter's linear-frequency STFT grid, the explained
target class per clip, the classifier's probabilities on the input, the
masked-in and the masked-out audio, the listenable waveforms themselves, and
the method's settings. It computes the faithfulness metrics and saves itself
as wav + npy + json (+ png when matplotlib is installed).

Example
-------
>>> import torch
>>> from speechbrain_xai.adapter import ClassifierAdapter
>>> wavs = torch.randn(2, 4000)
>>> adapter = ClassifierAdapter.from_module(torch.nn.Linear(4000, 2), sample_rate=16000)
>>> spec = adapter.stft(wavs)
>>> mask = torch.rand(spec.shape)
>>> exp = Explanation.from_mask(adapter, wavs, mask, method="random")
>>> exp.probs_masked_in.shape, exp.masked_in.shape
(torch.Size([2, 2]), torch.Size([2, 4000]))
>>> torch.allclose(exp.masked_in + exp.masked_out, wavs, atol=1e-4)
True
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from speechbrain_xai.files import staged_files
from speechbrain_xai.stft import (
    FILLS,
    MASK_MODES,
    STFTConfig,
    fill_magnitude,
    masked_waveforms,
    valid_frame_counts,
)


@dataclass
class Explanation:
    """A batch of explanations (see module docstring). Tensors are on CPU."""

    mask: torch.Tensor  # (B, T, F) in [0, 1]
    target: torch.Tensor  # (B,) long
    probs_input: torch.Tensor  # (B, C)
    probs_masked_in: torch.Tensor  # (B, C)
    probs_masked_out: torch.Tensor  # (B, C)
    input_wav: torch.Tensor  # (B, N)
    masked_in: torch.Tensor  # (B, N)
    masked_out: torch.Tensor  # (B, N)
    wav_lens: torch.Tensor  # (B,) relative lengths
    sample_rate: int
    stft_config: STFTConfig
    mask_mode: str = "linear"
    method: str = ""
    settings: Dict = field(default_factory=dict)
    class_names: Optional[List[str]] = None
    fill: str = "zero"  # what removed bins became in masked_in / masked_out
    fill_seed: int = 0  # seed of the "noise" fill
    importance: Optional[torch.Tensor] = None  # (B, T, F) ranking for deletion/insertion curves
    details: Optional[List[Dict]] = None  # per example: the method's own facts
    seconds: Optional[float] = None  # wall time of the explain() call for the batch

    @classmethod
    @torch.no_grad()
    def from_mask(cls, adapter, wavs: torch.Tensor, mask: torch.Tensor,
                  wav_lens: Optional[torch.Tensor] = None, target=None,
                  mode: str = "linear", method: str = "", settings: Optional[Dict] = None,
                  probs_input: Optional[torch.Tensor] = None, fill: str = "zero",
                  fill_seed: int = 0, importance: Optional[torch.Tensor] = None,
                  details: Optional[List[Dict]] = None,
                  spec: Optional[torch.Tensor] = None) -> "Explanation":
        """Builds an explanation from a mask: the one place where the masked
        audio and the three sets of probabilities are computed.

        Arguments
        ---------
        adapter : ClassifierAdapter
            The explained classifier.
        wavs : torch.Tensor
            Prepared waveforms ``[B, N]`` at the adapter's rate.
        mask : torch.Tensor
            Masks ``[B, T, F]`` on ``adapter.stft_config``.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[B]`` (default: all 1).
        target : None, int, str or sequence
            The explained class (None: the predicted one); see
            :meth:`ClassifierAdapter.resolve_targets`.
        mode : str
            Mask convention, ``"linear"`` or ``"log1p"`` (:mod:`speechbrain_xai.stft`).
        method : str
            Name of the method that made the mask.
        settings : dict, optional
            The method's configuration (kept as given, saved as JSON).
        probs_input : torch.Tensor, optional
            The classifier's probabilities on ``wavs`` when already computed.
        fill : str
            What replaces the removed bins in the masked-in and masked-out
            audio: ``"zero"`` (silence, the mask convention), ``"mean"`` or
            ``"noise"`` (:func:`speechbrain_xai.stft.fill_magnitude`, seeded by
            ``fill_seed``); linear masks only.
        importance : torch.Tensor, optional
            ``[B, T, F]`` ranking of the bins for deletion / insertion curves
            (default: the mask).
        details : list of dict, optional
            Per-example facts of the method (JSON-ready).
        spec : torch.Tensor, optional
            ``adapter.stft(wavs)`` when already computed.
        """
        if mode not in MASK_MODES:
            raise ValueError(f"Unknown mask mode {mode!r}; use one of {MASK_MODES}.")
        if fill not in FILLS:
            raise ValueError(f"Unknown fill {fill!r}; use one of {FILLS}.")
        if wav_lens is None:
            wav_lens = torch.ones(wavs.shape[0], device=wavs.device)
        if probs_input is None:
            probs_input = adapter.probabilities(wavs, wav_lens)
        target = adapter.resolve_targets(target, probs_input)
        if spec is None:
            spec = adapter.stft(wavs)
        mask = mask.detach().to(spec.device).clamp(0.0, 1.0)
        fill_mag = None
        if fill != "zero":
            valid = valid_frame_counts(wav_lens, wavs.shape[1], adapter.stft_config)
            fill_mag = fill_magnitude(spec, fill, valid, fill_seed)
        masked_in, masked_out = masked_waveforms(spec, mask, adapter.stft_config, wavs.shape[1],
                                                 mode, fill_mag, wavs=wavs)
        # masked-in and masked-out audio in one forward pass (one call of 2B, not two of B)
        probs_in, probs_out = adapter.probabilities(torch.cat([masked_in, masked_out]),
                                                    torch.cat([wav_lens, wav_lens])).split(wavs.shape[0])
        if details is not None and len(details) != wavs.shape[0]:
            raise ValueError(f"details has {len(details)} entries for {wavs.shape[0]} examples.")
        cpu = lambda t: None if t is None else t.detach().cpu()  # noqa: E731
        return cls(
            mask=cpu(mask), target=cpu(target), probs_input=cpu(probs_input),
            probs_masked_in=cpu(probs_in), probs_masked_out=cpu(probs_out),
            input_wav=cpu(wavs), masked_in=cpu(masked_in), masked_out=cpu(masked_out),
            wav_lens=cpu(wav_lens), sample_rate=adapter.sample_rate,
            stft_config=adapter.stft_config, mask_mode=mode, method=method,
            settings=dict(settings or {}), class_names=adapter.class_names, fill=fill,
            fill_seed=int(fill_seed), importance=cpu(importance), details=None if details is None else list(details),
        )

    def __len__(self) -> int:
        return self.mask.shape[0]

    def __getitem__(self, index) -> "Explanation":
        """One example (or a slice) as an ``Explanation`` of its own."""
        if isinstance(index, int):
            index = slice(index, index + 1 if index != -1 else None)
        kwargs = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, torch.Tensor) or (name == "details" and value is not None):
                value = value[index]
            kwargs[name] = value
        part = Explanation(**kwargs)
        if self.seconds is not None:  # the batch's time, shared evenly
            part.seconds = self.seconds * len(part) / len(self)
        return part

    def metrics(self) -> Dict[str, torch.Tensor]:
        """Faithfulness metrics per example (AI, AD, AG, FF, Fid-In, SPS, COMP)."""
        from speechbrain_xai.metrics import faithfulness_metrics

        return faithfulness_metrics(
            self.probs_input, self.probs_masked_in, self.probs_masked_out, self.target, self.mask
        )

    def _valid_samples(self, i: int) -> int:
        return int(round(float(self.wav_lens[i]) * self.input_wav.shape[1]))

    def summary(self, i: int) -> Dict:
        """JSON-ready description of example ``i``."""
        c = int(self.target[i])
        name = self.class_names[c] if self.class_names else str(c)
        return {
            "method": self.method,
            "target": c,
            "target_name": name,
            "prob_input": float(self.probs_input[i, c]),
            "prob_masked_in": float(self.probs_masked_in[i, c]),
            "prob_masked_out": float(self.probs_masked_out[i, c]),
            "probs_input": self.probs_input[i].tolist(),
            "probs_masked_in": self.probs_masked_in[i].tolist(),
            "probs_masked_out": self.probs_masked_out[i].tolist(),
            "metrics": {k: float(v[i]) for k, v in self.metrics().items()},
            "class_names": self.class_names,
            "sample_rate": self.sample_rate,
            "num_samples": self._valid_samples(i),
            "mask_mode": self.mask_mode,
            "fill": self.fill,
            "mask_shape": list(self.mask.shape[1:]),
            "stft": self.stft_config.to_dict(),
            "settings": jsonable(self.settings),
            "details": jsonable(self.details[i]) if self.details is not None else {},
            "seconds": None if self.seconds is None else self.seconds / len(self),
        }

    def save(self, folder: str, ids: Optional[Sequence[str]] = None, plot: bool = True,
             extra: Optional[Sequence[Dict]] = None) -> List[str]:
        """Writes each example as ``{id}_{input,masked_in,masked_out}.wav``,
        ``{id}_mask.npy``, ``{id}.png`` (when matplotlib is there) and
        ``{id}.json`` (written last, so its presence marks a complete output).
        Audio is 32-bit float WAV: lossless, and masked audio louder than
        full scale is not clipped.

        Files are first written to a temporary folder inside ``folder`` and
        then moved into place, so an interrupted save never leaves a json next
        to missing or truncated audio. ``extra`` (one dict per example) is
        merged into each json.

        Returns
        -------
        list of str
            The paths of the json files.
        """
        import soundfile as sf

        ids = list(ids) if ids is not None else [f"explanation_{i}" for i in range(len(self))]
        if len(ids) != len(self):
            raise ValueError(f"{len(ids)} ids for {len(self)} explanations.")
        bad = [i for i in ids if not i or "/" in i or os.sep in i or i.startswith(".")]
        if bad:
            raise ValueError(f"ids must be plain file names, got {bad}; make them with "
                             "speechbrain_xai.data.inputs.safe_id / unique_ids.")
        os.makedirs(folder, exist_ok=True)
        plotter = None
        if plot:
            try:
                from speechbrain_xai.plotting import plot_explanation as plotter
            except ImportError:
                plotter = None
        written = []
        for i, ex_id in enumerate(ids):
            # staged, then moved in with the json last: it marks a finished output
            with staged_files(folder, last_suffix=".json") as tmp:
                n = self._valid_samples(i)
                for kind in ("input_wav", "masked_in", "masked_out"):
                    name = "input" if kind == "input_wav" else kind
                    audio = getattr(self, kind)[i, :n].numpy().astype(np.float32)
                    sf.write(os.path.join(tmp, f"{ex_id}_{name}.wav"), audio, self.sample_rate, subtype="FLOAT")
                np.save(os.path.join(tmp, f"{ex_id}_mask.npy"), self.mask[i].numpy())
                if plotter is not None:
                    plotter(self[i], os.path.join(tmp, f"{ex_id}.png"))
                summary = self.summary(i)
                if extra is not None:
                    summary.update(jsonable(extra[i]))
                with open(os.path.join(tmp, f"{ex_id}.json"), "w") as f:
                    json.dump(summary, f, indent=2)
            written.append(os.path.join(folder, f"{ex_id}.json"))
        return written


def is_saved(folder: str, ex_id: str) -> bool:
    """Whether :meth:`Explanation.save` finished writing ``ex_id`` in ``folder``."""
    return os.path.isfile(os.path.join(folder, f"{ex_id}.json"))


def jsonable(value):
    """A JSON-ready copy of settings and details: containers recursively,
    one-element tensors as numbers, larger tensors as a shape summary,
    functions and classes by name (``functools.partial`` by its function)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else f"tensor{list(value.shape)}"
    inner = getattr(value, "func", value)  # functools.partial
    if hasattr(inner, "__name__"):
        return inner.__name__
    return repr(value)
