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

import os
import sys
import time

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.logger import get_logger

from speechbrain_xai import ClassifierAdapter
from speechbrain_xai.brains.gan import GANBrain
from speechbrain_xai.data.datasets import vocalmix_clip_datasets
from speechbrain_xai.data.excerpts import samples_for_frames
from speechbrain_xai.data.vocalmix import prepare_vocalmix_from_hparams

logger = get_logger(__name__)

def prepare_data(hparams):
    """Generates VocalMix (or finds it) and returns the manifests."""
    return prepare_vocalmix_from_hparams(hparams, hparams["save_folder"])


def dataio_prep(hparams, manifests, adapter, splits=("train", "valid", "test"), voice_focus=False):
    """SpeechBrain datasets giving the mixture waveform of each clip as ``sig``.

    With ``voice_focus`` every voice clip is cut to its voice interval (known
    from the stems; widened around its centre to at least one excerpt and a
    frame of margin, in the classifier's own feature hops) in every split, so
    that the GAN learns, and is validated on, voice excerpts and no-voice
    excerpts in equal parts. VocalMix clips have voice in 30-80% of their
    length and half have none: without focus about 15% of the excerpts lie
    wholly inside a voice interval.
    """
    min_samples = None
    if voice_focus:
        min_samples = samples_for_frames(adapter, hparams["excerpt_frames"] + 1, hparams["sample_rate"])
    return vocalmix_clip_datasets(manifests, hparams["data_folder"], hparams["sample_rate"], splits,
                                  min_samples)


def load_classifier(hparams, run_opts):
    """The frozen classifier whose features the GAN learns."""
    return ClassifierAdapter.from_hparams(
        hparams["classifier_source"],
        savedir=os.path.join(hparams["save_folder"], "classifier"),
        run_opts={"device": run_opts.get("device", "cpu")},
    )


def run_gan(hparams, run_opts, datasets, adapter):
    """Feature statistics, training (resumable), test, then the generator and
    its sample-quality report (also run by the ESC50 recipe on its data)."""
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
    brain.export(hparams["generator_file"], hparams["quality_file"], seed=hparams["seed"],
                 fit_seconds=round(fit_seconds, 1))
    return brain


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
    manifests = prepare_data(hparams)
    adapter = load_classifier(hparams, run_opts)
    datasets = dataio_prep(hparams, manifests, adapter, voice_focus=hparams["voice_focus"])

    run_gan(hparams, run_opts, datasets, adapter)
