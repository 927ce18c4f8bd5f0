"""Pictures (needs the optional ``matplotlib`` extra).

:func:`plot_explanation` draws every explainer's output the same way: the
input's log spectrogram, the mask, and the masked-in spectrogram, side by
side. :func:`save_excerpt_grid` draws a set of feature excerpts (GAN samples,
activation-maximisation examples) as a grid.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import torch

from speechbrain_xai.files import atomic_open
from speechbrain_xai.stft import apply_mask, stft


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the extra
        raise ImportError(
            "Plotting needs matplotlib: pip install 'speechbrain_xai[plot]'."
        ) from err
    return plt


def log_spectrogram(spec: torch.Tensor) -> torch.Tensor:
    """``20 log10 |X|`` clipped 80 dB below the maximum, for display."""
    db = 20 * torch.log10(spec.abs() + 1e-8)
    return db.clamp(min=float(db.max()) - 80.0)


def plot_explanation(explanation, path: str) -> None:
    """Saves a three-panel PNG for the first example of ``explanation`` (atomically)."""
    plt = _pyplot()
    cfg = explanation.stft_config
    spec = stft(explanation.input_wav[:1], cfg)[0]
    mask = explanation.mask[0]
    masked = apply_mask(spec[None], mask[None], explanation.mask_mode)[0]
    dur = explanation.input_wav.shape[1] / cfg.sample_rate
    extent = [0, dur, 0, cfg.sample_rate / 2000]
    c = int(explanation.target[0])
    name = explanation.class_names[c] if explanation.class_names else str(c)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2), sharey=True)
    panels = [
        (log_spectrogram(spec), f"input  p={float(explanation.probs_input[0, c]):.2f}", "magma"),
        (mask, f"mask ({explanation.method})", "viridis"),
        (log_spectrogram(masked), f"masked-in  p={float(explanation.probs_masked_in[0, c]):.2f}", "magma"),
    ]
    for ax, (img, title, cmap) in zip(axes, panels):
        kwargs = {"vmin": 0.0, "vmax": 1.0} if cmap == "viridis" else {}
        ax.imshow(img.T.numpy(), origin="lower", aspect="auto", extent=extent, cmap=cmap, **kwargs)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("time (s)")
    axes[0].set_ylabel("kHz")
    fig.suptitle(f"target: {name}", fontsize=10)
    fig.tight_layout()
    with atomic_open(path, "wb") as f:
        fig.savefig(f, dpi=80, format="png")
    plt.close(fig)


def save_excerpt_grid(feats: torch.Tensor, path: str, titles: Optional[Sequence[str]] = None,
                      columns: int = 8, hop_seconds: Optional[float] = None) -> None:
    """Saves feature excerpts ``[N, T, F]`` (e.g. log-mel) as a PNG grid, written atomically.

    Arguments
    ---------
    feats : torch.Tensor
        Excerpts ``[N, T, F]`` in the classifier's feature domain.
    path : str
        The PNG file.
    titles : sequence of str, optional
        One title per excerpt (e.g. its activation).
    columns : int
        Excerpts per row.
    hop_seconds : float, optional
        Seconds between feature frames (the classifier's hop,
        :func:`speechbrain_xai.data.excerpts.feature_hop_seconds`): the time
        axis in seconds; frame indices without it. The other axis is the
        feature band index (mel band for log-mel features).

    Example
    -------
    >>> import os, tempfile, torch
    >>> path = os.path.join(tempfile.mkdtemp(), "grid.png")
    >>> save_excerpt_grid(torch.randn(3, 64, 40), path, ["a", "b", "c"], hop_seconds=0.01)
    >>> os.path.getsize(path) > 0
    True
    """
    plt = _pyplot()
    n, frames, bands = feats.shape
    cols = min(columns, n)
    rows = math.ceil(n / cols)
    extent = [0, frames * hop_seconds if hop_seconds else frames, 0, bands]
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.6 * rows), squeeze=False,
                             sharex=True, sharey=True)
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        ax.imshow(feats[i].T.cpu().numpy(), origin="lower", aspect="auto", cmap="magma",
                  extent=extent)
        ax.tick_params(labelsize=5, length=2, pad=1)
        if titles is not None:
            ax.set_title(titles[i], fontsize=6)
    fig.supxlabel("time (s)" if hop_seconds else "frame", fontsize=7)
    fig.supylabel("band", fontsize=7)
    fig.tight_layout()
    with atomic_open(path, "wb") as f:
        fig.savefig(f, dpi=90, format="png")
    plt.close(fig)
