"""Training an L-MAC decoder as a SpeechBrain ``Brain``, and the L-MAC recipe's steps.

:class:`LMACBrain` trains the mask decoder on a frozen classifier with the
L-MAC objective (:func:`speechbrain_xai.explainers.lmac.lmac_loss`), optional
contaminated inputs and an optional guided stage; checkpoints are chosen on
the validation loss. Evaluation is the harness's
(:mod:`speechbrain_xai.brains.harness`): :meth:`LMACBrain.explainer` gives the
trained decoder as an :class:`~speechbrain_xai.explainers.lmac.LMACExplainer`
to score beside any baseline.

:func:`run_lmac` is what the L-MAC recipes (VocalMix, ESC-50) run: train,
evaluate L-MAC and the baselines in every condition, export the interpreter.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from typing import Dict

import speechbrain as sb
import torch
from speechbrain.utils.distributed import run_on_main
from speechbrain.utils.logger import get_logger

from speechbrain_xai.brains.base import FrozenClassifierBrain
from speechbrain_xai.contamination import contaminate
from speechbrain_xai.explainers.lmac import (LMACExplainer, contamination_loss, decode_masks,
                                             guided_loss, lmac_loss)
from speechbrain_xai.hparams import reads_hparams, require_hparams
from speechbrain_xai.lobes.decoders import count_parameters
from speechbrain_xai.metrics import faithfulness_metrics

logger = get_logger(__name__)


@reads_hparams("layers", "mask_mode", "l_in", "l_out", "l1", "tv", "out_loss", "train_path",
               "contamination", "contamination_prob", "snr_range", "guided_weight",
               "guided_from_epoch", "guided_corr", "guided_bin", "epoch_counter", "ckpt_to_keep",
               "train_logger", optional=("lr_annealing", "checkpoint_selection", "frame_sparsity",
                                       "in_margin", "guided_target"))
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
    ``guided_bin``, ``epoch_counter``, ``ckpt_to_keep``, ``train_logger``;
    optional ``lr_annealing``, ``checkpoint_selection`` (see
    :meth:`recover_selected`), ``guided_target`` (see :attr:`GUIDED_TARGETS`),
    ``frame_sparsity`` and ``in_margin`` (the
    ``frames`` weight and the ``in_margin`` of
    :func:`~speechbrain_xai.explainers.lmac.lmac_loss`). The batches carry ``sig``.
    """

    #: How :meth:`recover_selected` picks the checkpoint that is tested and exported.
    CHECKPOINT_SELECTIONS = ("lowest_valid_loss", "last")
    #: What the guided stage pulls the mask toward: the binarised clean clip
    #: (:func:`~speechbrain_xai.explainers.lmac.guided_loss`, the paper) or only
    #: away from the contamination
    #: (:func:`~speechbrain_xai.explainers.lmac.contamination_loss`).
    GUIDED_TARGETS = ("clean", "not_contamination")

    @classmethod
    def guided_target(cls, hparams: Dict) -> str:
        """The recipe's ``guided_target`` (default ``"clean"``), checked."""
        target = hparams.get("guided_target") or "clean"
        if target not in cls.GUIDED_TARGETS:
            raise ValueError(f"guided_target is {target!r}; use one of {cls.GUIDED_TARGETS}.")
        return target

    @classmethod
    def checkpoint_selection(cls, hparams: Dict) -> str:
        """The recipe's ``checkpoint_selection`` (default ``"lowest_valid_loss"``),
        checked: a ``ValueError`` names the choices."""
        rule = hparams.get("checkpoint_selection") or "lowest_valid_loss"
        if rule not in cls.CHECKPOINT_SELECTIONS:
            raise ValueError(f"checkpoint_selection is {rule!r}; use one of {cls.CHECKPOINT_SELECTIONS}.")
        return rule

    def recover_selected(self):
        """Loads the checkpoint chosen by ``checkpoint_selection``:
        ``"lowest_valid_loss"`` (the default) or ``"last"``, the end of
        training, which is the end of the guided stage when there is one (its
        BCE term trains the decoder but is not in the valid loss, so the
        lowest valid loss tends to pick an epoch before it). Returns the
        checkpoint (None when there is none)."""
        if self.checkpoint_selection(vars(self.hparams)) == "last":
            # the epoch is in the meta of checkpoints written since it was added; unixtime otherwise
            return self.checkpointer.recover_if_possible(
                importance_key=lambda c: (c.meta.get("epoch", -1), c.meta.get("unixtime", 0.0)))
        return self.checkpointer.recover_if_possible(min_key="loss")

    def __init__(self, modules=None, opt_class=None, hparams=None, run_opts=None,
                 checkpointer=None, adapter=None):
        if adapter is None:
            raise ValueError("LMACBrain needs the classifier: pass adapter=ClassifierAdapter(...).")
        super().__init__(modules, opt_class, hparams, run_opts, checkpointer)
        require_hparams(self.hparams, LMACBrain, "LMACBrain")
        self._guided_target = self.guided_target(vars(self.hparams))  # checked before training
        self.adapter = adapter
        n_freq = adapter.stft_config.n_freq
        if self.modules.decoder.n_freq != n_freq:
            raise ValueError(
                f"The decoder was built for {self.modules.decoder.n_freq} frequency bins but the "
                f"classifier's STFT grid has {n_freq}; set n_freq: {n_freq} in the hparams."
            )
        heads, classes = getattr(self.modules.decoder, "num_classes", None), adapter.num_classes
        if heads and classes and heads != classes:
            raise ValueError(f"The decoder has one head for each of {heads} classes but the "
                             f"classifier has {classes}; set the decoder's num_classes to {classes}.")

    # -------------------------------------------------------------- forward
    def interpret(self, wavs, wav_lens):
        """Masks, logits and STFT for a batch (see :func:`decode_masks`)."""
        return decode_masks(self.adapter, self.modules.decoder, self.hparams.layers, wavs, wav_lens)

    def explainer(self) -> LMACExplainer:
        """The decoder (as it is now: load the best checkpoint first) as an explainer."""
        decoder = self.modules.decoder
        decoder = decoder.module if hasattr(decoder, "module") else decoder  # DDP
        return LMACExplainer(self.adapter, decoder, self.hparams.layers, self.hparams.mask_mode)

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
                          hp.out_loss, frames=getattr(hp, "frame_sparsity", 0.0) or 0.0,
                          in_margin=getattr(hp, "in_margin", 0.0) or 0.0)
        epoch = hp.epoch_counter.current
        if hp.guided_weight and epoch >= hp.guided_from_epoch:
            clean_spec = self.adapter.stft(out["clean"])
            if self._guided_target == "clean":
                guided, selected = guided_loss(mask, spec.abs(), clean_spec.abs(), hp.guided_corr,
                                               hp.guided_bin)
            else:
                guided, selected = contamination_loss(mask, spec, clean_spec)
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

    # ---------------------------------------------------------- bookkeeping
    def on_stage_start(self, stage, epoch=None):
        self.stage_terms: Dict[str, float] = defaultdict(float)
        self.stage_count = 0

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
            # the most recent checkpoint is kept too (keep_recent): "last" can always choose it
            self.checkpointer.save_and_keep_only(
                meta={"loss": stage_loss, "epoch": int(epoch)}, min_keys=["loss"],
                num_to_keep=self.hparams.ckpt_to_keep)
        else:
            self.hparams.train_logger.log_stats(
                {"Epoch loaded": self.hparams.epoch_counter.current}, test_stats=stats)


