"""Gradient baselines for L-MAC, on the same mask grid and convention.

Gradient maps are computed with respect to the STFT magnitude ``|X|`` (phase
held fixed), the quantity a mask scales, through
:meth:`ClassifierAdapter.spectrum_logits` (the fast feature path where the
adapter has one, ``path="auto"``, else the ISTFT), and each map is divided by
its per-example maximum, as in the L-MAC paper's baselines:

* :class:`Saliency` -- ``|d f_c / d|X||``;
* :class:`IntegratedGradients` -- zero baseline, midpoint Riemann sum, absolute value;
* :class:`SmoothGrad` -- saliency averaged over noisy copies of ``|X|``
  (noise standard deviation a fraction of each example's magnitude range,
  seeded per clip).

``f_c`` is the target logit. Grad-CAM, which needs captum, lives with the
Captum bridge (:mod:`speechbrain_xai.explainers.captum_bridge`).

Example
-------
>>> import torch
>>> from speechbrain_xai.adapter import ClassifierAdapter
>>> adapter = ClassifierAdapter.from_module(torch.nn.Linear(1600, 3), sample_rate=16000)
>>> masks = Saliency(adapter).attribute(torch.randn(2, 1600))
>>> masks.shape, masks.flatten(1).amax(1).tolist()
(torch.Size([2, 11, 201]), [1.0, 1.0])
"""

from __future__ import annotations

import torch

from speechbrain_xai.explainers.base import (
    Attribution,
    Explainer,
    clip_generators,
    normalize_by_max,
    register_explainer,
)


class MagnitudeGradientExplainer(Explainer):
    """Base of the gradient baselines: gradients of the target logit with
    respect to ``|X|``, made non-negative and divided by each example's maximum.

    Arguments
    ---------
    adapter : ClassifierAdapter
        The explained classifier (differentiable).
    path : str
        ``"auto"``, ``"features"`` or ``"istft"``: how the classifier is reached
        (:meth:`ClassifierAdapter.spectrum_logits`).
    """

    needs_gradients = True

    def __init__(self, adapter, path: str = "auto"):
        super().__init__(adapter)
        if path not in ("auto", "features", "istft"):
            raise ValueError(f"Unknown path {path!r}; use 'auto', 'features' or 'istft'.")
        self.path = path

    def logits(self, mag, phase, length, wav_lens) -> torch.Tensor:
        """Classifier logits for the magnitude ``mag`` with the unit phase ``phase``."""
        return self.adapter.spectrum_logits(mag * phase, length, wav_lens, self.path)

    def gradient(self, mag, phase, length, wav_lens, target) -> torch.Tensor:
        """``d f_c / d mag`` ``[B, T, F]`` (each example's own target logit)."""
        mag = mag.detach().requires_grad_(True)
        score = self.logits(mag, phase, length, wav_lens).gather(1, target[:, None]).sum()
        (grad,) = torch.autograd.grad(score, mag)
        return grad

    def maps(self, mag, phase, wavs, wav_lens, target) -> torch.Tensor:
        """The raw (non-negative) attribution maps ``[B, T, F]`` for the
        magnitude and phase of ``wavs`` ``[B, N]``."""
        raise NotImplementedError

    def compute(self, wavs, wav_lens, target, probs) -> Attribution:
        spec = self.adapter.stft(wavs)
        mag = spec.abs()
        phase = torch.polar(torch.ones_like(mag), spec.angle())
        with torch.enable_grad():
            attr = self.maps(mag, phase, wavs, wav_lens, target)
        return Attribution(normalize_by_max(attr.detach().clamp_min(0.0)))


@register_explainer("saliency")
class Saliency(MagnitudeGradientExplainer):
    """Absolute gradient of the target logit w.r.t. ``|X|`` (see module docstring)."""

    def maps(self, mag, phase, wavs, wav_lens, target):
        return self.gradient(mag, phase, wavs.shape[1], wav_lens, target).abs()


@register_explainer("integrated_gradients")
class IntegratedGradients(MagnitudeGradientExplainer):
    """``|X| * mean_k grad(alpha_k |X|)`` from a zero baseline, absolute value.

    Arguments
    ---------
    adapter : ClassifierAdapter
        The explained classifier.
    n_steps : int
        Points of the (midpoint) Riemann sum; the paper's baseline used 200.
    path : str
        See :class:`MagnitudeGradientExplainer`.
    """

    def __init__(self, adapter, n_steps: int = 50, path: str = "auto"):
        super().__init__(adapter, path)
        if int(n_steps) < 1:
            raise ValueError(f"n_steps must be >= 1, got {n_steps!r}.")
        self.n_steps = int(n_steps)

    def maps(self, mag, phase, wavs, wav_lens, target):
        total = torch.zeros_like(mag)
        for k in range(self.n_steps):
            alpha = (k + 0.5) / self.n_steps
            total += self.gradient(alpha * mag, phase, wavs.shape[1], wav_lens, target)
        return (mag * total / self.n_steps).abs()


@register_explainer("smoothgrad")
class SmoothGrad(MagnitudeGradientExplainer):
    """Saliency averaged over ``n_samples`` noisy copies of ``|X|``.

    Arguments
    ---------
    adapter : ClassifierAdapter
        The explained classifier.
    n_samples : int
        Noisy copies (the paper's baseline used 50).
    noise_level : float
        Noise standard deviation as a fraction of each example's magnitude range.
    seed : int
        Seed of the noise, combined with each clip's audio (reproducible, and
        the same for a clip in any batch).
    path : str
        See :class:`MagnitudeGradientExplainer`.
    """

    def __init__(self, adapter, n_samples: int = 20, noise_level: float = 0.15, seed: int = 0,
                 path: str = "auto"):
        super().__init__(adapter, path)
        if int(n_samples) < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples!r}.")
        self.n_samples = int(n_samples)
        self.noise_level = float(noise_level)
        self.seed = int(seed)

    def maps(self, mag, phase, wavs, wav_lens, target):
        generators = clip_generators(wavs, wav_lens, self.seed)
        flat = mag.flatten(1)
        sigma = (self.noise_level * (flat.amax(1) - flat.amin(1))).reshape(-1, 1, 1)
        total = torch.zeros_like(mag)
        for _ in range(self.n_samples):
            noise = torch.stack([torch.randn(mag.shape[1:], generator=g) for g in generators])
            noisy = mag + noise.to(mag) * sigma
            total += self.gradient(noisy, phase, wavs.shape[1], wav_lens, target).abs()
        return total / self.n_samples
