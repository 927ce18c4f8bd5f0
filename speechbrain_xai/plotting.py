"""Pictures of explanations (needs the optional ``matplotlib`` extra).

One function draws every explainer's output the same way: the input's log
spectrogram, the mask, and the masked-in spectrogram, side by side.
"""

from __future__ import annotations

import torch

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
    """Saves a three-panel PNG for the first example of ``explanation``."""
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
    fig.savefig(path, dpi=80)
    plt.close(fig)
