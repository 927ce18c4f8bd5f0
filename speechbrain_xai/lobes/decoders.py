"""Small mask decoders for L-MAC.

A :class:`MaskDecoder` reads a frozen classifier's hidden representations
(captured with :meth:`ClassifierAdapter.capture`) and outputs a mask
``[B, T, F]`` in ``[0, 1]`` on the linear-frequency STFT grid of the input,
for any number of frames ``T``.

Two kinds of representation are understood:

* 2-D convolutional maps ``[B, C, T', F']`` whose frequency axis spans the
  classifier's (mel or linear) feature axis;
* 1-D frame sequences ``[B, T', C]`` or ``[B, C, T']`` (e.g. ECAPA or
  transformer layers), which carry no frequency axis: they are broadcast over
  frequency and the log-magnitude skip path supplies the spectral detail.

Each map is projected to ``hidden`` channels by a 1x1 convolution at its own
(small) resolution and upsampled to the finest map's grid (the classifier's
own time and feature axes); a few 3x3 convolutions fuse them into one coarse
logit map. That map is resampled once to the STFT grid with ``grid_sample``:
linearly in time and, on the frequency axis, at the mel positions of the
linear STFT bins (``freq_scale="mel"``), so no parameters are spent on the
mel -> linear mapping. At full resolution a learned per-frequency gain on the
input's normalised log-magnitude (a cheap skip path) adds the fine spectral
detail, and a sigmoid gives the mask. Only elementwise operations run at full
resolution: convolutions there would cost as much as the classifier.

With ``num_classes``, the last 1x1 convolution has one output per class of
the classifier and the explained class's map is kept (before the resampling,
so the extra heads cost nothing at full resolution). A class-agnostic decoder
has to guess from the representations which decision it explains, and on a
two-class voice detector it learns to mask the background too (what explains
"no voice"); see the VocalMix interpret README for what that costs.

SpeechBrain's ESC50 decoder (``CNN14PSI_stft(dim=2048)``) has 236.7 M
parameters and only accepts 5 s clips; this one has a few thousand.

Example
-------
>>> import torch
>>> dec = MaskDecoder(layer_channels=[8, 16], n_freq=201, hidden=8)
>>> maps = [torch.randn(2, 8, 50, 20), torch.randn(2, 16, 25, 10)]
>>> log_mag = torch.randn(2, 101, 201)
>>> dec(maps, log_mag).shape
torch.Size([2, 101, 201])
>>> per_class = MaskDecoder(layer_channels=[8, 16], n_freq=201, hidden=8, num_classes=3)
>>> per_class(maps, log_mag, target=torch.tensor([2, 0])).shape
torch.Size([2, 101, 201])
>>> seq = MaskDecoder(layer_channels=[12], n_freq=65, freq_scale="linear")
>>> seq([torch.randn(2, 30, 12)], torch.randn(2, 61, 65)).shape
torch.Size([2, 61, 65])
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from speechbrain_xai.frontends import frequency_positions
from speechbrain_xai.lobes.folding import batchnorm_affine
from speechbrain_xai.stft import to_grid


def log_magnitude(spec: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """``log(|X| + eps)`` of a complex STFT, ``[B, T, F]`` (the decoder's skip input)."""
    return spec.abs().add_(eps).log_()  # in place on the fresh magnitude: one full-size tensor


class MaskDecoder(nn.Module):
    """Hidden representations (+ input log-magnitude) -> mask ``[B, T, F]``.

    Arguments
    ---------
    layer_channels : sequence of int
        Channels ``C`` of each captured representation, in the order the
        maps are passed to :meth:`forward`.
    n_freq : int
        Number of STFT bins of the mask grid (``n_fft // 2 + 1``).
    hidden : int
        Channels of the fusion convolutions.
    num_fusion_layers : int
        Number of 3x3 convolutions on the working grid.
    freq_scale : str
        Frequency axis of the 2-D maps: ``"mel"`` or ``"linear"``.
    sample_rate : int
        Sample rate of the audio (for the mel positions).
    f_min, f_max : float
        Frequency range of the classifier's features (``f_max`` defaults to
        Nyquist).
    num_classes : int, optional
        One output head per class of the classifier: :meth:`forward` then
        takes the class to explain (``target``) and returns that class's mask.
        The decoder knows which decision it explains instead of having to
        guess it from the representations (None: one class-agnostic head, as
        in the L-MAC paper).
    modulated_skip : bool
        The gain of the log-magnitude skip path also comes from the
        representations (a second output map, per class with
        ``num_classes``), so it can change over time: "follow the loud bins
        here, not there". False: one learned gain per frequency bin, the same
        in every frame.
    """

    def __init__(self, layer_channels: Sequence[int], n_freq: int, hidden: int = 16,
                 num_fusion_layers: int = 2, freq_scale: str = "mel", sample_rate: int = 16000,
                 f_min: float = 0.0, f_max: Optional[float] = None,
                 num_classes: Optional[int] = None, modulated_skip: bool = False):
        super().__init__()
        if not layer_channels:
            raise ValueError("MaskDecoder needs at least one layer (layer_channels is empty).")
        self.config = dict(
            layer_channels=[int(c) for c in layer_channels], n_freq=int(n_freq), hidden=hidden,
            num_fusion_layers=num_fusion_layers, freq_scale=freq_scale,
            sample_rate=sample_rate, f_min=f_min, f_max=f_max,
        )
        if num_classes is not None:
            if int(num_classes) < 1:
                raise ValueError(f"num_classes must be a positive number of classes, got {num_classes}.")
            self.config["num_classes"] = int(num_classes)
        self.num_classes = self.config.get("num_classes")
        if modulated_skip:
            self.config["modulated_skip"] = True
        self.modulated_skip = bool(modulated_skip)
        self.layer_channels = list(self.config["layer_channels"])
        self.n_freq = int(n_freq)
        freq_pos = frequency_positions(n_freq, sample_rate, freq_scale, f_min, f_max)
        self.register_buffer("freq_pos", freq_pos, persistent=False)
        self.projections = nn.ModuleList(nn.Conv2d(c, hidden, 1) for c in self.layer_channels)
        fusion: List[nn.Module] = []
        for _ in range(num_fusion_layers):
            fusion += [nn.Conv2d(hidden, hidden, 3, padding=1), nn.BatchNorm2d(hidden), nn.ReLU()]
        self.fusion = nn.Sequential(*fusion)
        self.to_logit = nn.Conv2d(hidden, self.num_classes or 1, 1)
        if self.modulated_skip:
            # zero at the start: the skip path's gain begins as the per-frequency one
            self.to_gain = nn.Conv2d(hidden, self.num_classes or 1, 1)
            nn.init.zeros_(self.to_gain.weight), nn.init.zeros_(self.to_gain.bias)
        # full-resolution refinement: a per-frequency gain and bias on the
        # log-magnitude (elementwise: convolutions at full resolution would
        # cost as much as the classifier itself)
        self.refine_gain = nn.Parameter(torch.zeros(self.n_freq))
        self.refine_bias = nn.Parameter(torch.zeros(self.n_freq))

    def _as_map(self, rep: torch.Tensor, channels: int) -> torch.Tensor:
        """Any supported representation as a 2-D map ``[B, C, T', F']``."""
        if rep.dim() == 4 and rep.shape[1] == channels:
            return rep
        if rep.dim() == 3 and rep.shape[-1] == channels:  # (B, T', C)
            return rep.transpose(1, 2).unsqueeze(-1)
        if rep.dim() == 3 and rep.shape[1] == channels:  # (B, C, T')
            return rep.unsqueeze(-1)
        raise ValueError(
            f"Representation of shape {tuple(rep.shape)} does not have the declared {channels} "
            "channels; expected [B, C, T', F'], [B, T', C] or [B, C, T']. Check layer_channels."
        )

    def forward(self, reps: Sequence[torch.Tensor], log_mag: torch.Tensor,
                target: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Mask ``[B, T, F]`` from the representations and the input's
        log-magnitude ``[B, T, F]`` (see :func:`log_magnitude`; it is
        standardised per example inside, so loudness does not matter). A
        decoder with ``num_classes`` needs ``target`` ``[B]``, the class whose
        mask is returned; a class-agnostic one ignores it."""
        if len(reps) != len(self.projections):
            raise ValueError(f"Got {len(reps)} representations for {len(self.projections)} layers.")
        if log_mag.dim() != 3 or log_mag.shape[-1] != self.n_freq:
            raise ValueError(
                f"log_mag must be [B, T, {self.n_freq}] (the STFT grid the decoder was built for), "
                f"got {tuple(log_mag.shape)}."
            )
        # channels-last throughout: several times faster for few-channel
        # convolutions on CPU (and a 1x1 convolution then beats a matrix product)
        maps = [proj(self._as_map(rep, c).contiguous(memory_format=torch.channels_last))
                for rep, c, proj in zip(reps, self.layer_channels, self.projections)]
        # working grid: the finest time and frequency resolution among the maps
        # (the classifier's own feature axes, e.g. mel)
        size = (max(m.shape[2] for m in maps), max(m.shape[3] for m in maps))
        x = maps[0] if maps[0].shape[2:] == size else F.interpolate(
            maps[0], size=size, mode="bilinear", align_corners=False)
        for m in maps[1:]:
            x = x.add_(F.interpolate(m, size=size, mode="bilinear", align_corners=False))
        x = self.fusion(x) if self.training else _fused_eval(self.fusion, x)
        heads = [self.to_logit(x)]  # (B, num_classes or 1, T', F') each
        if self.modulated_skip:
            heads.append(self.to_gain(x))
        if self.num_classes:
            index = self._target_index(target, heads[0])
            heads = [h.gather(1, index) for h in heads]
        # one resampling to the STFT grid: linear in time, mel-aware in frequency
        maps = to_grid(torch.cat(heads, dim=1), log_mag.shape[1], self.freq_pos)  # (B, 1 or 2, T, F)
        logit = maps[:, 0]  # (B, T, F)
        gain = self.refine_gain + maps[:, 1] if self.modulated_skip else self.refine_gain
        # gain * standardised log-magnitude, folded into one full-resolution op:
        # gain * (L - mean) / std = (gain / std) * L - gain * mean / std
        # (in place on the fresh resampled map: nothing else holds it)
        std, mean = _std_mean(log_mag)  # (B, 1, 1)
        scale = gain / std.clamp_min(1e-3)  # (B, 1, F), or (B, T, F) when modulated
        return logit.add_(self.refine_bias - scale * mean).addcmul_(log_mag, scale).sigmoid_()

    def _target_index(self, target: Optional[torch.Tensor], logit: torch.Tensor) -> torch.Tensor:
        """``target`` ``[B]`` checked, as the index of :meth:`forward`'s ``gather``."""
        if target is None:
            raise ValueError("This decoder has one mask per class (num_classes="
                             f"{self.num_classes}): pass target, the class to explain.")
        target = torch.as_tensor(target, device=logit.device).long().reshape(-1)
        if target.shape[0] != logit.shape[0]:
            raise ValueError(f"Got {target.shape[0]} targets for a batch of {logit.shape[0]}.")
        if bool(((target < 0) | (target >= self.num_classes)).any()):
            raise ValueError(f"Target classes {target.tolist()} are outside the decoder's "
                             f"{self.num_classes} classes.")
        return target.view(-1, 1, 1, 1).expand(-1, 1, *logit.shape[2:])


def _std_mean(x: torch.Tensor):
    """Standard deviation (unbiased) and mean of each example of ``x`` ``[B, ...]``,
    shaped ``[B, 1, 1, ...]``: two passes (mean, then the norm of the centred
    values), as accurate as ``torch.std_mean`` and several times faster on CPU."""
    flat = x.flatten(1)
    mean = flat.mean(dim=1, keepdim=True)
    std = torch.linalg.vector_norm(flat - mean, dim=1, keepdim=True) / max(flat.shape[1] - 1, 1) ** 0.5
    shape = (-1,) + (1,) * (x.dim() - 1)
    return std.view(shape), mean.view(shape)


def _fused_eval(fusion: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """``fusion(x)`` in eval mode with each BatchNorm folded into the
    convolution before it (its running statistics become a per-channel scale
    of the weights and a bias) and the ReLUs in place: the same function,
    equal within float rounding, with two fewer passes over the map per layer
    (the weights are folded at each call: they may be training, see
    :mod:`speechbrain_xai.lobes.folding`)."""
    layers = list(fusion)
    i = 0
    while i < len(layers):
        conv = layers[i]
        norm = layers[i + 1] if i + 1 < len(layers) else None
        if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d) and norm.track_running_stats:
            scale, shift = batchnorm_affine(norm)  # (C,)
            if conv.bias is not None:
                shift = torch.addcmul(shift, conv.bias, scale)
            x = F.conv2d(x, conv.weight * scale[:, None, None, None], shift,
                         conv.stride, conv.padding, conv.dilation, conv.groups)
            i += 2
        elif isinstance(conv, nn.ReLU):
            x = x.relu_()
            i += 1
        else:
            x = conv(x)
            i += 1
    return x


def count_parameters(module: nn.Module) -> int:
    """Number of parameters of a module (trainable or frozen).

    >>> count_parameters(nn.Linear(3, 2))
    8
    """
    return sum(p.numel() for p in module.parameters())


def decoder_yaml(decoder: MaskDecoder, key: str = "decoder") -> str:
    """HyperPyYAML that rebuilds ``decoder`` (used when exporting interpreters).

    >>> print(decoder_yaml(MaskDecoder([4], 9, hidden=2)).splitlines()[0])
    decoder: !new:speechbrain_xai.lobes.decoders.MaskDecoder
    """
    import json

    lines = [f"{key}: !new:speechbrain_xai.lobes.decoders.MaskDecoder"]
    lines += [f"    {name}: {json.dumps(value)}" for name, value in decoder.config.items()]
    return "\n".join(lines) + "\n"


def stack_representations(reps: Dict[str, torch.Tensor], layers: Sequence[str]) -> List[torch.Tensor]:
    """The captured representations in decoder order, with a clear error for a missing layer."""
    missing = [name for name in layers if name not in reps]
    if missing:
        raise ValueError(f"Layers {missing} produced no output during the forward pass.")
    return [reps[name] for name in layers]
