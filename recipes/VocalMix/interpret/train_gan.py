#!/usr/bin/env python3
"""Trains a spectrogram GAN on VocalMix excerpts in a classifier's feature domain.

The GAN learns log-mel excerpts (``excerpt_frames`` x ``n_mels``) computed by
the explained classifier's own front-end; ``am_search.py`` then searches its
latent space for examples that drive a unit of the classifier up or down.
At the end it writes the best generator to ``<generator_file>`` and a
sample-quality report (Fréchet distance in the classifier's embedding space:
generated vs real, real vs real, untrained generator vs real).

To run (CPU, minutes):
    python recipes/VocalMix/interpret/train_gan.py recipes/VocalMix/interpret/hparams/gan.yaml \
        --data_folder data/VocalMix \
        --classifier_source results/VocalMix/classification/small_cnn/1234/pretrained
"""

import json
import os
import sys
import time

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.logger import get_logger

from speechbrain_xai import ClassifierAdapter
from speechbrain_xai.data.vocalmix import prepare_vocalmix_from_hparams
from speechbrain_xai.explainers.gan_training import (
    GANBrain,
    embedding_frechet_distance,
    reinitialized,
)

logger = get_logger(__name__)

# Hyperparameters GANBrain reads from hparams (checked up front for a clear error)
BRAIN_KEYS = ("excerpt_frames", "latent_dim", "eval_excerpts_per_clip", "ckpt_to_keep",
              "opt_class_generator", "opt_class_discriminator", "epoch_counter", "train_logger")


def prepare_data(hparams):
    """Generates VocalMix (or finds it) and returns the manifests."""
    return prepare_vocalmix_from_hparams(hparams, hparams["save_folder"])


def dataio_prep(hparams, manifests, splits=("train", "valid", "test")):
    """SpeechBrain datasets giving the mixture waveform of each clip as ``sig``."""

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("sig")
    def audio_pipeline(wav):
        return sb.dataio.dataio.read_audio(wav)

    return {
        split: sb.dataio.dataset.DynamicItemDataset.from_csv(
            csv_path=manifests[split],
            replacements={"data_root": hparams["data_folder"]},
            dynamic_items=[audio_pipeline],
            output_keys=["id", "sig"],
        )
        for split in splits
    }


def load_classifier(hparams, run_opts):
    """The frozen classifier whose features the GAN learns."""
    return ClassifierAdapter.from_hparams(
        hparams["classifier_source"],
        savedir=os.path.join(hparams["save_folder"], "classifier"),
        run_opts={"device": run_opts.get("device", "cpu")},
    )


def sample_quality(brain, hparams):
    """FD in the classifier's embedding space: trained / untrained generator vs
    one half of the real test excerpts, and the other half as the floor."""
    real = brain.test_real.to(brain.device)  # (clips * per_clip, T, F), clip-major
    half = real.shape[0] // 2
    real_a, real_b = real[:half], real[half:2 * half]
    gen = brain.generator.eval()
    untrained = reinitialized(gen, seed=hparams["seed"]).eval()
    torch.manual_seed(hparams["seed"])
    z = torch.randn(half, hparams["latent_dim"], device=brain.device)
    with torch.no_grad():
        fake, fake0 = gen(z), untrained(z)
    report = {
        "n_per_set": half,
        "fd_generated_vs_real": embedding_frechet_distance(brain.adapter, fake, real_b),
        "fd_real_vs_real": embedding_frechet_distance(brain.adapter, real_a, real_b),
        "fd_untrained_vs_real": embedding_frechet_distance(brain.adapter, fake0, real_b),
    }
    return report


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
    missing = [key for key in BRAIN_KEYS if key not in hparams]
    if missing:
        raise ValueError(f"{hparams_file} lacks the keys {missing} that GANBrain needs.")
    manifests = prepare_data(hparams)
    datasets = dataio_prep(hparams, manifests)
    adapter = load_classifier(hparams, run_opts)

    brain = GANBrain(
        modules=hparams["modules"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
        adapter=adapter,
    )
    brain.compute_feature_stats(datasets["train"], hparams["valid_dataloader_opts"])
    start = time.time()
    brain.fit(
        brain.hparams.epoch_counter,
        datasets["train"],
        datasets["valid"],
        train_loader_kwargs=hparams["train_dataloader_opts"],
        valid_loader_kwargs=hparams["valid_dataloader_opts"],
    )
    fit_seconds = time.time() - start
    brain.evaluate(datasets["test"], min_key="fd_embedding",
                   test_loader_kwargs=hparams["valid_dataloader_opts"])
    if sb.utils.distributed.if_main_process():
        report = sample_quality(brain, hparams)
        report["fit_seconds"] = round(fit_seconds, 1)
        report["parameters"] = {name: sum(p.numel() for p in mod.parameters())
                                for name, mod in hparams["modules"].items()}
        with open(hparams["quality_file"], "w") as f:
            json.dump(report, f, indent=2)
        torch.save(brain.generator.state_dict(), hparams["generator_file"])
        logger.info("Sample quality: %s", report)
        logger.info("Generator written to %s", hparams["generator_file"])
