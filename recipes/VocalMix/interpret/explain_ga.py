#!/usr/bin/env python3
"""Explains a VocalMix classifier with the genetic explainer (evolved local explanations).

Runs ``GeneticExplainer`` over the test split through SpeechBrain's
``evaluate()`` and data loaders (``GeneticExplainerBrain``): each clip's
explanation is written to ``<explanations_folder>`` (masked-in/out wav, mask,
png, json), clips already written are skipped (a killed run resumes), and the
metrics (faithfulness, deletion/insertion AUC, oracle voice-mask agreement)
go to ``metrics.csv`` and ``metrics_summary.json``.

To run (CPU), with a classifier trained by ../classification/train.py:
    python recipes/VocalMix/interpret/explain_ga.py recipes/VocalMix/interpret/hparams/ga.yaml \
        --data_folder data/VocalMix \
        --classifier_source results/VocalMix/classification/small_cnn/1234/pretrained

Pass ``--test_csv <classification output>/save/test.csv`` to reuse that run's
manifest instead of preparing VocalMix again.
"""

import os
import sys

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.logger import get_logger

from speechbrain_xai.data.vocalmix import prepare_vocalmix_from_hparams
from speechbrain_xai.explainers.genetic_brain import GeneticExplainerBrain

logger = get_logger(__name__)


def dataio_prep(hparams, test_csv):
    """The clips to explain, with their voice and background stems."""

    @sb.utils.data_pipeline.takes("wav", "voice_wav", "background_wav")
    @sb.utils.data_pipeline.provides("sig", "voice_sig", "background_sig")
    def audio_pipeline(wav, voice_wav, background_wav):
        for path in (wav, voice_wav, background_wav):
            yield sb.dataio.dataio.read_audio(path)

    data = sb.dataio.dataset.DynamicItemDataset.from_csv(
        csv_path=test_csv,
        replacements={"data_root": hparams["data_folder"]},
        dynamic_items=[audio_pipeline],
        output_keys=["id", "sig", "voice_sig", "background_sig"],
    )
    if hparams["num_explain"]:
        data = data.filtered_sorted(select_n=hparams["num_explain"])
    return data


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
    test_csv = hparams["test_csv"]
    if not test_csv:
        manifests = prepare_vocalmix_from_hparams(hparams, hparams["save_folder"])
        test_csv = manifests["test"]
    data = dataio_prep(hparams, test_csv)
    os.makedirs(hparams["explanations_folder"], exist_ok=True)

    logger.info(
        "Explaining %d clips (target %s, oracle class %s, %d curve steps, plots %s) with %s",
        len(data), hparams["target"], hparams["oracle_class"], hparams["curve_steps"],
        hparams["save_plots"], hparams["explainer"].settings(),
    )
    brain = GeneticExplainerBrain(modules={}, hparams=hparams, run_opts=run_opts)
    brain.evaluate(data, test_loader_kwargs=hparams["dataloader_opts"])
    logger.info("Explanations and metrics in %s", hparams["explanations_folder"])
