"""Waveform -> logits classifiers of other kinds than the recipes' CNNs.

Explainers meet them only as black boxes (:meth:`ClassifierAdapter.from_module`):
the genetic explainer's benchmark (``recipes/VocalMix/interpret/benchmark_ga_vs_lime.py``)
trains them briefly on VocalMix and compares explainers across kinds of models
whose cost grows differently with the number of perturbations per call.

* :class:`StreamingGRUDetector`: reads the audio in sequential chunks (32 ms by
  default), as a voice-activity detector on a device does: each chunk's
  log-magnitude frames go through a small encoder and a GRU cell that carries
  a state to the next chunk. The loop over chunks makes every forward pass
  cost a fixed time per chunk, whatever the batch size.
* :class:`PatchTransformer`: log-mel patches through a small Transformer
  encoder (global attention over the clip), mean-pooled.

Both take waveforms ``[B, N]`` at ``sample_rate`` and return logits ``[B, C]``.

Example
-------
>>> import torch
>>> gru = StreamingGRUDetector(hidden=8)
>>> gru(torch.randn(2, 4000)).shape, gru.num_chunks(4000)
(torch.Size([2, 2]), 8)
>>> tf = PatchTransformer(d_model=16, heads=2, layers=1)
>>> tf(torch.randn(2, 4000)).shape
torch.Size([2, 2])
"""

from __future__ import annotations

import math

import torch
from torch import nn


class StreamingGRUDetector(nn.Module):
    """A detector that reads audio chunk by chunk with a recurrent state.

    Per chunk of ``chunk_ms``: frames of ``n_fft`` samples (hop ``n_fft // 2``)
    -> log-magnitude spectra -> a two-layer encoder -> a GRU cell. The clip's
    logits come from the mean and the maximum of the GRU states over the
    chunks (a running mean and maximum: the state stays O(1) as in a stream).
    The last chunk is zero-padded.

    Arguments
    ---------
    sample_rate : int
        Rate of the input waveforms.
    chunk_ms : float
        Chunk length in milliseconds (32 ms = 512 samples at 16 kHz).
    n_fft : int
        Frame length inside a chunk (at most the chunk length).
    hidden : int
        Size of the encoder output and of the GRU state.
    num_classes : int
        Number of classes.
    """

    def __init__(self, sample_rate: int = 16000, chunk_ms: float = 32.0, n_fft: int = 256,
                 hidden: int = 64, num_classes: int = 2):
        super().__init__()
        self.chunk = int(round(sample_rate * chunk_ms / 1000))
        if not 0 < n_fft <= self.chunk:
            raise ValueError(f"n_fft must lie in [1, {self.chunk}] (the chunk length), got {n_fft}.")
        self.n_fft, self.hop = n_fft, max(1, n_fft // 2)
        frames = 1 + (self.chunk - n_fft) // self.hop
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.encoder = nn.Sequential(
            nn.Linear(frames * (n_fft // 2 + 1), 2 * hidden), nn.ReLU(),
            nn.Linear(2 * hidden, hidden), nn.ReLU(),
        )
        self.cell = nn.GRUCell(hidden, hidden)
        self.head = nn.Linear(2 * hidden, num_classes)

    def num_chunks(self, num_samples: int) -> int:
        """Chunks (sequential steps of one forward pass) for ``num_samples`` samples."""
        return max(1, math.ceil(num_samples / self.chunk))

    def chunk_features(self, chunk: torch.Tensor) -> torch.Tensor:
        """Log-magnitude frames ``[B, frames * bins]`` of one chunk ``[B, chunk]``."""
        frames = chunk.unfold(1, self.n_fft, self.hop) * self.window  # (B, frames, n_fft)
        return torch.log1p(10.0 * torch.fft.rfft(frames).abs()).flatten(1)

    def forward(self, wavs: torch.Tensor) -> torch.Tensor:
        batch, num = wavs.shape
        steps = self.num_chunks(num)
        wavs = nn.functional.pad(wavs, (0, steps * self.chunk - num))
        state = wavs.new_zeros(batch, self.cell.hidden_size)
        total, peak = torch.zeros_like(state), torch.full_like(state, float("-inf"))
        for step in range(steps):  # one chunk after the other, as a stream arrives
            chunk = wavs[:, step * self.chunk:(step + 1) * self.chunk]
            state = self.cell(self.encoder(self.chunk_features(chunk)), state)
            total, peak = total + state, torch.maximum(peak, state)
        return self.head(torch.cat([total / steps, peak], dim=1))


class PatchTransformer(nn.Module):
    """Log-mel patches through a small Transformer encoder.

    Log-mel features (25 ms / 10 ms, ``n_mels`` bands, each clip normalised by
    its own mean and deviation) are cut into patches of ``patch_frames``
    frames, projected to ``d_model``, given sinusoidal positions and encoded by
    ``layers`` Transformer layers; the mean over patches gives the logits.

    Arguments
    ---------
    sample_rate : int
        Rate of the input waveforms.
    n_mels : int
        Mel bands of the features.
    patch_frames : int
        Frames per patch (token).
    d_model, heads, layers : int
        Transformer size.
    num_classes : int
        Number of classes.
    """

    def __init__(self, sample_rate: int = 16000, n_mels: int = 40, patch_frames: int = 4,
                 d_model: int = 64, heads: int = 4, layers: int = 2, num_classes: int = 2):
        super().__init__()
        from speechbrain.lobes.features import Fbank

        self.fbank = Fbank(sample_rate=sample_rate, n_mels=n_mels)
        self.patch_frames, self.d_model = patch_frames, d_model
        self.embed = nn.Linear(patch_frames * n_mels, d_model)
        layer = nn.TransformerEncoderLayer(d_model, heads, dim_feedforward=2 * d_model,
                                           dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, num_classes)

    def positions(self, num: int, device) -> torch.Tensor:
        """Sinusoidal position codes ``[num, d_model]``."""
        pos = torch.arange(num, device=device, dtype=torch.float32)[:, None]
        freq = torch.exp(torch.arange(0, self.d_model, 2, device=device) * (-math.log(1e4) / self.d_model))
        codes = torch.zeros(num, self.d_model, device=device)
        codes[:, 0::2], codes[:, 1::2] = torch.sin(pos * freq), torch.cos(pos * freq)
        return codes

    def forward(self, wavs: torch.Tensor) -> torch.Tensor:
        feats = self.fbank(wavs)  # (B, T, n_mels)
        feats = (feats - feats.mean(dim=(1, 2), keepdim=True)) / (feats.std(dim=(1, 2), keepdim=True) + 1e-5)
        num = max(1, feats.shape[1] // self.patch_frames)
        feats = nn.functional.pad(feats, (0, 0, 0, max(0, num * self.patch_frames - feats.shape[1])))
        tokens = feats[:, : num * self.patch_frames].reshape(feats.shape[0], num, -1)  # (B, P, p * n_mels)
        x = self.embed(tokens) + self.positions(num, wavs.device)
        return self.head(self.encoder(x).mean(dim=1))
