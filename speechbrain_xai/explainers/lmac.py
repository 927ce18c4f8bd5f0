"""L-MAC: Listenable Maps for Audio Classifiers (Paissan et al., ICML 2024).

A small decoder (:class:`speechbrain_xai.lobes.decoders.MaskDecoder`) reads a
frozen classifier's hidden representations and outputs a mask on the STFT
grid of the input. It is trained so that the classifier keeps its own
decision on the masked-in audio and loses it on the masked-out audio, with a
sparsity prior (and optionally a total-variation prior) on the mask:

``loss = l_in CE(f(M X), c) + l_out out_term(f((1-M) X), c) + l1 mean|M| + tv TV(M)``

where ``c`` is the classifier's own decision. ``out_term`` is the paper's
``-CE`` (``"neg_ce"``) or the bounded ``-log(1 - p_c)`` (``"complement"``).
The L1 and TV priors are means over the mask grid and the batch, so their
weight does not depend on the batch size or clip length (SpeechBrain's recipe
sums over the batch).

An optional guided stage adds a BCE term toward the binarised spectrum of the
clean clip on the examples whose masked-in spectrum already correlates with it
(:func:`guided_loss`).

This module holds the explainer (:class:`LMACExplainer`: one forward pass of
the classifier with hooks, then the decoder) and the loss; the training
``Brain`` is :class:`speechbrain_xai.brains.lmac.LMACBrain`, and a trained
interpreter loads with
:meth:`speechbrain_xai.inference.lmac.LMACInterpreter.from_hparams`.
"""

from __future__ import annotations

import contextlib
import math
from typing import Dict, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from speechbrain_xai.explainers.base import Attribution, Explainer, register_explainer
from speechbrain_xai.lobes.decoders import log_magnitude, stack_representations
from speechbrain_xai.stft import MASK_MODES, masked_waveforms, valid_frame_counts