@reads_hparams("classifier", "classifier_source", "modules", "opt_class", "checkpointer", "decoder",
               "train_dataloader_opts", "valid_dataloader_opts", "baselines", "test_conditions",
               "oracle_class", "test_seed", "curve_steps", "output_folder", "explanations_folder",
               "interpreter_folder", "save_folder", *LMACBrain.hparams_required,
               optional=(*LMACBrain.hparams_keys, "test_splits"))
def run_lmac(hparams: Dict, run_opts: Dict, datasets: Dict) -> LMACBrain:
    """The L-MAC recipe after data preparation (VocalMix and ESC-50 alike):

    1. trains the decoder (:class:`LMACBrain`, resumable from its checkpoints);
    2. loads the checkpoint chosen by ``checkpoint_selection`` (default: the
       lowest validation loss; ``last``: the end of training) and evaluates
       L-MAC and the ``baselines`` (``{label: {method: name, ...options}}``)
       on the test set in every ``test_conditions`` entry with the harness
       (results.md / results.json / per_clip.csv in ``output_folder``; the
       in-domain L-MAC masks saved in ``explanations_folder``); with
       ``test_splits`` (a list of dataset names), on each of them, into
       ``output_folder/<split>`` and ``explanations_folder/<split>``;
    3. exports the interpreter to ``interpreter_folder`` (main process).
    """
    from speechbrain_xai.brains.harness import evaluate_explainers
    from speechbrain_xai.inference.lmac import export_interpreter

    require_hparams(hparams, run_lmac, "run_lmac")
    selection = LMACBrain.checkpoint_selection(hparams)  # checked before training, not after it
    adapter = hparams["classifier"]
    brain = LMACBrain(modules=hparams["modules"], opt_class=hparams["opt_class"], hparams=hparams,
                      run_opts=run_opts, checkpointer=hparams["checkpointer"], adapter=adapter)
    n_params = count_parameters(hparams["decoder"])
    logger.info("Decoder parameters: %d", n_params)
    start = time.time()
    brain.fit(brain.hparams.epoch_counter, datasets["train"], datasets["valid"],
              train_loader_kwargs=hparams["train_dataloader_opts"],
              valid_loader_kwargs=hparams["valid_dataloader_opts"])
    train_seconds = time.time() - start
    epochs_trained = hparams["epoch_counter"].current
    brain.recover_selected()
    first = next(iter(hparams["test_conditions"]))
    explainers = {"L-MAC": brain.explainer(), **dict(hparams["baselines"] or {})}
    extra = {"epochs_trained": epochs_trained, "epoch_selected": hparams["epoch_counter"].current,
             "checkpoint_selection": selection,
             "train_wall_s": round(train_seconds, 1),
             "decoder_parameters": n_params,
             "decoder_heads": getattr(hparams["decoder"], "num_classes", None) or 1,
             "classifier_source": str(hparams["classifier_source"])}
    test_splits = list(hparams.get("test_splits") or ["test"])
    for split in test_splits:
        # one test set: the output folder itself; several: a subfolder each
        single = len(test_splits) == 1
        evaluate_explainers(
            adapter, explainers, datasets[split],
            hparams["output_folder"] if single else os.path.join(hparams["output_folder"], split),
            conditions=hparams["test_conditions"], oracle_class=hparams["oracle_class"],
            curve_steps=hparams["curve_steps"], seed=hparams["test_seed"],
            explanations_folder=(hparams["explanations_folder"] if single
                                 else os.path.join(hparams["explanations_folder"], split)),
            save_explanations=["L-MAC"], save_conditions=[first], save_plots=False,
            extra={**extra, "test_set": split}, run_opts=run_opts,
            loader_kwargs=hparams["valid_dataloader_opts"],
        )
    # run_on_main, not `if if_main_process()`: SpeechBrain's save hooks inside
    # the export synchronise with the other processes unless run under it
    folder = run_on_main(export_interpreter, args=[
        hparams["interpreter_folder"], hparams["classifier_source"], brain.explainer().decoder,
        hparams["layers"], hparams["mask_mode"]],
        kwargs={"savedir": os.path.join(hparams["save_folder"], "classifier_export")})
    logger.info("Load it with LMACInterpreter.from_hparams(%r)", folder)
    return brain
