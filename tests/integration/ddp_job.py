"""The job of the distributed test (test_ddp.py), run under torchrun or in one process:

1. ``speechbrain-xai explain`` and ``compare`` on a VocalMix manifest (the
   command line joins the process group itself under torchrun);
2. the evaluation harness (three methods, two conditions, ground truth, the
   GA's explanations saved);
3. an activation-maximisation grid (8 settings x 5 seeds, 2 batches).

Usage: python ddp_job.py OUT CLASSIFIER MANIFEST DATA_FOLDER
"""

import os
import sys


def run_job(out: str, classifier: str, manifest: str, data_folder: str) -> int:
    """Writes everything under ``out``; returns the worst exit code of the commands."""
    import torch

    from speechbrain_xai import cli
    from speechbrain_xai.adapter import ClassifierAdapter
    from speechbrain_xai.brains.am_search import run_search
    from speechbrain_xai.brains.harness import evaluate_explainers
    from speechbrain_xai.data.datasets import vocalmix_datasets
    from speechbrain_xai.explainers.activation_maximization import (
        LatentActivationMaximizer,
        UnitSpec,
        setting_grid,
    )
    from speechbrain_xai.lobes.gan import SpectrogramGenerator

    common = ["--classifier", classifier, "--data-root", data_folder, "--batch-size", "2", "--quiet"]
    codes = [
        cli.main(["explain", manifest, "--method", "saliency", "--out", os.path.join(out, "explain"),
                  *common]),
        cli.main(["compare", manifest, "--methods", "saliency", "--oracle-class", "voice",
                  "--out", os.path.join(out, "compare"), *common]),
    ]
    adapter = ClassifierAdapter.from_hparams(classifier)
    data = vocalmix_datasets({"test": manifest}, data_folder, adapter.sample_rate)["test"]
    ga = {"n_time": 2, "n_bands": 2, "population_size": 4, "max_generations": 2,
          "max_evaluations": 10, "prune": 2}
    evaluate_explainers(
        adapter, {"saliency": {}, "ga": ga, "noise": {"method": "random", "seed": 3}}, data,
        os.path.join(out, "harness"), loader_kwargs={"batch_size": 2},
        conditions={"in_domain": {"kind": "none"}, "white": {"kind": "white", "snr_db": 0.0}},
        oracle_class="voice", curve_steps=2, seed=5,
        explanations_folder=os.path.join(out, "harness", "explanations"), save_explanations=["ga"],
        save_plots=False)
    torch.manual_seed(0)
    n_mels = adapter.features(torch.zeros(1, adapter.sample_rate)).shape[-1]
    generator = SpectrogramGenerator(latent_dim=8, frames=16, n_mels=n_mels, channels=(8, 4)).eval()
    generator.set_feature_stats(torch.linspace(-40, -60, n_mels), torch.full((n_mels,), 8.0))
    maximizer = LatentActivationMaximizer(adapter, generator, UnitSpec(index=0, relative=True))
    settings = setting_grid([2, 4], [0.1], [0.1, 0.001], ["max", "min"])
    run_search(maximizer, settings, list(range(5)), os.path.join(out, "am"), settings_per_batch=4)
    return max(codes)


if __name__ == "__main__":
    sys.exit(run_job(*sys.argv[1:5]))