# --------------------------------------------------------------------------
# Masks
# --------------------------------------------------------------------------
def decode_masks(adapter, decoder, layers: Sequence[str], wavs: torch.Tensor,
                 wav_lens: Optional[torch.Tensor] = None, target: Optional[torch.Tensor] = None
                 ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One L-MAC pass: the classifier's forward with hooks, then the decoder.

    The STFT the masks live on is read from the classifier's own front-end
    during that forward where it is the same grid
    (:meth:`~speechbrain_xai.adapter.ClassifierAdapter.forward_with_spectrum`).
    A decoder with one head per class explains ``target`` ``[B]``, by default
    the classifier's decision.

    Returns
    -------
    (torch.Tensor, torch.Tensor, torch.Tensor)
        Masks ``[B, T, F]``, the classifier's logits ``[B, C]`` and the complex
        STFT ``[B, T, F]`` of ``wavs`` on ``adapter.stft_config``.

    Example
    -------
    >>> from speechbrain_xai.adapter import ClassifierAdapter
    >>> from speechbrain_xai.lobes.decoders import MaskDecoder
    >>> net = torch.nn.Sequential(torch.nn.Linear(1600, 6), torch.nn.Linear(6, 2))
    >>> adapter = ClassifierAdapter.from_module(net, sample_rate=16000)
    >>> dec = MaskDecoder([6], n_freq=201, freq_scale="linear")
    >>> mask, logits, spec = decode_masks(adapter, dec, ["module.0"], torch.randn(2, 1600))
    >>> mask.shape == spec.shape, logits.shape
    (True, torch.Size([2, 2]))
    """
    if wav_lens is None:
        wav_lens = torch.ones(wavs.shape[0], device=wavs.device)
    logits, reps, spec = adapter.forward_with_spectrum(wavs, wav_lens, layers)
    if target is None:
        target = logits.detach().argmax(dim=-1)
    return masks_from_representations(decoder, layers, reps, spec, target), logits, spec


def masks_from_representations(decoder, layers: Sequence[str], reps: Dict[str, torch.Tensor],
                               spec: torch.Tensor, target: Optional[torch.Tensor] = None
                               ) -> torch.Tensor:
    """The decoder's masks ``[B, T, F]`` from the captured ``{layer: output}``
    and the input's complex STFT ``[B, T, F]``; ``target`` ``[B]`` (the
    explained class) reaches decoders with one head per class
    (``decoder.num_classes``), which need it."""
    # a 1-D representation [B, C] (one vector per clip) is one frame
    maps = [r.unsqueeze(1) if r.dim() == 2 else r for r in stack_representations(reps, layers)]
    if getattr(decoder, "num_classes", None):
        return decoder(maps, log_magnitude(spec), target)
    return decoder(maps, log_magnitude(spec))


class ListenableMasks(NamedTuple):
    """An L-MAC explanation without the re-classification: masks ``[B, T, F]``,
    the classifier's logits on the input ``[B, C]``, and the masked-in and
    masked-out audio ``[B, N]``."""

    mask: torch.Tensor
    logits: torch.Tensor
    masked_in: torch.Tensor
    masked_out: torch.Tensor


@contextlib.contextmanager
def eval_mode(module: torch.nn.Module):
    """Runs the block with ``module`` in eval mode (BatchNorm statistics frozen:
    a clip's mask does not depend on its batch), then restores its mode."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


@register_explainer("lmac")
class LMACExplainer(Explainer):
    """L-MAC as an :class:`Explainer`: a trained decoder's masks.

    Built from a decoder and the names of the layers it reads, or from a
    trained interpreter (``interpreter=`` a folder or hub id written by
    :func:`speechbrain_xai.inference.lmac.export_interpreter`), whose own
    classifier is then used.

    Arguments
    ---------
    adapter : ClassifierAdapter or None
        The explained classifier. With ``interpreter`` it may be None; if it is
        given, it must be the interpreter's classifier (checked on a probe clip).
    decoder : MaskDecoder, optional
        The trained decoder (run in eval mode).
    layers : sequence of str, optional
        The captured layer names, in decoder order.
    mask_mode : str
        The mask convention the decoder was trained with (``"linear"`` or ``"log1p"``).
    interpreter : str, optional
        An interpreter folder or hub id (gives decoder, layers, mask_mode, classifier).
    savedir : str, optional
        Where a hub interpreter is fetched.
    mask_power : float
        The decoder's mask values are raised to this power (1: unchanged;
        below 1 lifts the faint parts of the mask, so more of it passes 0.5
        and more is removed from the masked-out audio; the order of the bins,
        hence the oracle ROC AUC, is kept).
    time_gate : float
        Exponent of :func:`time_gated` (0: off): frames the mask barely uses
        fade. Applied after ``mask_power``.
    time_gate_knee : float
        Frames at this share of the mask's strongest frame or above keep
        their values under the time gate.

    The power and the gate shape both the explanation and the listenable audio.

    Example (an untrained decoder on a two-layer black box)
    -------------------------------------------------------
    >>> from speechbrain_xai import ClassifierAdapter
    >>> from speechbrain_xai.lobes.decoders import MaskDecoder
    >>> box = ClassifierAdapter.from_module(
    ...     torch.nn.Sequential(torch.nn.Linear(1600, 6), torch.nn.Linear(6, 2)), 16000)
    >>> decoder = MaskDecoder([6], n_freq=201, freq_scale="linear")
    >>> LMACExplainer(box, decoder, ["module.0"]).explain(torch.randn(2, 1600)).mask.shape
    torch.Size([2, 11, 201])
    """

    def __init__(self, adapter=None, decoder=None, layers: Optional[Sequence[str]] = None,
                 mask_mode: str = "linear", interpreter: Optional[str] = None,
                 savedir: Optional[str] = None, mask_power: float = 1.0, time_gate: float = 0.0,
                 time_gate_knee: float = 1.0):
        if interpreter is not None:
            from speechbrain_xai.inference.lmac import LMACInterpreter

            loaded = LMACInterpreter.from_hparams(interpreter, savedir=savedir)
            if adapter is not None:
                _check_same_classifier(adapter, loaded.adapter, interpreter)
            adapter = loaded.adapter
            decoder, layers = loaded.mods.decoder, loaded.explainer.layers
            mask_mode = loaded.explainer.mask_mode
        if decoder is None or not layers:
            raise ValueError("L-MAC needs a trained decoder: pass interpreter=<folder or hub id> "
                             "(an exported L-MAC interpreter), or decoder= and layers=.")
        if mask_mode not in MASK_MODES:
            raise ValueError(f"Unknown mask mode {mask_mode!r}; use one of {MASK_MODES}.")
        super().__init__(adapter)
        self.decoder, self.layers, self.mask_mode = decoder, list(layers), mask_mode
        self.interpreter, self.savedir = interpreter, savedir
        if not mask_power > 0:
            raise ValueError(f"mask_power is an exponent > 0 (1: off), got {mask_power}.")
        self.mask_power = float(mask_power)
        if time_gate < 0:
            raise ValueError(f"time_gate is an exponent >= 0 (0: off), got {time_gate}.")
        if not 0 < time_gate_knee <= 1:
            raise ValueError(f"time_gate_knee is a fraction in (0, 1], got {time_gate_knee}.")
        self.time_gate, self.time_gate_knee = float(time_gate), float(time_gate_knee)

    def settings(self) -> Dict:
        out = super().settings()
        out["decoder"] = {"class": type(self.decoder).__name__,
                          **getattr(self.decoder, "config", {})}
        return out

    def input_probabilities(self, wavs, wav_lens):
        """The forward on the input, with the decoder's layers captured and the
        STFT read from the front-end, both kept for :meth:`compute`: the
        classifier runs once on the input."""
        logits, reps, spec = self.adapter.forward_with_spectrum(wavs, wav_lens, self.layers)
        self._input_pass = (wavs, reps, spec)
        return logits.softmax(dim=-1)

    @torch.no_grad()
    def compute(self, wavs, wav_lens, target, probs) -> Attribution:
        kept, self._input_pass = getattr(self, "_input_pass", None), None
        if kept is not None and kept[0] is wavs:
            _, reps, spec = kept
        else:
            _, reps, spec = self.adapter.forward_with_spectrum(wavs, wav_lens, self.layers)
        with eval_mode(self.decoder):
            mask = masks_from_representations(self.decoder, self.layers, reps, spec, target)
        return Attribution(self._shaped(mask, wavs, wav_lens), spec=spec)

    def _shaped(self, mask: torch.Tensor, wavs: torch.Tensor, wav_lens: torch.Tensor) -> torch.Tensor:
        """The decoder's mask to the power ``mask_power``, then ``time_gated``
        with each clip's valid frames (padding never sets the strongest frame)."""
        if self.mask_power != 1.0:
            mask = mask.clamp_min(0.0) ** self.mask_power
        if not self.time_gate:
            return mask
        valid = valid_frame_counts(wav_lens, wavs.shape[1], self.adapter.stft_config).to(mask.device)
        return time_gated(mask, self.time_gate, self.time_gate_knee, valid)

    @torch.no_grad()
    def listenable(self, wavs, wav_lens=None, sample_rate: Optional[int] = None) -> ListenableMasks:
        """Masks, the classifier's logits, masked-in and masked-out audio for
        waveforms ``[N]``, ``[B, N]`` or ``[B, N, channels]`` (at
        ``sample_rate``, default the classifier's), from one forward pass of
        the classifier and one ISTFT (for linear masks the masked-out audio is
        the input minus the masked-in audio:
        :func:`speechbrain_xai.stft.masked_waveforms`). The fast path of
        :meth:`LMACInterpreter.interpret_batch
        <speechbrain_xai.inference.lmac.LMACInterpreter.interpret_batch>`;
        :meth:`explain` also re-classifies the masked audio.
        """
        wavs, wav_lens = self.adapter.prepare(wavs, wav_lens, sample_rate)
        with eval_mode(self.decoder):
            mask, logits, spec = decode_masks(self.adapter, self.decoder, self.layers, wavs, wav_lens)
        mask = self._shaped(mask, wavs, wav_lens)
        masked_in, masked_out = masked_waveforms(spec, mask, self.adapter.stft_config,
                                                 wavs.shape[1], self.mask_mode, wavs=wavs)
        return ListenableMasks(mask, logits, masked_in, masked_out)


def time_gated(mask: torch.Tensor, gamma: float, knee: float = 1.0,
               valid: Optional[torch.Tensor] = None) -> torch.Tensor:
    """The mask ``[B, T, F]`` times a gain per frame: its own frame profile
    (mean over frequency) over ``knee`` times its largest frame, at most 1, to
    the power ``gamma``. Frames the mask barely uses fade; frames at ``knee``
    of the largest or above stay (``gamma`` 0: the mask unchanged). ``valid``
    ``[B]``: each clip's unpadded frames; the largest frame is taken among them.

    >>> m = torch.tensor([[[1.0, 1.0], [0.5, 0.5], [0.2, 0.2]]])
    >>> [round(v, 3) for v in time_gated(m, 1.0)[0, :, 0].tolist()]
    [1.0, 0.25, 0.04]
    >>> [round(v, 3) for v in time_gated(m, 1.0, knee=0.5)[0, :, 0].tolist()]
    [1.0, 0.5, 0.08]
    """
    if not gamma:
        return mask
    profile = mask.mean(dim=2, keepdim=True)
    inside = profile
    if valid is not None:
        frames = torch.arange(mask.shape[1], device=mask.device)[None, :, None]
        inside = profile.masked_fill(frames >= valid.to(mask.device)[:, None, None], 0.0)
    top = inside.amax(dim=1, keepdim=True).clamp_min(1e-12) * knee
    return mask * (profile / top).clamp(max=1.0) ** gamma


def _check_same_classifier(given, loaded, source: str) -> None:
    """Refuses an interpreter trained on another classifier than ``given``."""
    probe = torch.randn(2, given.sample_rate, generator=torch.Generator().manual_seed(0)) * 0.1
    if given.sample_rate != loaded.sample_rate:
        raise ValueError(f"The interpreter {source} explains a classifier at {loaded.sample_rate} Hz, "
                         f"not the given one at {given.sample_rate} Hz; drop --classifier or pass "
                         "the interpreter of this classifier.")
    with torch.no_grad():
        a = given(probe.to(given.device)).cpu()
        b = loaded(probe.to(loaded.device)).cpu()
    if a.shape != b.shape or not torch.allclose(a, b, atol=1e-4, rtol=1e-3):
        raise ValueError(f"The interpreter {source} was trained on another classifier than the "
                         "given one; pass only the interpreter (it holds its classifier) or the "
                         "interpreter of this classifier.")


# --------------------------------------------------------------------------
# Loss pieces
# --------------------------------------------------------------------------
def total_variation(mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring bins, per example ``[B]``.

    >>> total_variation(torch.tensor([[[0.0, 1.0], [0.0, 1.0]]]))
    tensor([0.5000])
    """
    dt = (mask[:, 1:] - mask[:, :-1]).abs().flatten(1).mean(dim=1)
    df = (mask[:, :, 1:] - mask[:, :, :-1]).abs().flatten(1).mean(dim=1)
    return 0.5 * (dt + df)


def lmac_loss(logits_in: torch.Tensor, logits_out: torch.Tensor, target: torch.Tensor,
              mask: torch.Tensor, l_in: float = 4.0, l_out: float = 0.2, l1: float = 0.4,
              tv: float = 0.0, out_loss: str = "neg_ce", frames: float = 0.0,
              in_margin: float = 0.0) -> Dict[str, torch.Tensor]:
    """The L-MAC objective, each term averaged over the batch.

    Arguments
    ---------
    logits_in, logits_out : torch.Tensor
        Classifier logits ``[B, C]`` on the masked-in and masked-out input.
    target : torch.Tensor
        The classifier's decision on the input ``[B]``.
    mask : torch.Tensor
        Masks ``[B, T, F]``.
    l_in, l_out, l1, tv : float
        Weights of the four terms.
    out_loss : str
        ``"neg_ce"`` (the paper's ``-CE``, unbounded) or ``"complement"``
        (``-log(1 - p_c)``, zero once the decision is gone).
    frames : float
        Weight of a group sparsity over frames (the mean over frames of the
        root mean square of each frame's mask): for the same mass, a mask
        spread thinly over every frame costs more than one gathered in fewer
        frames, which asks the mask to say *when* as well as *where in
        frequency* (the plain ``l1`` is indifferent between the two).
    in_margin : float
        A probability in ``[0, 1)``: the masked-in term becomes
        ``max(0, CE - (-log in_margin))``, zero once the masked-in input gives
        the decision at least that probability (0: the paper's plain CE, which
        keeps rewarding more certainty than the input itself had).

    Returns
    -------
    dict
        ``"loss"`` (the weighted total) and the unweighted terms ``"in"``,
        ``"out"``, ``"l1"``, ``"tv"`` (and ``"frames"`` when weighted).

    Example
    -------
    >>> z = torch.zeros(2, 3)
    >>> out = lmac_loss(z, z, torch.tensor([0, 1]), torch.full((2, 4, 5), 0.5), tv=1.0)
    >>> round(float(out["in"]), 4), float(out["l1"]), float(out["tv"])
    (1.0986, 0.5, 0.0)
    """
    if not 0.0 <= in_margin < 1.0:
        raise ValueError(f"in_margin must be a probability in [0, 1), got {in_margin}.")
    ce_in = F.cross_entropy(logits_in, target, reduction="none")
    if in_margin:
        ce_in = (ce_in + math.log(in_margin)).clamp_min(0.0)
    ce_in = ce_in.mean()
    if out_loss == "neg_ce":
        out_term = -F.cross_entropy(logits_out, target)
    elif out_loss == "complement":
        log_p = logits_out.log_softmax(dim=-1).gather(1, target[:, None]).squeeze(1)
        # -log(1 - p_c), computed stably from log p_c
        out_term = -torch.log1p(-log_p.exp().clamp(max=1 - 1e-6)).mean()
    else:
        raise ValueError(f"Unknown out_loss {out_loss!r}; use 'neg_ce' or 'complement'.")
    sparsity = mask.abs().flatten(1).mean(dim=1).mean()
    smooth = total_variation(mask).mean() if tv else mask.new_zeros(())
    total = l_in * ce_in + l_out * out_term + l1 * sparsity + tv * smooth
    terms = {"loss": total, "in": ce_in, "out": out_term, "l1": sparsity, "tv": smooth}
    if frames:
        # sqrt(mean_f M^2 + eps): the eps keeps the gradient finite at an all-zero frame
        per_frame = (mask.pow(2).mean(dim=-1) + 1e-8).sqrt()  # [B, T]
        terms["frames"] = per_frame.mean()
        terms["loss"] = total + frames * terms["frames"]
    return terms


def guided_loss(mask: torch.Tensor, mix_mag: torch.Tensor, clean_mag: torch.Tensor,
                corr_threshold: float = 0.6, bin_threshold: float = 0.35
                ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Guidance toward the clean clip's binarised spectrum (L-MAC fine-tuning).

    The oracle is ``log1p|X_clean| > bin_threshold * max`` per example. Only
    examples whose masked-in log-spectrum ``log1p(M |X_mix|)`` correlates at
    least ``corr_threshold`` with ``log1p|X_clean|`` are guided (the mask
    already points at the clean clip; the oracle sharpens it).

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        The mean BCE over the selected examples (0 when none is selected) and
        the boolean selection ``[B]``.

    Example
    -------
    >>> clean = torch.rand(2, 6, 5)
    >>> loss, selected = guided_loss(torch.ones(2, 6, 5) * 0.9, clean, clean)
    >>> selected.tolist(), bool(loss > 0)
    ([True, True], True)
    """
    clean_log = torch.log1p(clean_mag)
    masked_log = torch.log1p(mask * mix_mag)
    a = clean_log.flatten(1) - clean_log.flatten(1).mean(dim=1, keepdim=True)
    b = masked_log.flatten(1) - masked_log.flatten(1).mean(dim=1, keepdim=True)
    corr = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-8)
    selected = corr.detach() >= corr_threshold
    if not selected.any():
        return mask.new_zeros(()), selected
    peak = clean_log.flatten(1).amax(dim=1)[:, None, None]
    oracle = (clean_log > bin_threshold * peak).to(mask.dtype)
    bce = F.binary_cross_entropy(mask[selected].clamp(1e-6, 1 - 1e-6), oracle[selected])
    return bce, selected


def contamination_loss(mask: torch.Tensor, mix_spec: torch.Tensor, clean_spec: torch.Tensor
                       ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Guidance that only keeps the mask off what the contamination added.

    The bins where the contamination dominates (``|X_mix - X_clean| >
    |X_clean|``, from the complex STFTs ``[B, T, F]``) are pushed toward 0
    (BCE with target 0, i.e. ``-log(1 - M)``, averaged over those bins of
    each example); nothing asks the mask to cover the rest of the clean clip.
    Unlike :func:`guided_loss` (the paper's target, the whole binarised clean
    spectrum), it suits a decoder that explains one class of a clip holding
    several sources: the explanation of "voice" should not cover the clean
    clip's instruments either.

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        The mean over the examples that hold contamination-dominated bins (0
        when none does) and that selection ``[B]``.

    Example
    -------
    >>> clean = torch.ones(2, 4, 3, dtype=torch.complex64)
    >>> mix = clean.clone(); mix[0, :2] += 5  # example 0: half its frames contaminated
    >>> loss, selected = contamination_loss(torch.full((2, 4, 3), 0.5), mix, clean)
    >>> selected.tolist(), round(float(loss), 4)  # -log(1 - 0.5)
    ([True, False], 0.6931)
    """
    dominated = ((mix_spec - clean_spec).abs() > clean_spec.abs()).to(mask.dtype)
    count = dominated.flatten(1).sum(dim=1)
    selected = count > 0
    if not selected.any():
        return mask.new_zeros(()), selected
    per_bin = -torch.log1p(-mask.clamp(max=1 - 1e-6))
    per_example = (per_bin * dominated).flatten(1).sum(dim=1) / count.clamp_min(1)
    return per_example[selected].mean(), selected


