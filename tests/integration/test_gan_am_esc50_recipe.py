"""The ESC-50 GAN and activation-maximisation recipes, in --debug, on a generated
stand-in of ESC-50, with two tiny classifiers: the debug classifier (VocalMix
layout: 64-band Fbank, its "voice" logit as the unit) and an untrained one in
CNN14's AudioClassifier layout (STFT + 16-band dB filterbank of |X|, classes
dog / rain / bell: the default unit "dog")."""

import json

import pytest
import soundfile as sf
import torch

from tests.helpers import listed_recipes, run_recipe
from tests.integration.test_gan_am_recipe import check_ranking, check_sample_quality
from tests.integration.test_lmac_recipe import make_esc50_standin
from tests.unittests.test_adapter import AUDIO_CLASSIFIER_YAML

ROWS = {r["Script"].rsplit("/", 1)[-1]: r for r in listed_recipes() if r["Task"] == "ESC50/interpret"
        and r["Script"].rsplit("/", 1)[-1] in ("train_gan.py", "am_search.py")}


def audio_classifier_folder(folder):
    """An untrained pretrained folder in the speechbrain/cnn14-esc50 layout."""
    from speechbrain_xai.lobes.classifiers import SmallCNN

    folder.mkdir()
    (folder / "hyperparams.yaml").write_text(AUDIO_CLASSIFIER_YAML)
    torch.manual_seed(0)
    torch.save(SmallCNN(n_mels=16, channels=(4, 8), emb_dim=32).state_dict(), folder / "embedding_model.ckpt")
    torch.save(torch.nn.Linear(32, 3).state_dict(), folder / "classifier.ckpt")
    (folder / "label_encoder.ckpt").write_text(
        "'dog' => 0\n'rain' => 1\n'bell' => 2\n================\n'starting_index' => 0\n")
    return str(folder)


@pytest.mark.parametrize("layout", ["fbank", "audio_classifier"])
def test_esc50_gan_then_search_write_generator_tables_and_renders(layout, request, tmp_path):
    from speechbrain_xai.data.esc50 import esc50_datasets, find_esc50_root

    data = tmp_path / "esc"
    make_esc50_standin(data / "ESC-50-master", clips_per_fold=3)  # 9 train, 3 valid, 3 test clips
    if layout == "fbank":
        classifier = ["--classifier_source", request.getfixturevalue("debug_classifier")["pretrained"],
                      "--n_mels", "64"]
        unit = ["--unit_class", "voice"]
    else:
        classifier = ["--classifier_source", audio_classifier_folder(tmp_path / "cnn14_layout"),
                      "--n_mels", "16"]
        unit = []  # the default, "dog"
    gan = tmp_path / "gan"
    run_recipe(ROWS["train_gan.py"], data, gan, extra=classifier)
    assert (gan / "save" / "train.csv").is_file()
    quality = check_sample_quality(gan, lambda hparams: esc50_datasets(
        {"test": str(gan / "save" / "test.csv")}, find_esc50_root(str(data)), hparams["sample_rate"])["test"])
    assert quality["n_per_set"] == 3  # half of 3 test clips x 2 excerpts

    am = tmp_path / "am"
    run_recipe(ROWS["am_search.py"], data, am, extra=classifier + unit + [
        "--generator_file", str(gan / "generator.ckpt")])
    summary = json.loads((am / "summary.json").read_text())
    assert summary["unit"] == ("logit[voice]" if unit else "logit[dog]")  # plain logit (relative: False)
    assert summary["real_unit"]["reference_excerpts"] == 12  # 3 valid clips x 4 excerpts
    assert "probe" not in summary
    n_settings = summary["grid"]["settings"]
    assert n_settings == 2 * 2 * 1 * 2
    for run, folder in (("gan", am / "search"), ("input", am / "input_baseline")):
        table = (folder / "ranking.md").read_text().strip().splitlines()
        assert len(table) == 2 + n_settings  # header, rule, one row per setting
        assert len(check_ranking(folder, summary["runs"][run])) == n_settings
        for direction in ("max", "min"):
            assert "fd_layer" in summary["runs"][run][f"{direction}_selected"]  # selection_layer: embedding_model
            for tag in ("selected", "most_extreme"):
                assert (folder / f"{direction}_{tag}.png").is_file()
                wav, rate = sf.read(folder / f"{direction}_{tag}_0.wav")
                assert rate == 16000 and abs(wav).max() > 0.5  # peak-normalised Griffin-Lim audio
