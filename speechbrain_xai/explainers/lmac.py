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

Training inputs can be contaminated (other clips of the batch, white noise,
speech-shaped modulated noise at a random SNR), and an optional guided stage
adds a BCE term toward the binarised spectrum of the clean clip on the
examples whose masked-in spectrum already correlates with it.

:class:`LMACBrain` is the SpeechBrain ``Brain``; its TEST stage evaluates
L-MAC and any baseline explainers in-domain and out-of-domain through the
same metric code (:class:`ExplainerEvaluation`).
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import speechbrain as sb
import torch
import torch.nn.functional as F
from speechbrain.utils.logger import get_logger

from speechbrain_xai.explainers.base import FrozenClassifierBrain
from speechbrain_xai.explanation import Explanation
from speechbrain_xai.lobes.decoders import log_magnitude, stack_representations
from speechbrain_xai.metrics import faithfulness_metrics, oracle_agreement, summarize

logger = get_logger(__name__)

CONTAMINATIONS = ("none", "mix", "white", "speech_like")


# --------------------------------------------------------------------------
# Masks
# --------------------------------------------------------------------------
def decode_masks(adapter, decoder, layers: Sequence[str], wavs: torch.Tensor,
                 wav_lens: Optional[torch.Tensor] = None
                 ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One L-MAC pass: the classifier's forward with hooks, then the decoder.

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
    spec = adapter.stft(wavs)
    with adapter.capture(layers) as reps:
        logits = adapter(wavs, wav_lens)
    # a 1-D representation [B, C] (one vector per clip) is one frame
    maps = [r.unsqueeze(1) if r.dim() == 2 else r for r in stack_representations(reps, layers)]
    mask = decoder(maps, log_magnitude(spec))
    return mask, logits, spec


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
              tv: float = 0.0, out_loss: str = "neg_ce") -> Dict[str, torch.Tensor]:
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

    Returns
    -------
    dict
        ``"loss"`` (the weighted total) and the unweighted terms ``"in"``,
        ``"out"``, ``"l1"``, ``"tv"``.

    Example
    -------
    >>> z = torch.zeros(2, 3)
    >>> out = lmac_loss(z, z, torch.tensor([0, 1]), torch.full((2, 4, 5), 0.5), tv=1.0)
    >>> round(float(out["in"]), 4), float(out["l1"]), float(out["tv"])
    (1.0986, 0.5, 0.0)
    """
    ce_in = F.cross_entropy(logits_in, target)
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
    return {"loss": total, "in": ce_in, "out": out_term, "l1": sparsity, "tv": smooth}


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


# --------------------------------------------------------------------------
# Contamination (training augmentation and out-of-domain evaluation)
# --------------------------------------------------------------------------
def speech_like_noise(batch: int, length: int, sample_rate: int,
                      generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Speech-shaped noise with a syllabic (2-6 Hz) on/off envelope ``[batch, length]``.

    A stand-in for speech interference that needs no speech data: white
    noise with a long-term speech-like spectrum (flat up to 500 Hz, -12
    dB/octave above, band-limited to 100 Hz - 5 kHz) gated by a smoothed
    random envelope at a syllable rate.

    >>> speech_like_noise(2, 8000, 16000, torch.Generator().manual_seed(0)).shape
    torch.Size([2, 8000])
    """
    noise = torch.randn(batch, length, generator=generator)
    freqs = torch.fft.rfftfreq(length, 1.0 / sample_rate)
    shape = 1.0 / (1.0 + (freqs / 500.0) ** 2)
    shape = shape * ((freqs > 100) & (freqs < 5000)).float()
    shaped = torch.fft.irfft(torch.fft.rfft(noise) * shape, n=length)
    rate = 2.0 + 4.0 * torch.rand(batch, 1, generator=generator)  # syllables per second
    phase = 2 * torch.pi * torch.rand(batch, 1, generator=generator)
    t = torch.arange(length) / sample_rate
    envelope = (0.5 * (1 + torch.sin(2 * torch.pi * rate * t + phase))).pow(2)
    return shaped * envelope


