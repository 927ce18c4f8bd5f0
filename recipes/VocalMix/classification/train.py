#!/usr/bin/env python3
"""Trains the VocalMix classifier that the explainers explain.

Generates VocalMix on first run (offline, deterministic), trains the model of
the chosen hparams file, reports test accuracy, and exports the best
checkpoint as a SpeechBrain pretrained folder (``<pretrained_folder>``) that
``speechbrain_xai.ClassifierAdapter.from_hparams`` loads.

To run (CPU, minutes):
    python recipes/VocalMix/classification/train.py \
        recipes/VocalMix/classification/hparams/small_cnn.yaml --data_folder data/VocalMix

Multi-GPU:
    torchrun --nproc_per_node=2 recipes/VocalMix/classification/train.py \
        recipes/VocalMix/classification/hparams/cnn14.yaml --data_folder data/VocalMix
"""

import os
import sys

import speechbrain as sb
import torch.nn.functional as F
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.logger import get_logger

from speechbrain_xai.frontends import call_with_lengths
from speechbrain_xai.data.vocalmix import prepare_vocalmix_from_hparams
from speechbrain_xai.export import export_pretrained

logger = get_logger(__name__)


class ClassifierBrain(sb.Brain):
    """Log-mel -> embedding model -> linear head, trained with cross-entropy."""

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

    def write_test_predictions(self):
        """Class probabilities per test clip, as the trained model gives them
        (the exported pretrained folder must reproduce them)."""
        if not sb.utils.distributed.if_main_process():
            return
        names = [self.hparams.label_encoder.ind2lab[i] for i in range(len(self.hparams.label_encoder))]
        path = os.path.join(self.hparams.output_folder, "test_predictions.csv")
        with open(path, "w") as f:
            f.write(",".join(["ID"] + names) + "\n")
            for utt_id, probs in sorted(self.test_probs.items()):
                f.write(",".join([utt_id] + [f"{p:.6f}" for p in probs]) + "\n")


def dataio_prep(hparams, manifests):
    """SpeechBrain datasets for the VocalMix manifests, with the label encoder."""

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("sig")
    def audio_pipeline(wav):
        return sb.dataio.dataio.read_audio(wav)

    label_encoder = hparams["label_encoder"]

    @sb.utils.data_pipeline.takes("label")
    @sb.utils.data_pipeline.provides("label", "label_encoded")
    def label_pipeline(label):
        yield label
        yield label_encoder.encode_label_torch(label)

    datasets = {}
    for split, csv in manifests.items():
        datasets[split] = sb.dataio.dataset.DynamicItemDataset.from_csv(
            csv_path=csv,
            replacements={"data_root": hparams["data_folder"]},
            dynamic_items=[audio_pipeline, label_pipeline],
            output_keys=["id", "sig", "label_encoded"],
        )
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


def export_classifier(hparams, hparams_file):
    """Writes the loaded (best) checkpoint as a SpeechBrain pretrained folder."""
    template = os.path.join(os.path.dirname(os.path.abspath(hparams_file)), hparams["inference_template"])
    overrides = {key: hparams[key] for key in hparams["inference_keys"]}
    loadables = {
        name: hparams[name]
        for name in ("embedding_model", "classifier", "mean_var_norm", "label_encoder")
    }
    return export_pretrained(hparams["pretrained_folder"], template, overrides, loadables)


if __name__ == "__main__":
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    sb.utils.distributed.ddp_init_group(run_opts)
    with open(hparams_file) as fin:
        hparams = load_hyperpyyaml(fin, overrides)

    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    manifests = prepare_vocalmix_from_hparams(hparams, hparams["save_folder"])
    datasets = dataio_prep(hparams, manifests)

    brain = ClassifierBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    brain.fit(
        brain.hparams.epoch_counter,
        datasets["train"],
        datasets["valid"],
        train_loader_kwargs=hparams["train_dataloader_opts"],
        valid_loader_kwargs=hparams["valid_dataloader_opts"],
    )
    brain.evaluate(datasets["test"], min_key="error", test_loader_kwargs=hparams["valid_dataloader_opts"])
    logger.info("Test accuracy: %.2f%%", 100 * brain.test_accuracy)
    if sb.utils.distributed.if_main_process():
        folder = export_classifier(hparams, hparams_file)
        logger.info("Load it with ClassifierAdapter.from_hparams(%r)", folder)
