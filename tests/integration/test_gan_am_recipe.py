"""The VocalMix interpret recipes (GAN, then the activation-maximisation search), in --debug."""

import csv
import json

from recipes.ESC50.interpret.vocalmix_code import load_vocalmix_script
from tests.helpers import listed_recipes, run_recipe

ROWS = {r["Script"].rsplit("/", 1)[-1]: r for r in listed_recipes() if r["Task"] == "VocalMix/interpret"
        and r["Script"].rsplit("/", 1)[-1] in ("train_gan.py", "am_search.py")}


def test_gan_then_search_write_generator_table_and_examples(debug_classifier, tmp_path):
    data, source = debug_classifier["data_folder"], debug_classifier["pretrained"]
    gan = tmp_path / "gan"
    run_recipe(ROWS["train_gan.py"], data, gan, extra=["--classifier_source", source])
    quality = json.loads((gan / "sample_quality.json").read_text())
    assert quality["fd_generated_vs_real"] >= 0 and quality["parameters"]["generator"] > 0
    assert (gan / "generator.ckpt").is_file()

    am = tmp_path / "am"
    run_recipe(ROWS["am_search.py"], data, am, extra=[
        "--classifier_source", source, "--generator_file", str(gan / "generator.ckpt")])
    summary = json.loads((am / "summary.json").read_text())
    assert {"auc_on_real", "gan_unoptimised_mean"} <= set(summary["vibrato_probe"])
    n_settings = summary["grid"]["settings"]
    for run, folder in (("gan", am / "search"), ("input", am / "input_baseline")):
        table = (folder / "ranking.md").read_text().strip().splitlines()
        assert len(table) == 2 + n_settings  # header, rule, one row per setting
        assert len(list(folder.glob("*_steps*.pt"))) == n_settings  # one saved file per setting
        for direction in ("max", "min"):
            row = summary["runs"][run][f"{direction}_selected"]
            assert row["selected"] and row["direction"] == direction and row["fd_unit"] >= 0
            for probe in ("probe", "vibrato_probe"):  # the classifier-free checks, per example set
                assert 0 <= row[f"{probe}_positive_fraction"] <= 1
            assert (folder / f"{direction}_selected.png").is_file()
            assert (folder / f"{direction}_selected_0.wav").is_file()


def test_vibrato_features_see_a_wobbling_partial_not_a_steady_one():
    import torch

    am_search = load_vocalmix_script("am_search")
    t = torch.arange(64) * 0.01  # 64 frames at a 10 ms hop
    bands = torch.arange(32.0)
    floor = torch.randn(3, 64, 32, generator=torch.Generator().manual_seed(0)) * 0.1

    def partial(centre):  # a bright line across the bands, centre [64] (band units)
        return 6 * torch.exp(-0.5 * (bands[None] - centre[:, None]) ** 2)

    steady = floor[0] + partial(torch.full((64,), 12.0))
    wobbling = floor[1] + partial(12 + 1.5 * torch.sin(2 * torch.pi * 5.5 * t))  # 5.5 Hz vibrato
    slow = floor[2] + partial(12 + 1.5 * torch.sin(2 * torch.pi * 1.0 * t))  # a 1 Hz glide
    feats = am_search.vibrato_features(torch.stack([steady, wobbling, slow]))
    assert feats.shape == (3, 32 + 31)  # per band share + per neighbour pair correlation
    share = feats[:, 9:16].mean(1)  # bands around the partial
    assert share[1] > 0.5 and share[1] > 3 * share[0] and share[1] > 3 * share[2]


def test_voice_focus_cuts_voice_clips_to_their_voice_interval(debug_classifier):
    train_gan = load_vocalmix_script("train_gan")
    hparams = {"sample_rate": 16000, "excerpt_frames": 64,
               "data_folder": debug_classifier["data_folder"]}
    manifests = debug_classifier["manifests"]
    plain = train_gan.dataio_prep(hparams, manifests, splits=("train", "valid"))
    focused = train_gan.dataio_prep(hparams, manifests, splits=("train", "valid"), voice_focus=True)
    min_len = 65 * 160  # one 64-frame excerpt and a frame of margin at a 10 ms hop
    labels = set()
    for split in ("train", "valid"):
        with open(manifests[split]) as f:
            rows = list(csv.DictReader(f))
        for i, row in enumerate(rows):
            labels.add(row["label"])
            full, cut = plain[split][i]["sig"], focused[split][i]["sig"]
            if row["label"] != "voice":
                assert len(cut) == len(full)
                continue
            assert min_len <= len(cut) < len(full)
            assert bool((focused[split][i]["sig"] == cut).all())  # the same cut every time
            # one contiguous piece of the clip, centred inside the voice interval
            starts = [s for s in range(len(full) - len(cut) + 1)
                      if bool((full[s:s + 8] == cut[:8]).all())
                      and bool((full[s:s + len(cut)] == cut).all())]
            assert starts, "the cut is not a piece of the clip"
            centre = (starts[0] + len(cut) / 2) / 16000
            assert float(row["voice_start"]) - 0.01 <= centre <= float(row["voice_end"]) + 0.01
    assert labels == {"voice", "no_voice"}