def scale_to_snr(signal: torch.Tensor, noise: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
    """Scales ``noise [B, N]`` so that ``signal`` / noise power is ``snr_db`` (``[B]`` or scalar)."""
    p_s = signal.pow(2).mean(dim=1).clamp_min(1e-10)
    p_n = noise.pow(2).mean(dim=1).clamp_min(1e-10)
    snr = torch.as_tensor(snr_db, dtype=signal.dtype, device=signal.device)
    gain = torch.sqrt(p_s / (p_n * 10.0 ** (snr / 10.0)))
    return noise * gain.reshape(-1, 1)


def contaminate(wavs: torch.Tensor, kind: str, snr_db=0.0, sample_rate: int = 16000,
                generator: Optional[torch.Generator] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Adds an interference to each clip at ``snr_db``.

    Arguments
    ---------
    wavs : torch.Tensor
        Clean waveforms ``[B, N]``.
    kind : str
        ``"none"``, ``"mix"`` (the next clip of the batch; white noise for a
        batch of one), ``"white"`` or ``"speech_like"``.
    snr_db : float or torch.Tensor
        Signal-to-interference ratio in dB (scalar or ``[B]``).
    sample_rate : int
        Sample rate (for the speech-like noise).
    generator : torch.Generator, optional
        CPU generator for reproducible noise.

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        The mixtures ``[B, N]`` and the scaled interference ``[B, N]`` (so
        that ``mixture = wavs + interference``).

    Example
    -------
    >>> x = torch.randn(3, 1000)
    >>> mix, noise = contaminate(x, "white", 10.0, generator=torch.Generator().manual_seed(0))
    >>> snr = 10 * torch.log10(x.pow(2).mean(1) / noise.pow(2).mean(1))
    >>> torch.allclose(mix, x + noise), torch.allclose(snr, torch.full((3,), 10.0), atol=1e-3)
    (True, True)
    """
    batch, length = wavs.shape
    if kind == "none":
        return wavs, torch.zeros_like(wavs)
    if kind == "mix" and batch > 1:
        noise = torch.roll(wavs, shifts=1, dims=0)
    elif kind in ("mix", "white"):
        noise = torch.randn(batch, length, generator=generator).to(wavs)
    elif kind == "speech_like":
        noise = speech_like_noise(batch, length, sample_rate, generator).to(wavs)
    else:
        raise ValueError(f"Unknown contamination {kind!r}; use one of {CONTAMINATIONS}.")
    noise = scale_to_snr(wavs, noise, snr_db)
    return wavs + noise, noise


# --------------------------------------------------------------------------
# Evaluation of L-MAC and baselines through the same metric code
# --------------------------------------------------------------------------
class ExplainerEvaluation:
    """Accumulates metrics per (condition, method) and writes the table.

    Faithfulness metrics are averaged over all clips; ground-truth metrics
    (:func:`speechbrain_xai.metrics.oracle_agreement` against the oracle mask
    of a known source) over the clips where the source is present and the
    classifier predicts its class (the only clips where "the mask should
    select the source" is the right expectation).
    """

    FAITHFULNESS = ("AI", "AD", "AG", "FF", "Fid-In", "SPS", "COMP")
    GROUND_TRUTH = ("oracle_auc", "oracle_iou", "energy_precision", "energy_recall")

    def __init__(self):
        self.values: Dict[Tuple[str, str], Dict[str, List[torch.Tensor]]] = defaultdict(
            lambda: defaultdict(list))
        self.seconds: Dict[str, float] = defaultdict(float)

    def add(self, condition: str, method: str, metrics: Mapping[str, torch.Tensor]) -> None:
        """Stores per-example metrics ``name -> [B]``."""
        for name, value in metrics.items():
            self.values[(condition, method)][name].append(value.detach().cpu().flatten().float())

    def summary(self) -> Dict[str, Dict[str, Dict[str, float]]]:
        """``condition -> method -> metric -> mean`` (ground truth: ``n_gt`` clips)."""
        out: Dict[str, Dict[str, Dict[str, float]]] = defaultdict(dict)
        for (condition, method), metrics in self.values.items():
            cat = {k: torch.cat(v) for k, v in metrics.items() if v}
            row = summarize(cat) if cat else {}
            if "oracle_auc" in cat:
                row["n_gt"] = int(cat["oracle_auc"].numel())
            out[condition][method] = row
        return dict(out)

    def table(self) -> str:
        """Markdown table (one row per condition and method)."""
        summary = self.summary()
        has_gt = any("oracle_auc" in r for rows in summary.values() for r in rows.values())
        cols = list(self.FAITHFULNESS) + (list(self.GROUND_TRUTH) + ["n_gt"] if has_gt else [])
        lines = ["| condition | method | " + " | ".join(cols) + " |",
                 "|---|---|" + "---|" * len(cols)]
        for condition, rows in summary.items():
            for method, row in rows.items():
                cells = [_fmt(row.get(c)) for c in cols]
                lines.append(f"| {condition} | {method} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def write(self, folder: str, extra: Optional[Dict] = None) -> str:
        """Writes ``results.json`` and ``results.md`` into ``folder``."""
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "results.json"), "w") as f:
            json.dump({"results": self.summary(), **(extra or {})}, f, indent=2)
        table = self.table()
        with open(os.path.join(folder, "results.md"), "w") as f:
            f.write(table + "\n")
        return table


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.2f}"


# --------------------------------------------------------------------------
# The Brain
# --------------------------------------------------------------------------
class LMACBrain(FrozenClassifierBrain):
    """Trains an L-MAC mask decoder on a frozen classifier.

    ``modules`` holds only the decoder (``modules["decoder"]``); the
    classifier is a :class:`~speechbrain_xai.adapter.ClassifierAdapter`
    passed as ``adapter`` and kept out of ``modules`` (frozen, never wrapped
    by DDP), moved to the run device when fitting or evaluating.

    Hyperparameters read (``self.hparams``): ``layers``, ``mask_mode``,
    ``l_in``, ``l_out``, ``l1``, ``tv``, ``out_loss``, ``train_path``
    (``"features"`` or ``"istft"``), ``contamination`` (kinds drawn per
    batch; ``[]`` disables), ``contamination_prob``, ``snr_range``,
    ``guided_weight``, ``guided_from_epoch``, ``guided_corr``,
    ``guided_bin``, ``epoch_counter``, ``ckpt_to_keep``, ``train_logger``,
    and for the TEST stage ``test_conditions`` (name -> ``{kind, snr_db}``),
    ``baselines`` (name -> explainer with ``masks(adapter, wavs, wav_lens,
    target)``), ``ground_truth_class`` (class whose ``voice_sig`` stem is
    known, or null), ``test_seed``, ``reference_condition`` (whose L-MAC
    masks are kept for the export check).
    Optional: ``lr_annealing``.
    """

    def __init__(self, modules=None, opt_class=None, hparams=None, run_opts=None,
                 checkpointer=None, adapter=None):
        if adapter is None:
            raise ValueError("LMACBrain needs the classifier: pass adapter=ClassifierAdapter(...).")
        super().__init__(modules, opt_class, hparams, run_opts, checkpointer)
        self.adapter = adapter
        n_freq = adapter.stft_config.n_freq
        if self.modules.decoder.n_freq != n_freq:
            raise ValueError(
                f"The decoder was built for {self.modules.decoder.n_freq} frequency bins but the "
                f"classifier's STFT grid has {n_freq}; set n_freq: {n_freq} in the hparams."
            )
        self.evaluation = ExplainerEvaluation()
        self.reference: Dict[str, torch.Tensor] = {}

    # -------------------------------------------------------------- devices
    # -------------------------------------------------------------- forward
    def interpret(self, wavs, wav_lens):
        """Masks, logits and STFT for a batch (see :func:`decode_masks`)."""
        return decode_masks(self.adapter, self.modules.decoder, self.hparams.layers, wavs, wav_lens)

    def _training_mixture(self, wavs):
        kinds = list(self.hparams.contamination)
        if not kinds:
            return wavs
        kind = kinds[int(torch.randint(len(kinds), (1,)))]
        lo, hi = self.hparams.snr_range
        snr = lo + (hi - lo) * torch.rand(wavs.shape[0], device=wavs.device)
        mixed, _ = contaminate(wavs, kind, snr, self.adapter.sample_rate)
        chosen = torch.rand(wavs.shape[0], device=wavs.device) < self.hparams.contamination_prob
        return torch.where(chosen[:, None], mixed, wavs)

    def compute_forward(self, batch, stage):
        batch = batch.to(self.device)
        clean, lens = batch.sig
        wavs = self._training_mixture(clean) if stage == sb.Stage.TRAIN else clean
        mask, logits, spec = self.interpret(wavs, lens)
        return {"mask": mask, "logits": logits.detach(), "spec": spec, "clean": clean,
                "wavs": wavs, "lens": lens}

    def compute_objectives(self, predictions, batch, stage):
        out = predictions
        mask, spec, lens = out["mask"], out["spec"], out["lens"]
        hp = self.hparams
        path = hp.train_path if stage == sb.Stage.TRAIN else "istft"
        if path == "features" and not self.adapter.has_feature_path:
            path = "istft"
        target = out["logits"].argmax(dim=-1)
        length = out["wavs"].shape[1]
        logits_in = self.adapter.masked_logits(spec, mask, length, lens, hp.mask_mode, path)
        logits_out = self.adapter.masked_logits(spec, 1.0 - mask, length, lens, hp.mask_mode, path)
        terms = lmac_loss(logits_in, logits_out, target, mask, hp.l_in, hp.l_out, hp.l1, hp.tv,
                          hp.out_loss)
        epoch = hp.epoch_counter.current
        if hp.guided_weight and epoch >= hp.guided_from_epoch:
            clean_mag = self.adapter.stft(out["clean"]).abs()
            guided, selected = guided_loss(mask, spec.abs(), clean_mag, hp.guided_corr, hp.guided_bin)
            # trains the decoder, but stays out of the valid loss: checkpoints are
            # chosen on the L-MAC objective alone, comparable before and after the
            # guided stage starts
            if stage == sb.Stage.TRAIN:
                terms["loss"] = terms["loss"] + hp.guided_weight * guided
            terms["guided"], terms["guided_share"] = guided, selected.float().mean()
        with torch.no_grad():
            if stage != sb.Stage.TRAIN:
                probs = out["logits"].softmax(-1)
                metrics = faithfulness_metrics(probs, logits_in.softmax(-1), logits_out.softmax(-1),
                                               target)
                terms.update({k: v.mean() for k, v in metrics.items()})
            for name, value in terms.items():
                self.stage_terms[name] += float(value) * mask.shape[0]
            self.stage_count += mask.shape[0]
        return terms["loss"]

    # ------------------------------------------------------------ test stage
    def evaluate_batch(self, batch, stage):
        if stage != sb.Stage.TEST:
            return super().evaluate_batch(batch, stage)
        batch = batch.to(self.device)
        clean, lens = batch.sig
        hp = self.hparams
        generator = torch.Generator().manual_seed(int(hp.test_seed) + self.step)
        for condition, spec in hp.test_conditions.items():
            wavs, interference = contaminate(clean, spec["kind"], spec.get("snr_db", 0.0),
                                             self.adapter.sample_rate, generator)
            mask, logits, _ = self.interpret(wavs, lens)
            probs = logits.softmax(dim=-1)
            target = probs.argmax(dim=-1)
            if condition == hp.reference_condition:
                self.reference.update({i: m.cpu() for i, m in zip(batch.id, mask)})
            masks = {"L-MAC": mask}
            for name, explainer in (hp.baselines or {}).items():
                masks[name] = explainer.masks(self.adapter, wavs, lens, target)
            for method, method_mask in masks.items():
                exp = Explanation.from_mask(self.adapter, wavs, method_mask, lens, target,
                                            mode=hp.mask_mode, method=method, probs_input=probs)
                self.evaluation.add(condition, method, exp.metrics())
                gt = self._ground_truth(batch, method_mask, interference, target)
                if gt is not None:
                    self.evaluation.add(condition, method, gt)
        return torch.zeros(())

    def _ground_truth(self, batch, mask, interference, target):
        """Oracle agreement on clips whose known source is present and predicted."""
        hp = self.hparams
        voice = getattr(batch, "voice_sig", None)
        if voice is None or getattr(hp, "ground_truth_class", None) is None:
            return None
        names = self.adapter.class_names or []
        if hp.ground_truth_class not in names:
            return None
        cls = names.index(hp.ground_truth_class)
        present = torch.tensor([lab == hp.ground_truth_class for lab in batch.label],
                               device=target.device)
        keep = present & (target == cls)
        if not keep.any():
            return None
        source = voice.data[keep]
        rest = batch.background_sig.data[keep] + interference[keep]
        return oracle_agreement(mask[keep], self.adapter.stft(source).abs(),
                                self.adapter.stft(rest).abs())

    # ---------------------------------------------------------- bookkeeping
    def on_stage_start(self, stage, epoch=None):
        self.stage_terms: Dict[str, float] = defaultdict(float)
        self.stage_count = 0
        if stage == sb.Stage.TEST:
            self.evaluation = ExplainerEvaluation()
            self.reference = {}

    def on_stage_end(self, stage, stage_loss, epoch=None):
        stats = {"loss": stage_loss}
        stats.update({k: v / max(self.stage_count, 1) for k, v in self.stage_terms.items()})
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
        elif stage == sb.Stage.VALID:
            lr = self.optimizer.param_groups[0]["lr"]
            annealing = getattr(self.hparams, "lr_annealing", None)
            if annealing is not None:
                _, new_lr = annealing(stage_loss)
                sb.nnet.schedulers.update_learning_rate(self.optimizer, new_lr)
            self.hparams.train_logger.log_stats(
                {"epoch": epoch, "lr": lr}, train_stats=self.train_stats, valid_stats=stats)
            self.checkpointer.save_and_keep_only(
                meta={"loss": stage_loss}, min_keys=["loss"], num_to_keep=self.hparams.ckpt_to_keep)
        else:
            self.test_table = self.evaluation.table()
            self.hparams.train_logger.log_stats(
                {"Epoch loaded": self.hparams.epoch_counter.current}, test_stats={"loss": stage_loss})
            logger.info("L-MAC evaluation:\n%s", self.test_table)

    def write_results(self, folder: str, extra: Optional[Dict] = None) -> str:
        """Writes the TEST-stage table (``results.md``/``results.json``) and
        the in-domain L-MAC masks (``reference_masks.pt``, id -> mask) used to
        check that an exported interpreter reproduces them."""
        if not sb.utils.distributed.if_main_process():
            return ""
        table = self.evaluation.write(folder, extra)
        torch.save(self.reference, os.path.join(folder, "reference_masks.pt"))
        return table

