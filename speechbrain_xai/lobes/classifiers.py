"""Small audio classifiers for the project's recipes.

``SmallCNN`` is the 2-D convolutional embedding model of the VocalMix
classification recipe (trains on two CPU cores in minutes); the recipe's GPU
configuration uses SpeechBrain's ``Cnn14`` instead. Both follow SpeechBrain's
embedding-model convention: features ``[B, T, n_mels]`` in, embeddings
``[B, 1, D]`` out, followed by a :class:`ClassifierHead`.

Example
-------
>>> import torch
>>> net = SmallCNN(n_mels=40, channels=(8, 16), emb_dim=32)
>>> emb = net(torch.randn(2, 101, 40), torch.tensor([1.0, 0.5]))
>>> emb.shape
torch.Size([2, 1, 32])
>>> head = ClassifierHead(32, 2)
>>> head(emb).shape
torch.Size([2, 1, 2])
"""

from typing import Optional, Sequence

import torch
from torch import nn


class ConvBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm and ReLU, then 2x2 max pooling.

    Arguments
    ---------
    in_channels : int
        Input channels.
    out_channels : int
        Output channels.
    pool : bool
        Whether to halve time and frequency at the end.
    """

    def __init__(self, in_channels: int, out_channels: int, pool: bool = True):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )
        self.pool = nn.MaxPool2d(2) if pool else nn.Identity()

    def forward(self, x):  # (B, C, T, F) -> (B, C', T/2, F/2)
        return self.pool(self.layers(x))


class SmallCNN(nn.Module):
    """A compact 2-D CNN embedding model on log-mel features.

    Blocks are named ``blocks.0`` ... so that explainers can read their
    outputs (``[B, C, T', F']`` maps) through the adapter's hooks. Pooling
    over time is restricted to the valid frames given by ``lengths``, so
    padding in a batch does not change an example's embedding much.

    Arguments
    ---------
    n_mels : int
        Number of mel bands of the input features.
    channels : sequence of int
        Output channels of each conv block.
    emb_dim : int
        Embedding size.
    dropout : float
        Dropout before the embedding projection.
    """

    def __init__(self, n_mels: int = 64, channels: Sequence[int] = (16, 32, 64),
                 emb_dim: int = 128, dropout: float = 0.2):
        super().__init__()
        self.n_mels = n_mels
        blocks, in_ch = [], 1
        for out_ch in channels:
            blocks.append(ConvBlock(in_ch, out_ch))
            in_ch = out_ch
        self.blocks = nn.ModuleList(blocks)
        self.dropout = nn.Dropout(dropout)
        self.embedding = nn.Linear(2 * in_ch, emb_dim)

    def forward(self, feats: torch.Tensor, lengths: Optional[torch.Tensor] = None):
        """Features ``[B, T, n_mels]`` (and relative lengths ``[B]``) to ``[B, 1, emb_dim]``."""
        if feats.dim() != 3 or feats.shape[-1] != self.n_mels:
            raise ValueError(f"SmallCNN expects [B, T, {self.n_mels}] features, got {tuple(feats.shape)}.")
        x = feats.unsqueeze(1)  # (B, 1, T, F)
        for block in self.blocks:
            x = block(x)
        x = x.mean(dim=3)  # (B, C, T')
        if lengths is None:
            lengths = torch.ones(x.shape[0], device=x.device)
        frames = (lengths * x.shape[2]).ceil().clamp(min=1)
        valid = torch.arange(x.shape[2], device=x.device)[None, :] < frames[:, None]  # (B, T')
        valid = valid.unsqueeze(1)
        mean = (x * valid).sum(dim=2) / valid.sum(dim=2)
        peak = x.masked_fill(~valid, float("-inf")).amax(dim=2)
        emb = self.embedding(self.dropout(torch.cat([mean, peak], dim=1)))
        return emb.unsqueeze(1)


class ClassifierHead(nn.Module):
    """Linear layer from embeddings ``[B, 1, D]`` (or ``[B, D]``) to logits.

    Arguments
    ---------
    input_size : int
        Embedding size ``D``.
    n_classes : int
        Number of classes.
    """

    def __init__(self, input_size: int, n_classes: int):
        super().__init__()
        self.linear = nn.Linear(input_size, n_classes)

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        if emb.dim() == 2:
            emb = emb.unsqueeze(1)
        return self.linear(emb)
