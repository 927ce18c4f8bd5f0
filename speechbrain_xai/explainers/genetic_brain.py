"""Running component-search explainers over a data set with SpeechBrain.

:class:`GeneticExplainerBrain` runs a :class:`GeneticExplainer` (or the LIME
baseline: anything with ``explain`` and the component settings) over a
``DynamicItemDataset`` through ``Brain.evaluate()`` and SpeechBrain's data
loaders. Each clip's explanation is saved (wav + npy + png + json), clips
already saved are skipped (a killed run resumes), and at the end of the stage
the per-clip metrics go to ``metrics.csv`` and their means to
``metrics_summary.json``.

:func:`search_metrics` scores explanations: the faithfulness metrics of
:meth:`Explanation.metrics`, deletion and insertion AUC over whole
components, and, when the target source's stems are known (VocalMix),
agreement with the oracle mask.
"""

from __future__ import annotations

import csv
import json
import os
from typing import Dict, Optional

import speechbrain as sb
import torch
from speechbrain.utils.logger import get_logger

from speechbrain_xai import metrics as M
from speechbrain_xai.components import ComponentScorer, batch_component_maps, component_importance
from speechbrain_xai.explainers.base import FrozenClassifierBrain
from speechbrain_xai.explanation import Explanation, is_saved

logger = get_logger(__name__)


def ranking_values(per_clip: Dict) -> torch.Tensor:
    """Component values ``[K]`` that rank components for deletion/insertion curves.

    Selected components rank first, each group ordered by the method's
    ``component_scores`` (GA: ridge weights of the target probability on the
    kept components over every evaluation of the search; LIME: surrogate weights).
    """
    scores = torch.tensor(per_clip["component_scores"], dtype=torch.float64)
    span = (scores.max() - scores.min()).clamp_min(1e-12)
    return torch.tensor(per_clip["genome"], dtype=torch.float64) + 0.5 * (scores - scores.min()) / span


@torch.no_grad()
def search_metrics(explainer, explanation: Explanation, curve_steps: int = 10,
                   voice: Optional[torch.Tensor] = None, background: Optional[torch.Tensor] = None,
                   chunk_size: int = 64) -> Dict[str, torch.Tensor]:
    """Per-clip metrics ``{name: [B]}`` of a component-search explanation.

    Arguments
    ---------
    explainer : GeneticExplainer or LimeExplainer
        The explainer that produced ``explanation`` (gives components and fill).
    explanation : Explanation
        Its output; ``settings["per_clip"]`` must hold genomes and component scores.
    curve_steps : int
        Steps of the deletion/insertion curves (0 skips them). Curves remove
        (insert) whole components in the order of :func:`ranking_values`,
        with the explainer's fill, through the listenable ISTFT path.
    voice, background : torch.Tensor, optional
        Waveforms ``[B, N]`` of the target source and of the rest of the
        mixture; give ``oracle_auc``, ``oracle_iou``, energy precision/recall.
    """
    adapter = explainer.adapter
    exp = explanation
    out = {k: v.float() for k, v in exp.metrics().items()}
    rows = torch.arange(len(exp))
    out["p_masked_in"] = exp.probs_masked_in[rows, exp.target].float()
    out["p_masked_out"] = exp.probs_masked_out[rows, exp.target].float()
    per_clip = exp.settings["per_clip"]
    out["num_selected"] = torch.tensor([float(c["num_selected"]) for c in per_clip])
    out["kept_fraction"] = out["num_selected"] / torch.tensor([float(c["num_components"]) for c in per_clip])
    out["evaluations"] = torch.tensor([float(c["evaluations"]) for c in per_clip])
    device = adapter.device
    wavs, lens = exp.input_wav.to(device), exp.wav_lens.to(device)
    if curve_steps:
        maps, _ = batch_component_maps(explainer.components, lens, wavs.shape[1], adapter.stft_config,
                                       explainer.n_time, explainer.n_bands, explainer.component_map)
        scorer = ComponentScorer(adapter, wavs, lens, maps, exp.target.to(device), explainer.fill,
                                 "istft", chunk_size, explainer.seed)
        importance = component_importance(torch.stack([ranking_values(c) for c in per_clip]), maps)
        clips = torch.arange(len(exp))
        predict = lambda m: scorer.score_masks(clips, m)  # noqa: E731
        out["deletion_auc"] = M.deletion_auc(predict, importance, curve_steps).float()
        out["insertion_auc"] = M.insertion_auc(predict, importance, curve_steps).float()
    if voice is not None and background is not None:
        agree = M.oracle_agreement(exp.mask, adapter.stft(voice.to(device)).abs().cpu(),
                                   adapter.stft(background.to(device)).abs().cpu())
        out.update({k: v.float() for k, v in agree.items()})
    return out


