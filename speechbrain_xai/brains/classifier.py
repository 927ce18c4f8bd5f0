"""Training the classifiers the explainers explain, as a SpeechBrain ``Brain``.

:class:`ClassifierBrain` trains SpeechBrain's encoder-classifier layout
(``compute_features -> mean_var_norm -> embedding_model -> classifier``) with
cross-entropy, keeps the checkpoints with the lowest validation error, writes
per-clip test probabilities (under ``torchrun`` each process tests its share
of the test set and the main process writes them all), and :func:`export_classifier` writes the best
checkpoint as a SpeechBrain pretrained folder (``hyperparams.yaml`` +
checkpoints) that ``ClassifierAdapter.from_hparams`` and SpeechBrain's
``EncoderClassifier.from_hparams`` load. :func:`run_classification` is the
recipes' step after data preparation (the VocalMix classifier and the
shipped voice detector).
"""

from __future__ import annotations

import os
from typing import Dict, Mapping

import speechbrain as sb
import torch.nn.functional as F
from speechbrain.utils.distributed import run_on_main
from speechbrain.utils.logger import get_logger

from speechbrain_xai.brains.base import DistributedBrain
from speechbrain_xai.data.datasets import audio_dataset
from speechbrain_xai.export import export_pretrained
from speechbrain_xai.files import write_json, write_text
from speechbrain_xai.frontends import call_with_lengths
from speechbrain_xai.hparams import reads_hparams, require_hparams

logger = get_logger(__name__)


@reads_hparams("lr_annealing", "error_stats", "train_logger", "ckpt_to_keep", "epoch_counter",
               "label_encoder", "output_folder")
class ClassifierBrain(DistributedBrain):
    """Log-mel -> embedding model -> linear head, trained with cross-entropy.

    Under ``torchrun`` training is SpeechBrain's DDP; the test set is split
    across the processes (``shard_test``) and their predictions, errors and
    losses merged (:meth:`merge_test_shares`) before the accuracy is computed
    and ``test_predictions.csv`` written.
    """

    shard_test = True

    def compute_forward(self, batch, stage):
        batch = batch.to(self.device)
        wavs, lens = batch.sig
        feats = self.modules.compute_features(wavs)
        feats = self.modules.mean_var_norm(feats, lens)
        emb = call_with_lengths(self.modules.embedding_model, feats, lens)
        return self.modules.classifier(emb)  # (B, 1, C) logits

    def compute_objectives(self, predictions, batch, stage):
        labels = batch.label_encoded.data  # (B, 1)
        loss = F.cross_entropy(predictions.squeeze(1), labels.squeeze(1))
        if stage != sb.Stage.TRAIN:
            self.error_metrics.append(batch.id, predictions, labels, batch.sig[1])
        if stage == sb.Stage.TEST:
            probs = predictions.squeeze(1).softmax(dim=-1).detach().cpu()
            self.test_probs.update(zip(batch.id, probs.tolist()))
        return loss

    def on_stage_start(self, stage, epoch=None):
        if stage == sb.Stage.TRAIN:
            _, lr = self.hparams.lr_annealing(epoch - 1)  # value of this epoch
            sb.nnet.schedulers.update_learning_rate(self.optimizer, lr)
        if stage != sb.Stage.TRAIN:
            self.error_metrics = self.hparams.error_stats()
        self.test_probs = {}

    def on_stage_end(self, stage, stage_loss, epoch=None):
        stats = {"loss": stage_loss}
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
            return
        if stage == sb.Stage.TEST:
            stats["loss"] = self.merge_test_shares(stage_loss)
        stats["error"] = self.error_metrics.summarize("average")
        stats["accuracy"] = 1.0 - stats["error"]
        if stage == sb.Stage.VALID:
            self.hparams.train_logger.log_stats(
                {"epoch": epoch, "lr": self.optimizer.param_groups[0]["lr"]},
                train_stats=self.train_stats, valid_stats=stats
            )
            self.checkpointer.save_and_keep_only(
                meta={"error": stats["error"]}, min_keys=["error"],
                num_to_keep=self.hparams.ckpt_to_keep,
            )
        else:
            self.hparams.train_logger.log_stats(
                {"Epoch loaded": self.hparams.epoch_counter.current}, test_stats=stats
            )
            self.test_accuracy = stats["accuracy"]
            self.write_test_predictions()

    def merge_test_shares(self, stage_loss: float) -> float:
        """Every process's test ids, errors and probabilities in this
        process's ``error_metrics`` and ``test_probs`` (nothing changes when
        the test set was not split); returns the test loss over all batches."""
        metrics = self.error_metrics
        parts = self.gather_test([(list(metrics.ids), [s.cpu() for s in metrics.scores],
                                   self.test_probs, float(stage_loss), self.step)])
        if len(parts) == 1:
            return stage_loss
        metrics.ids = [clip for part in parts for clip in part[0]]
        metrics.scores = [score for part in parts for score in part[1]]
        self.test_probs = {clip: probs for part in parts for clip, probs in part[2].items()}
        batches = sum(part[4] for part in parts)
        return sum(part[3] * part[4] for part in parts) / max(batches, 1)

    def write_test_predictions(self):
        """Class probabilities per test clip, as the trained model gives them
        (the exported pretrained folder must reproduce them)."""
        if not sb.utils.distributed.if_main_process():
            return
        names = [self.hparams.label_encoder.ind2lab[i] for i in range(len(self.hparams.label_encoder))]
        lines = [",".join(["ID"] + names)]
        lines += [",".join([utt_id] + [f"{p:.6f}" for p in probs])
                  for utt_id, probs in sorted(self.test_probs.items())]
        name = getattr(self, "predictions_file", "test_predictions.csv")
        write_text(os.path.join(self.hparams.output_folder, name), "\n".join(lines) + "\n")



