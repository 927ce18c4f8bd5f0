"""Reference masks: what a method must beat.

* :class:`AllOnes` keeps everything (masked-in audio = the input);
* :class:`RandomMask` draws uniform masks, seeded per clip (the same seed and
  clip give the same mask, in any batch, whatever was called before).

Example
-------
>>> import torch
>>> from speechbrain_xai.adapter import ClassifierAdapter
>>> adapter = ClassifierAdapter.from_module(torch.nn.Linear(4000, 2), sample_rate=16000)
>>> wavs = torch.randn(2, 4000)
>>> a = RandomMask(adapter, seed=3).attribute(wavs)
>>> torch.equal(a, RandomMask(adapter, seed=3).attribute(wavs)), torch.equal(a[0], a[1])
(True, False)
>>> float(AllOnes(adapter).attribute(wavs).min())
1.0
"""

from __future__ import annotations

import torch

from speechbrain_xai.explainers.base import Attribution, Explainer, clip_generators, register_explainer


@register_explainer("all_ones")
class AllOnes(Explainer):
    """The all-ones mask (keeps everything: masked-in = input)."""

    def compute(self, wavs, wav_lens, target, probs) -> Attribution:
        spec_shape = (wavs.shape[0], self.adapter.stft_config.num_frames(wavs.shape[1]),
                      self.adapter.stft_config.n_freq)
        return Attribution(torch.ones(spec_shape, device=wavs.device))


@register_explainer("random")
class RandomMask(Explainer):
    """Uniform random masks in ``[0, 1]``, seeded per clip.

    Arguments
    ---------
    adapter : ClassifierAdapter
        The explained classifier.
    seed : int
        Combined with each clip's audio (see :func:`clip_generators`).
    """

    def __init__(self, adapter, seed: int = 0):
        super().__init__(adapter)
        self.seed = int(seed)

    def compute(self, wavs, wav_lens, target, probs) -> Attribution:
        frames = self.adapter.stft_config.num_frames(wavs.shape[1])
        shape = (frames, self.adapter.stft_config.n_freq)
        masks = [torch.rand(shape, generator=g) for g in clip_generators(wavs, wav_lens, self.seed)]
        return Attribution(torch.stack(masks).to(wavs.device))