class GeneticExplainerBrain(FrozenClassifierBrain):
    """Explains a data set with ``hparams.explainer`` inside ``evaluate()``.

    Hyperparameters read: ``explainer`` (with its adapter, kept out of
    ``modules`` and moved to the run device on start), ``explanations_folder``,
    ``target`` (None: the predicted class), ``curve_steps``, ``oracle_class``
    (class whose oracle is the ``voice_sig`` stem; None disables), and
    optionally ``save_plots``.

    The batch must provide ``id`` and ``sig``; ``voice_sig`` and
    ``background_sig`` add oracle agreement.
    """

    def frozen_modules(self):
        return [self.hparams.explainer.adapter]

    def on_stage_start(self, stage, epoch=None):
        self.rows = []

    def _saved_row(self, ex_id: str) -> Dict:
        with open(os.path.join(self.hparams.explanations_folder, f"{ex_id}.json")) as f:
            saved = json.load(f)
        return {"ID": ex_id, **saved.get("settings", {}).get("row", {})}

    def compute_forward(self, batch, stage):
        batch = batch.to(self.device)
        folder = self.hparams.explanations_folder
        todo = [i for i, ex_id in enumerate(batch.id) if not is_saved(folder, ex_id)]
        self.rows += [self._saved_row(batch.id[i]) for i in range(len(batch.id)) if i not in todo]
        if not todo:
            return None
        wavs, lens = batch.sig
        idx = torch.tensor(todo, device=wavs.device)
        sub_lens = lens[idx]
        # trim to the longest clip left, so a clip's grid does not depend on skipped ones
        n = int(torch.ceil(sub_lens.max() * wavs.shape[1]))
        sub_lens = (sub_lens * wavs.shape[1] / n).clamp(max=1.0)
        exp = self.hparams.explainer.explain(wavs[idx, :n], sub_lens, target=self.hparams.target)
        return [batch.id[i] for i in todo], idx, n, exp

    def compute_objectives(self, predictions, batch, stage):
        if predictions is None:
            return torch.tensor(0.0)
        ids, idx, n, exp = predictions
        voice = background = None
        oracle_class = getattr(self.hparams, "oracle_class", None)
        if oracle_class is not None and hasattr(batch, "voice_sig"):
            voice, background = batch.voice_sig[0][idx, :n], batch.background_sig[0][idx, :n]
        scores = search_metrics(self.hparams.explainer, exp, self.hparams.curve_steps, voice, background)
        names = exp.class_names or []
        for i, ex_id in enumerate(ids):
            row = {k: float(v[i]) for k, v in scores.items()}
            name = names[int(exp.target[i])] if names else str(int(exp.target[i]))
            if oracle_class is None or name != oracle_class:  # the stem is not the target's
                row = {k: v for k, v in row.items() if not k.startswith(("oracle", "energy"))}
            row["search_seconds"] = exp.settings["search_seconds"] / len(ids)
            item = exp[i]
            item.settings = {k: v for k, v in exp.settings.items() if k != "per_clip"}
            item.settings.update(exp.settings["per_clip"][i], row={"target": name, **row})
            item.save(self.hparams.explanations_folder, [ex_id],
                      plot=getattr(self.hparams, "save_plots", True))
            self.rows.append({"ID": ex_id, "target": name, **row})  # as _saved_row reads it
        return torch.tensor(1.0 - float(scores["p_masked_in"].mean()))

    def on_stage_end(self, stage, stage_loss, epoch=None):
        if not self.rows or not sb.utils.distributed.if_main_process():
            return
        folder = self.hparams.explanations_folder
        keys = sorted({k for r in self.rows for k in r if k not in ("ID", "target")})
        with open(os.path.join(folder, "metrics.csv"), "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["ID", "target"] + keys)
            writer.writeheader()
            writer.writerows(sorted(self.rows, key=lambda r: r["ID"]))
        summary = {"clips": len(self.rows)}
        for k in keys:
            values = [r[k] for r in self.rows if k in r and r[k] == r[k]]  # skip NaN
            if values:
                summary[k] = sum(values) / len(values)
        with open(os.path.join(folder, "metrics_summary.json"), "w") as f:
            json.dump(summary, f, indent=2)
        logger.info("Explained %d clips: %s", len(self.rows),
                    {k: round(v, 4) for k, v in summary.items() if k != "clips"})