@reads_hparams("label_encoder", "save_folder", "n_classes", "sample_rate")
def classifier_datasets(hparams: Mapping, manifests: Dict[str, str], data_root: str) -> Dict:
    """``{split: dataset}`` (``sig`` at the classifier's rate, ``label_encoded``)
    for the manifests, with the label encoder fitted on the training split."""
    label_encoder = hparams["label_encoder"]

    @sb.utils.data_pipeline.takes("label")
    @sb.utils.data_pipeline.provides("label", "label_encoded")
    def label_pipeline(label):
        yield label
        yield label_encoder.encode_label_torch(label)

    datasets = {}
    for split, csv_path in manifests.items():
        datasets[split] = audio_dataset(csv_path, data_root, hparams["sample_rate"])
        datasets[split].add_dynamic_item(label_pipeline)
        datasets[split].set_output_keys(["id", "sig", "label_encoded"])
    label_encoder.load_or_create(
        path=os.path.join(hparams["save_folder"], "label_encoder.txt"),
        from_didatasets=[datasets["train"]],
        output_key="label",
    )
    if len(label_encoder) != hparams["n_classes"]:
        raise ValueError(
            f"The data has {len(label_encoder)} classes but n_classes={hparams['n_classes']}; "
            f"set --n_classes {len(label_encoder)}."
        )
    label_encoder.expect_len(hparams["n_classes"])
    return datasets


@reads_hparams("inference_template", "inference_keys", "pretrained_folder", "embedding_model",
               "classifier", "mean_var_norm", "label_encoder")
def export_classifier(hparams: Mapping, hparams_file: str) -> str:
    """Writes the loaded (best) checkpoint as a SpeechBrain pretrained folder."""
    template = os.path.join(os.path.dirname(os.path.abspath(hparams_file)), hparams["inference_template"])
    overrides = {key: hparams[key] for key in hparams["inference_keys"]}
    loadables = {
        name: hparams[name]
        for name in ("embedding_model", "classifier", "mean_var_norm", "label_encoder")
    }
    return export_pretrained(hparams["pretrained_folder"], template, overrides, loadables)


@reads_hparams("modules", "opt_class", "checkpointer", "train_dataloader_opts",
               "valid_dataloader_opts", *ClassifierBrain.hparams_required,
               *classifier_datasets.hparams_required, *export_classifier.hparams_required)
def run_classification(hparams: Mapping, hparams_file: str, run_opts: Mapping,
                       manifests: Dict[str, str], data_root: str) -> ClassifierBrain:
    """Trains (resumable), tests the best checkpoint and exports it (main
    process): the classification recipes after data preparation.

    ``manifests`` holds ``train``, ``valid`` and ``test``; any other entry
    (e.g. ``test_voice_scenes``) is a further test set, evaluated with the
    same checkpoint (predictions in ``test_predictions_<name>.csv``). The
    accuracies go to ``output_folder/test_accuracy.json`` and the Brain's
    ``test_accuracies`` (``test_accuracy`` is that of ``test``).
    """
    require_hparams(hparams, run_classification, "run_classification")
    datasets = classifier_datasets(hparams, manifests, data_root)
    brain = ClassifierBrain(modules=hparams["modules"], opt_class=hparams["opt_class"],
                            hparams=hparams, run_opts=run_opts, checkpointer=hparams["checkpointer"])
    brain.fit(brain.hparams.epoch_counter, datasets["train"], datasets["valid"],
              train_loader_kwargs=hparams["train_dataloader_opts"],
              valid_loader_kwargs=hparams["valid_dataloader_opts"])
    brain.test_accuracies = {}
    for name in ["test"] + sorted(n for n in datasets if n not in ("train", "valid", "test")):
        brain.predictions_file = "test_predictions.csv" if name == "test" else f"test_predictions_{name}.csv"
        brain.evaluate(datasets[name], min_key="error",
                       test_loader_kwargs=hparams["valid_dataloader_opts"])
        brain.test_accuracies[name] = brain.test_accuracy
        logger.info("Accuracy on %s: %.2f%%", name, 100 * brain.test_accuracy)
    brain.test_accuracy = brain.test_accuracies["test"]
    run_on_main(write_json, args=[os.path.join(hparams["output_folder"], "test_accuracy.json"),
                                  brain.test_accuracies])
    # run_on_main, not `if if_main_process()`: SpeechBrain's save hooks inside
    # the export synchronise with the other processes unless run under it
    folder = run_on_main(export_classifier, args=[hparams, hparams_file])
    logger.info("Load it with ClassifierAdapter.from_hparams(%r)", folder)
    return brain
