"""Helpers shared by the integration and consistency tests."""

import csv
import os
import shlex
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def listed_recipes():
    """Rows of tests/recipes.csv: every recipe with the arguments of its --debug test."""
    with open(os.path.join(ROOT, "tests", "recipes.csv")) as f:
        return list(csv.DictReader(f))


def run_recipe(row, data_folder, output_folder, extra=(), launcher=()):
    """Runs one listed recipe in --debug mode as a user would (a subprocess);
    ``launcher``: arguments of ``python -m <launcher...>`` before the script
    (e.g. ``torch.distributed.run --nproc_per_node=2``)."""
    cmd = [
        sys.executable, *(["-m", *launcher] if launcher else []), os.path.join(ROOT, row["Script"]), os.path.join(ROOT, row["Hparams"]),
        "--debug", "--data_folder", str(data_folder), "--output_folder", str(output_folder),
        *shlex.split(row["Debug_args"]), *extra,
    ]
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONWARNINGS="ignore")
    proc = subprocess.run(cmd, cwd=str(output_folder.parent), env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def run_cli(*args, cwd=None):
    """The ``speechbrain-xai`` command run as a user runs it (a subprocess, offline)."""
    import shutil

    exe = shutil.which("speechbrain-xai", path=os.path.dirname(sys.executable))
    cmd = [exe] if exe else [sys.executable, "-m", "speechbrain_xai.cli"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    return subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True,
                          cwd=str(cwd or ROOT), env=env, timeout=600)


def tiny_modules(num_classes=3):
    """Fbank + sentence norm + SmallCNN + head (seeded): the classification
    recipe's layout, tiny, for ``ClassifierAdapter.from_modules``."""
    import torch
    from speechbrain.lobes.features import Fbank
    from speechbrain.processing.features import InputNormalization

    from speechbrain_xai.lobes.classifiers import ClassifierHead, SmallCNN

    torch.manual_seed(0)
    return dict(
        compute_features=Fbank(n_mels=24),
        mean_var_norm=InputNormalization(norm_type="sentence", std_norm=False),
        embedding_model=SmallCNN(n_mels=24, channels=(4, 8), emb_dim=16).eval(),
        classifier=ClassifierHead(16, num_classes),
    )


def tiny_pretrained_folder(folder, class_names=("voice", "no_voice")):
    """:func:`tiny_modules` exported as a SpeechBrain pretrained folder (the
    VocalMix small CNN's inference template, tiny sizes): what ``--classifier``
    and ``ClassifierAdapter.from_hparams`` load, made in well under a second."""
    from speechbrain.dataio.encoder import CategoricalEncoder

    from speechbrain_xai.export import export_pretrained

    modules = tiny_modules(num_classes=len(class_names))
    encoder = CategoricalEncoder()
    encoder.update_from_iterable(class_names)
    template = os.path.join(ROOT, "recipes", "VocalMix", "classification", "hparams", "inference",
                            "small_cnn.yaml")
    overrides = {"n_mels": 24, "n_classes": len(class_names), "channels": [4, 8], "emb_dim": 16}
    loadables = {name: modules[name] for name in ("embedding_model", "classifier", "mean_var_norm")}
    return export_pretrained(str(folder), template, overrides, dict(loadables, label_encoder=encoder))

#: A clip id that needs HTML escaping and URL quoting (a plain file name otherwise).
ODD_ID = 'odd <b>&"clip" #2% é'


def build_report_outputs(base):
    """The package's outputs in the three layouts the report reads, under ``base/out``:

    * ``explain/<method>/<id>.*``: ``saliency`` and ``random`` explanations of
      two clips (one named :data:`ODD_ID`), as ``speechbrain-xai explain`` saves them;
    * ``compare/``: an evaluation-harness run (``results.json``, ``per_clip.csv``,
      ``explanations/<condition>/<method>/``) of two methods in two conditions
      on two VocalMix clips, saved without pictures (as without matplotlib);
    * ``am/``: an activation-maximisation search (``search/ranking.json``,
      the selected and most extreme settings' pictures and audio) and its
      ``summary.json``.

    Returns the folders as a dict (``root``, ``explain``, ``compare``, ``am``).
    """
    import torch

    from speechbrain_xai.adapter import ClassifierAdapter
    from speechbrain_xai.brains.am_search import report_search
    from speechbrain_xai.brains.harness import evaluate_explainers
    from speechbrain_xai.data.datasets import vocalmix_datasets
    from speechbrain_xai.data.vocalmix import prepare_vocalmix
    from speechbrain_xai.explainers import get_explainer
    from speechbrain_xai.explainers.activation_maximization import (
        LatentActivationMaximizer,
        UnitSpec,
        setting_grid,
    )
    from speechbrain_xai.explainers.am_selection import unit_activations
    from speechbrain_xai.files import write_json
    from speechbrain_xai.lobes.gan import SpectrogramGenerator

    root = os.path.join(str(base), "out")
    folders = {k: os.path.join(root, k) for k in ("explain", "compare", "am")}
    adapter = ClassifierAdapter.from_modules(sample_rate=16000, class_names=["voice", "no_voice"],
                                             **tiny_modules(num_classes=2))
    # speechbrain-xai explain's layout
    wavs = torch.randn(2, 8000, generator=torch.Generator().manual_seed(0)) * 0.1
    for method in ("saliency", "random"):
        exp = get_explainer(method, adapter).explain(wavs)
        exp.save(os.path.join(folders["explain"], method), ["clip_1", ODD_ID])
    # the harness's layout
    data_folder = os.path.join(str(base), "vocalmix")
    csvs = prepare_vocalmix(data_folder, num_train=0, num_valid=0, num_test=2, duration=0.5)
    data = vocalmix_datasets({"test": csvs["test"]}, data_folder, 16000)["test"]
    evaluate_explainers(
        adapter, {"saliency": {}, "noise": {"method": "random", "seed": 3}}, data,
        folders["compare"], loader_kwargs={"batch_size": 2}, oracle_class="voice", curve_steps=2,
        conditions={"in_domain": {"kind": "none"}, "white": {"kind": "white", "snr_db": 0.0}},
        explanations_folder=os.path.join(folders["compare"], "explanations"),
        save_explanations=True, save_plots=False)  # cards without pictures, as without matplotlib
    # an activation-maximisation search's report
    torch.manual_seed(1)
    generator = SpectrogramGenerator(latent_dim=8, frames=16, n_mels=24, channels=(8, 4)).eval()
    generator.set_feature_stats(torch.linspace(-40, -60, 24), torch.full((24,), 8.0))
    unit = UnitSpec(index=0, relative=True)
    settings = setting_grid([2, 4], [0.1], [0.1, 0.001], ["max", "min"])
    result = LatentActivationMaximizer(adapter, generator, unit).search(settings, [0, 1, 2, 3])
    with torch.no_grad():
        real = generator(torch.randn(40, 8))
    search = os.path.join(folders["am"], "search")
    os.makedirs(search, exist_ok=True)
    runs = {"gan": {"seconds": 1.0, "seeds": 4, **report_search(
        result, real, unit_activations(adapter, unit, real), search, adapter, n_reference=8,
        layer="embedding_model", score_fn=lambda feats: feats.mean((1, 2)) + 50, num_audio=2,
        griffin_lim_iters=4, count=4)}}
    write_json(os.path.join(folders["am"], "summary.json"), {"unit": str(unit), "runs": runs})
    return dict(folders, root=root)
