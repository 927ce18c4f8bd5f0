"""BatchNorm folded into the layer before it, for frozen networks.

In eval mode a BatchNorm is a per-channel affine map, ``y = scale * x +
shift`` (:func:`batchnorm_affine`), so after a convolution or a linear layer
it can be folded into that layer's weights and bias: the same function with
one pass less over the activations forward, and one less backward when
gradients flow to the input (activation maximisation). The results equal the
unfolded network within float rounding (about 1e-6 relative).

:func:`fold_batchnorm` makes such a copy of a frozen module. It folds only
where the order of execution is certain: a ``BatchNorm1d``/``BatchNorm2d``
that directly follows a ``Conv1d``/``Conv2d``, a ``ConvTranspose1d``/
``ConvTranspose2d`` (one group) or a ``Linear`` inside an ``nn.Sequential``;
the folded BatchNorm becomes an ``nn.Identity``, so every named layer still
gives the output it gave before (hooks read the same values).

Example
-------
>>> import torch
>>> from torch import nn
>>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU()).eval()
>>> net[1].running_mean.uniform_(-1, 1), net[1].running_var.uniform_(0.5, 2)  # doctest: +ELLIPSIS
(...)
>>> folded = fold_batchnorm(net)
>>> x = torch.randn(2, 1, 8, 8)
>>> type(folded[1]).__name__, bool(torch.allclose(folded(x), net(x), atol=1e-6))
('Identity', True)
"""

from __future__ import annotations

import copy
from typing import Tuple

import torch
from torch import nn

_FOLDABLE = (nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.Linear)


def batchnorm_affine(norm: nn.modules.batchnorm._BatchNorm) -> Tuple[torch.Tensor, torch.Tensor]:
    """The eval-mode BatchNorm as ``scale * x + shift``: ``(scale, shift)``, each ``[C]``.

    >>> bn = nn.BatchNorm1d(2).eval()
    >>> scale, shift = batchnorm_affine(bn)
    >>> bool(torch.allclose(scale, torch.ones(2), atol=1e-5)), shift.tolist()
    (True, [0.0, 0.0])
    """
    if norm.running_var is None or norm.running_mean is None:
        raise ValueError("Only a BatchNorm with running statistics (track_running_stats=True) "
                         "is an affine map in eval mode.")
    scale = torch.rsqrt(norm.running_var + norm.eps)
    if norm.weight is not None:
        scale = scale * norm.weight
    shift = -norm.running_mean * scale
    if norm.bias is not None:
        shift = shift + norm.bias
    return scale, shift


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """A frozen copy of ``module`` (parameters without gradients) with every
    foldable BatchNorm folded into the layer before it (see module docstring).
    The copy computes what ``module`` computes in eval mode."""
    folded = copy.deepcopy(module)
    for seq in [m for m in folded.modules() if isinstance(m, nn.Sequential)]:
        names = list(seq._modules)
        for first, second in zip(names, names[1:]):
            layer, norm = seq._modules[first], seq._modules[second]
            if _can_fold(layer, norm):
                _fold_into(layer, norm)
                seq._modules[second] = nn.Identity()
    folded.requires_grad_(False)
    return folded.train(False)


def _can_fold(layer, norm) -> bool:
    if not isinstance(norm, (nn.BatchNorm1d, nn.BatchNorm2d)) or norm.running_var is None:
        return False
    if not isinstance(layer, _FOLDABLE):
        return False
    if isinstance(layer, (nn.ConvTranspose1d, nn.ConvTranspose2d)) and layer.groups != 1:
        return False
    return _out_features(layer) == norm.num_features


def _out_features(layer) -> int:
    if isinstance(layer, nn.Linear):
        return layer.out_features
    return layer.out_channels


@torch.no_grad()
def _fold_into(layer, norm) -> None:
    scale, shift = batchnorm_affine(norm)
    weight = layer.weight
    # output channels: dim 0, but dim 1 for transposed convolutions ([in, out, k...])
    out_dim = 1 if isinstance(layer, (nn.ConvTranspose1d, nn.ConvTranspose2d)) else 0
    shape = [1] * weight.dim()
    shape[out_dim] = -1
    weight.mul_(scale.view(shape))
    if layer.bias is None:
        layer.bias = nn.Parameter(shift.clone(), requires_grad=False)
    else:
        layer.bias.copy_(layer.bias * scale + shift)
