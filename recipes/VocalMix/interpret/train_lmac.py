#!/usr/bin/env python3
"""Trains L-MAC on the VocalMix voice detector, evaluates it, exports it.

1. generates VocalMix (offline, deterministic; reuses the classifier's data),
2. trains the mask decoder (``LMACBrain``) on the frozen classifier,
3. evaluates L-MAC and the baselines in-domain and out-of-domain (mixtures,
   speech-like interference, white noise) with the faithfulness metrics and
   the ground-truth voice mask -> ``<output_folder>/results.md``,
4. exports a self-contained interpreter folder that
   ``speechbrain_xai.inference.LMACInterpreter.from_hparams`` loads.

Besides the keys read here, ``LMACBrain`` reads from the hparams: "layers",
"mask_mode", "train_path", "l_in", "l_out", "l1", "tv", "out_loss",
"contamination", "contamination_prob", "snr_range", "guided_weight",
"guided_from_epoch", "guided_corr", "guided_bin", "epoch_counter",
"ckpt_to_keep", "lr_annealing", "train_logger", and for the test stage
"test_conditions", "baselines", "ground_truth_class", "test_seed",
"reference_condition".

To run (CPU, minutes):
    python recipes/VocalMix/interpret/train_lmac.py recipes/VocalMix/interpret/hparams/lmac.yaml \
        --data_folder data/VocalMix \
        --classifier_source results/VocalMix/classification/small_cnn/1234/pretrained
"""

import os
import sys
import time

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.logger import get_logger

from speechbrain_xai.adapter import ClassifierAdapter
from speechbrain_xai.data.vocalmix import prepare_vocalmix_from_hparams
from speechbrain_xai.explainers.lmac import LMACBrain
from speechbrain_xai.inference.lmac import export_interpreter
from speechbrain_xai.lobes.decoders import count_parameters

logger = get_logger(__name__)


def dataio_prep(hparams, manifests):
    """Datasets with the mixture, the voice and background stems and the label."""

    def reader(key):
        @sb.utils.data_pipeline.takes(key)
        @sb.utils.data_pipeline.provides(key.replace("_wav", "_sig").replace("wav", "sig"))
        def read(path):
            return sb.dataio.dataio.read_audio(path)

        return read

    datasets = {}
    for split, csv in manifests.items():
        datasets[split] = sb.dataio.dataset.DynamicItemDataset.from_csv(
            csv_path=csv,
            replacements={"data_root": hparams["data_folder"]},
            dynamic_items=[reader("wav"), reader("voice_wav"), reader("background_wav")],
            output_keys=["id", "sig", "voice_sig", "background_sig", "label"],
        )
    return datasets


def run_lmac(hparams, hparams_file, run_opts, datasets):
    """Trains, evaluates and exports L-MAC (shared by the VocalMix and ESC50 recipes)."""
    adapter = ClassifierAdapter.from_hparams(
        hparams["classifier_source"], savedir=os.path.join(hparams["save_folder"], "classifier"),
        run_opts={"device": run_opts.get("device", "cpu")},
    )
    brain = LMACBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
        adapter=adapter,
    )
    n_params = count_parameters(hparams["decoder"])
    logger.info("Decoder parameters: %d", n_params)
    start = time.time()
    brain.fit(
        brain.hparams.epoch_counter,
        datasets["train"],
        datasets["valid"],
        train_loader_kwargs=hparams["train_dataloader_opts"],
        valid_loader_kwargs=hparams["valid_dataloader_opts"],
    )
    train_seconds = time.time() - start
    start = time.time()
    brain.evaluate(datasets["test"], min_key="loss",
                   test_loader_kwargs=dict(hparams["valid_dataloader_opts"]))
    extra = {
        "epochs": hparams["epoch_counter"].current,
        "train_wall_s": round(train_seconds, 1),
        "test_wall_s": round(time.time() - start, 1),
        "decoder_parameters": n_params,
        "classifier_source": str(hparams["classifier_source"]),
    }
    table = brain.write_results(hparams["output_folder"], extra)
    if sb.utils.distributed.if_main_process():
        logger.info("Results (%s):\n%s", extra, table)
        folder = export_interpreter(
            hparams["interpreter_folder"], hparams["classifier_source"], hparams["decoder"],
            hparams["layers"], hparams["mask_mode"],
            savedir=os.path.join(hparams["save_folder"], "classifier_export"),
        )
        logger.info("Load it with LMACInterpreter.from_hparams(%r)", folder)
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
    manifests = prepare_vocalmix_from_hparams(hparams, hparams["manifest_folder"])
    datasets = dataio_prep(hparams, manifests)
    run_lmac(hparams, hparams_file, run_opts, datasets)
