"""Baseline explainers for L-MAC, on the same mask grid and convention.

Every baseline returns masks ``[B, T, F]`` in ``[0, 1]`` on the adapter's
linear STFT grid, so they go through the same :class:`Explanation` and metric
code as L-MAC. Gradient maps are computed with respect to the STFT magnitude
``|X|`` (phase held fixed), the quantity a mask scales, and each map is
divided by its per-example maximum, as in the L-MAC paper's baselines.

* :class:`Saliency` -- ``|d f_c / d|X||``;
* :class:`IntegratedGradients` -- zero baseline, midpoint Riemann sum, absolute value;
* :class:`SmoothGrad` -- saliency averaged over noisy copies of ``|X|``
  (noise standard deviation a fraction of each example's magnitude range);
* :class:`GradCAM` -- via captum's ``LayerGradCam`` (captum is an optional
  extra, imported when used), resampled from the layer's map to the STFT grid;
* :class:`AllOnes` and :class:`RandomMask` -- reference points.

``f_c`` is the target logit. The classifier is reached through the fast
feature path when the adapter has one (``path="auto"``), else through the
ISTFT.

Example
-------
>>> import torch
>>> from speechbrain_xai.adapter import ClassifierAdapter
>>> net = torch.nn.Sequential(torch.nn.Linear(1600, 3))
>>> adapter = ClassifierAdapter.from_module(net, sample_rate=16000)
>>> masks = Saliency().masks(adapter, torch.randn(2, 1600))
>>> masks.shape, float(masks.amax(dim=(1, 2)).min())
(torch.Size([2, 11, 201]), 1.0)
"""

from __future__ import annotations

from typing import Optional

import torch

from speechbrain_xai.explanation import Explanation
from speechbrain_xai.lobes.decoders import frequency_positions, to_grid
from speechbrain_xai.stft import istft


def logits_from_magnitude(adapter, mag: torch.Tensor, phase: torch.Tensor, length: int,
                          wav_lens: torch.Tensor, path: str = "auto") -> torch.Tensor:
    """Classifier logits for the magnitude ``mag`` with the unit phase ``phase`` (both ``[B, T, F]``)."""
    if path == "auto":
        path = "features" if adapter.has_feature_path else "istft"
    if path == "features":
        return adapter.model.forward_magnitude(mag, wav_lens)
    if path == "istft":
        return adapter(istft(mag * phase, adapter.stft_config, length), wav_lens)
    raise ValueError(f"Unknown path {path!r}; use 'auto', 'features' or 'istft'.")


def normalize_by_max(attr: torch.Tensor) -> torch.Tensor:
    """Non-negative maps ``[B, ...]`` divided by their per-example maximum (all-zero stays zero).

    >>> normalize_by_max(torch.tensor([[2.0, 1.0], [0.0, 0.0]]))
    tensor([[1.0000, 0.5000],
            [0.0000, 0.0000]])
    """
    peak = attr.flatten(1).amax(dim=1).clamp_min(1e-12)
    return attr / peak.reshape(-1, *([1] * (attr.dim() - 1)))


class MaskExplainer:
    """Base: ``masks(adapter, wavs, wav_lens, target)`` and ``explain(...)``.

    Arguments
    ---------
    path : str
        ``"auto"``, ``"features"`` or ``"istft"`` (how the classifier is reached).
    """

    name = "mask"

    def __init__(self, path: str = "auto"):
        self.path = path

    def attribute(self, adapter, mag, phase, length, wav_lens, target) -> torch.Tensor:
        raise NotImplementedError

    def masks(self, adapter, wavs: torch.Tensor, wav_lens: Optional[torch.Tensor] = None,
              target=None) -> torch.Tensor:
        """Masks ``[B, T, F]`` in ``[0, 1]`` for prepared waveforms ``[B, N]``."""
        if wav_lens is None:
            wav_lens = torch.ones(wavs.shape[0], device=wavs.device)
        spec = adapter.stft(wavs)
        mag = spec.abs()
        phase = torch.polar(torch.ones_like(mag), spec.angle())
        with torch.no_grad():
            logits = logits_from_magnitude(adapter, mag, phase, wavs.shape[1], wav_lens, self.path)
        target = adapter.resolve_targets(target, logits)
        with torch.enable_grad():
            attr = self.attribute(adapter, mag, phase, wavs.shape[1], wav_lens, target)
        return normalize_by_max(attr.detach().clamp_min(0.0)).clamp(0.0, 1.0)

    def explain(self, adapter, wavs: torch.Tensor, wav_lens: Optional[torch.Tensor] = None,
                target=None, mode: str = "linear") -> Explanation:
        """The masks as an :class:`Explanation` (masked audio, probabilities)."""
        wavs, wav_lens = adapter.prepare(wavs, wav_lens)
        masks = self.masks(adapter, wavs, wav_lens, target)
        return Explanation.from_mask(adapter, wavs, masks, wav_lens, target, mode=mode,
                                     method=self.name, settings=dict(vars(self)))

    def _grad(self, adapter, mag, phase, length, wav_lens, target) -> torch.Tensor:
        mag = mag.detach().requires_grad_(True)
        logits = logits_from_magnitude(adapter, mag, phase, length, wav_lens, self.path)
        score = logits.gather(1, target[:, None]).sum()
        (grad,) = torch.autograd.grad(score, mag)
        return grad


