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
>>> net = torch.nn.Sequential(torch.nn.Linear(4000, 2))
>>> adapter = ClassifierAdapter.from_module(net, sample_rate=16000)
>>> wavs = torch.randn(2, 4000)
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
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from speechbrain_xai.stft import MASK_MODES, STFTConfig, masked_waveforms


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

    @classmethod
    @torch.no_grad()
    def from_mask(cls, adapter, wavs: torch.Tensor, mask: torch.Tensor,
                  wav_lens: Optional[torch.Tensor] = None, target=None,
                  mode: str = "linear", method: str = "", settings: Optional[Dict] = None,
                  probs_input: Optional[torch.Tensor] = None) -> "Explanation":
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
        wav_lens, target, mode, method, settings
            As everywhere in the package.
        probs_input : torch.Tensor, optional
            The classifier's probabilities on ``wavs`` when already computed.
        """
        if mode not in MASK_MODES:
            raise ValueError(f"Unknown mask mode {mode!r}; use one of {MASK_MODES}.")
        if wav_lens is None:
            wav_lens = torch.ones(wavs.shape[0], device=wavs.device)
        if probs_input is None:
            probs_input = adapter.probabilities(wavs, wav_lens)
        target = adapter.resolve_targets(target, probs_input)
        spec = adapter.stft(wavs)
        mask = mask.detach().to(spec.device).clamp(0.0, 1.0)
        masked_in, masked_out = masked_waveforms(spec, mask, adapter.stft_config, wavs.shape[1], mode)
        probs_in = adapter.probabilities(masked_in, wav_lens)
        probs_out = adapter.probabilities(masked_out, wav_lens)
        cpu = lambda t: t.detach().cpu()  # noqa: E731
        return cls(
            mask=cpu(mask), target=cpu(target), probs_input=cpu(probs_input),
            probs_masked_in=cpu(probs_in), probs_masked_out=cpu(probs_out),
            input_wav=cpu(wavs), masked_in=cpu(masked_in), masked_out=cpu(masked_out),
            wav_lens=cpu(wav_lens), sample_rate=adapter.sample_rate,
            stft_config=adapter.stft_config, mask_mode=mode, method=method,
            settings=dict(settings or {}), class_names=adapter.class_names,
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
            kwargs[name] = value[index] if isinstance(value, torch.Tensor) else value
        return Explanation(**kwargs)

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
            "mask_shape": list(self.mask.shape[1:]),
            "stft": self.stft_config.to_dict(),
            "settings": _jsonable(self.settings),
        }

    def save(self, folder: str, ids: Optional[Sequence[str]] = None, plot: bool = True) -> List[str]:
        """Writes each example as ``{id}_{input,masked_in,masked_out}.wav``,
        ``{id}_mask.npy``, ``{id}.png`` (when matplotlib is there) and
        ``{id}.json`` (written last, so its presence marks a complete output).
        Audio is 32-bit float WAV: lossless, and masked audio louder than
        full scale is not clipped.

        Files are first written to a temporary folder inside ``folder`` and
        then moved into place, so an interrupted save never leaves a json next
        to missing or truncated audio.

        Returns
        -------
        list of str
            The paths of the json files.
        """
        import soundfile as sf

        ids = list(ids) if ids is not None else [f"explanation_{i}" for i in range(len(self))]
        if len(ids) != len(self):
            raise ValueError(f"{len(ids)} ids for {len(self)} explanations.")
        bad = [i for i in ids if not i or os.sep in i or i.startswith(".")]
        if bad:
            raise ValueError(f"ids must be plain file names, got {bad}.")
        os.makedirs(folder, exist_ok=True)
        plotter = None
        if plot:
            try:
                from speechbrain_xai.plotting import plot_explanation as plotter
            except ImportError:
                plotter = None
        written = []
        for i, ex_id in enumerate(ids):
            tmp = tempfile.mkdtemp(prefix=f".{ex_id}.", dir=folder)
            try:
                n = self._valid_samples(i)
                for kind in ("input_wav", "masked_in", "masked_out"):
                    name = "input" if kind == "input_wav" else kind
                    audio = getattr(self, kind)[i, :n].numpy().astype(np.float32)
                    sf.write(os.path.join(tmp, f"{ex_id}_{name}.wav"), audio, self.sample_rate, subtype="FLOAT")
                np.save(os.path.join(tmp, f"{ex_id}_mask.npy"), self.mask[i].numpy())
                if plotter is not None:
                    plotter(self[i], os.path.join(tmp, f"{ex_id}.png"))
                with open(os.path.join(tmp, f"{ex_id}.json"), "w") as f:
                    json.dump(self.summary(i), f, indent=2)
                # json last: it marks a finished output
                names = sorted(os.listdir(tmp), key=lambda s: s.endswith(".json"))
                for name in names:
                    os.replace(os.path.join(tmp, name), os.path.join(folder, name))
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            written.append(os.path.join(folder, f"{ex_id}.json"))
        return written


def is_saved(folder: str, ex_id: str) -> bool:
    """Whether :meth:`Explanation.save` finished writing ``ex_id`` in ``folder``."""
    return os.path.isfile(os.path.join(folder, f"{ex_id}.json"))


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if hasattr(value, "__name__"):
        return value.__name__
    return repr(value)