class Saliency(MaskExplainer):
    """Absolute gradient of the target logit w.r.t. ``|X|``."""

    name = "saliency"

    def attribute(self, adapter, mag, phase, length, wav_lens, target):
        return self._grad(adapter, mag, phase, length, wav_lens, target).abs()


class IntegratedGradients(MaskExplainer):
    """``|X| * mean_k grad(alpha_k |X|)`` from a zero baseline, absolute value.

    Arguments
    ---------
    n_steps : int
        Points of the (midpoint) Riemann sum; the paper's baseline used 200.
    path : str
        See :class:`MaskExplainer`.
    """

    name = "integrated_gradients"

    def __init__(self, n_steps: int = 50, path: str = "auto"):
        super().__init__(path)
        self.n_steps = int(n_steps)

    def attribute(self, adapter, mag, phase, length, wav_lens, target):
        total = torch.zeros_like(mag)
        for k in range(self.n_steps):
            alpha = (k + 0.5) / self.n_steps
            total += self._grad(adapter, alpha * mag, phase, length, wav_lens, target)
        return (mag * total / self.n_steps).abs()


class SmoothGrad(MaskExplainer):
    """Saliency averaged over ``n_samples`` noisy copies of ``|X|``.

    Arguments
    ---------
    n_samples : int
        Noisy copies (the paper's baseline used 50).
    noise_level : float
        Noise standard deviation as a fraction of each example's magnitude range.
    seed : int
        Seed of the noise (explanations are reproducible).
    path : str
        See :class:`MaskExplainer`.
    """

    name = "smoothgrad"

    def __init__(self, n_samples: int = 20, noise_level: float = 0.15, seed: int = 0,
                 path: str = "auto"):
        super().__init__(path)
        self.n_samples = int(n_samples)
        self.noise_level = float(noise_level)
        self.seed = int(seed)

    def attribute(self, adapter, mag, phase, length, wav_lens, target):
        generator = torch.Generator().manual_seed(self.seed)
        flat = mag.flatten(1)
        sigma = (self.noise_level * (flat.amax(1) - flat.amin(1))).reshape(-1, 1, 1)
        total = torch.zeros_like(mag)
        for _ in range(self.n_samples):
            noise = torch.randn(mag.shape, generator=generator).to(mag) * sigma
            total += self._grad(adapter, mag + noise, phase, length, wav_lens, target).abs()
        return total / self.n_samples


class GradCAM(MaskExplainer):
    """Grad-CAM on a 2-D convolutional layer (captum's ``LayerGradCam``).

    The layer's ``[T', F']`` map is resampled to the STFT grid (mel-aware on
    the frequency axis, as the L-MAC decoder does).

    Arguments
    ---------
    layer : str
        Name of the layer in ``adapter.layer_names()`` (e.g.
        ``embedding_model.blocks.2``).
    freq_scale, f_min, f_max : see :func:`speechbrain_xai.lobes.decoders.frequency_positions`.
    path : str
        See :class:`MaskExplainer`.
    """

    name = "gradcam"

    def __init__(self, layer: str, freq_scale: str = "mel", f_min: float = 0.0,
                 f_max: Optional[float] = None, path: str = "auto"):
        super().__init__(path)
        self.layer = layer
        self.freq_scale, self.f_min, self.f_max = freq_scale, f_min, f_max

    def attribute(self, adapter, mag, phase, length, wav_lens, target):
        try:
            from captum.attr import LayerGradCam
        except ImportError as err:  # optional extra
            raise ImportError("GradCAM needs captum: pip install captum.") from err
        modules = dict(adapter.model.named_modules())
        if self.layer not in modules:
            raise ValueError(f"Unknown layer {self.layer!r}; see adapter.layer_names().")

        def forward(m, ph, lens):
            return logits_from_magnitude(adapter, m, ph, length, lens, self.path)

        cam = LayerGradCam(forward, modules[self.layer]).attribute(
            mag.detach().requires_grad_(True), target=target,
            additional_forward_args=(phase, wav_lens), relu_attributions=True,
        )
        if cam.dim() != 4:
            raise ValueError(f"GradCAM needs a 2-D convolutional layer; {self.layer!r} gave "
                             f"shape {tuple(cam.shape)}.")
        cfg = adapter.stft_config
        pos = frequency_positions(cfg.n_freq, cfg.sample_rate, self.freq_scale, self.f_min, self.f_max)
        return to_grid(cam, mag.shape[1], pos).squeeze(1)


class AllOnes(MaskExplainer):
    """The all-ones mask (keeps everything: masked-in = input)."""

    name = "all_ones"

    def attribute(self, adapter, mag, phase, length, wav_lens, target):
        return torch.ones_like(mag)


class RandomMask(MaskExplainer):
    """Uniform random masks (seeded)."""

    name = "random"

    def __init__(self, seed: int = 0, path: str = "auto"):
        super().__init__(path)
        self.seed = int(seed)
        self._generator = torch.Generator().manual_seed(self.seed)

    def attribute(self, adapter, mag, phase, length, wav_lens, target):
        return torch.rand(mag.shape, generator=self._generator).to(mag)
