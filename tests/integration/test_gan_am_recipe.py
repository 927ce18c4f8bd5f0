"""The VocalMix interpret recipes (GAN, then the activation-maximisation search), in --debug."""

import csv
import json
import math

import pytest
import torch

from tests.helpers import listed_recipes, run_recipe

ROWS = {r["Script"].rsplit("/", 1)[-1]: r for r in listed_recipes() if r["Task"] == "VocalMix/interpret"
        and r["Script"].rsplit("/", 1)[-1] in ("train_gan.py", "am_search.py")}


def check_sample_quality(gan_folder, test_datasets):
    """sample_quality.json measures the generator written to generator.ckpt:
    its generated-vs-real and real-vs-real distances are recomputed here from
    that file and the test clips (``test_datasets(hparams)`` -> the test
    dataset), as GANBrain.sample_quality draws them; the untrained baseline is
    another set (finite, not equal to either)."""
    from hyperpyyaml import load_hyperpyyaml

    from speechbrain.dataio.dataloader import make_dataloader

    from speechbrain_xai.brains.gan import embedding_frechet_distance
    from speechbrain_xai.data.excerpts import excerpts_from_features

    quality = json.loads((gan_folder / "sample_quality.json").read_text())
    with open(gan_folder / "hyperparams.yaml") as f:
        hparams = load_hyperpyyaml(f)
    adapter, gen = hparams["classifier"], hparams["generator"].eval()
    gen.load_state_dict(torch.load(gan_folder / "generator.ckpt"))
    real = []  # the test excerpts, as GANBrain.evaluate cuts them
    with torch.no_grad():
        for batch in make_dataloader(test_datasets(hparams), **hparams["valid_dataloader_opts"]):
            wavs, lens = batch.sig
            real.append(excerpts_from_features(adapter.features(wavs), lens, hparams["excerpt_frames"],
                                               per_clip=hparams["eval_excerpts_per_clip"]))
    real = torch.cat(real)
    half = real.shape[0] // 2
    assert quality["n_per_set"] == half
    torch.manual_seed(hparams["seed"])
    with torch.no_grad():
        fake = gen(torch.randn(half, hparams["latent_dim"]))
    real_a, real_b = real[:half], real[half:2 * half]
    assert quality["fd_generated_vs_real"] == pytest.approx(
        embedding_frechet_distance(adapter, fake, real_b), rel=1e-3, abs=1e-6)
    assert quality["fd_real_vs_real"] == pytest.approx(
        embedding_frechet_distance(adapter, real_a, real_b), rel=1e-3, abs=1e-6)
    untrained = quality["fd_untrained_vs_real"]
    assert math.isfinite(untrained)
    assert untrained not in (quality["fd_real_vs_real"], quality["fd_generated_vs_real"])
    assert quality["parameters"]["generator"] == sum(p.numel() for p in gen.parameters())
    return quality


def check_ranking(folder, report):
    """ranking.json ranks each direction's settings by fd_unit (ranks 1..n,
    distances ascending), selects exactly one, the first; the summary reports
    that row as selected and, as most extreme, the row with the largest (max)
    / smallest (min) mean activation."""
    rows = json.loads((folder / "ranking.json").read_text())
    for direction, extreme in (("max", max), ("min", min)):
        mine = [r for r in rows if r["direction"] == direction]
        assert [r["rank"] for r in mine] == list(range(1, len(mine) + 1))
        assert [r["fd_unit"] for r in mine] == sorted(r["fd_unit"] for r in mine)
        assert [r["selected"] for r in mine] == [True] + [False] * (len(mine) - 1)
        selected = report[f"{direction}_selected"]
        assert {k: selected[k] for k in mine[0]} == mine[0]
        most = report[f"{direction}_most_extreme"]
        assert most["act_mean"] == extreme(r["act_mean"] for r in mine)
    return rows


def test_gan_then_search_write_generator_table_and_examples(debug_classifier, tmp_path):
    from speechbrain_xai.data.datasets import vocalmix_clip_datasets

    data, source = debug_classifier["data_folder"], debug_classifier["pretrained"]
    gan = tmp_path / "gan"
    run_recipe(ROWS["train_gan.py"], data, gan, extra=["--classifier_source", source])
    check_sample_quality(gan, lambda hparams: vocalmix_clip_datasets(
        {"test": str(gan / "save" / "test.csv")}, data, hparams["sample_rate"])["test"])

    am = tmp_path / "am"
    run_recipe(ROWS["am_search.py"], data, am, extra=[
        "--classifier_source", source, "--generator_file", str(gan / "generator.ckpt")])
    summary = json.loads((am / "summary.json").read_text())
    assert {"auc_on_real", "gan_unoptimised_mean"} <= set(summary["vibrato_probe"])
    # several candidates per seed (recipes.csv: --init_candidates 4): the max search starts from
    # draws that drive the unit higher than the min search's, the plain draws in between
    assert summary["init_candidates"] == 4
    starts = summary["gan_start_unit_mean"]
    assert starts["max"] >= summary["gan_unoptimised_unit_mean"] >= starts["min"]
    assert starts["max"] > starts["min"]
    assert {"gan_start_max_mean", "gan_start_min_voice_fraction"} <= set(summary["probe"])
    # the generator's rebuilds of the real excerpts the unit ranks highest and lowest (am.yaml:
    # invert_reference): the unit and both probes read on them, and the picture
    inverted = summary["gan_inverted"]
    assert inverted["excerpts"] == 4 and inverted["steps"] == 5  # recipes.csv: --n_reference 4
    assert inverted["top"]["real_unit_mean"] > inverted["bottom"]["real_unit_mean"]
    assert inverted["top"]["real_unit_mean"] == pytest.approx(
        summary["real_unit"]["max_top_mean"], rel=1e-5)
    for side in ("top", "bottom"):
        assert inverted[side]["reconstruction_error_mean"] > 0
        for probe in ("probe", "vibrato_probe"):
            assert 0 <= summary[probe][f"gan_inverted_{side}_voice_fraction"] <= 1
    assert (am / "inverted_top.png").stat().st_size > 0
    n_settings = summary["grid"]["settings"]
    for run, folder in (("gan", am / "search"), ("input", am / "input_baseline")):
        table = (folder / "ranking.md").read_text().strip().splitlines()
        assert len(table) == 2 + n_settings  # header, rule, one row per setting
        assert len(list(folder.glob("*_steps*.pt"))) == n_settings  # one saved file per setting
        check_ranking(folder, summary["runs"][run])
        for direction in ("max", "min"):
            row = summary["runs"][run][f"{direction}_selected"]
            for probe in ("probe", "vibrato_probe"):  # the classifier-free checks, per example set
                assert 0 <= row[f"{probe}_positive_fraction"] <= 1
            assert (folder / f"{direction}_selected.png").is_file()
            assert (folder / f"{direction}_selected_0.wav").is_file()

    # diagnose_gan.py: the same rebuilds (the inversion is seeded), plain draws and the best of
    # each 64 of them by the unit, read by the unit and both probes
    diag = tmp_path / "diag"
    row = dict(ROWS["am_search.py"], Script="recipes/VocalMix/interpret/diagnose_gan.py")
    run_recipe(row, data, diag, extra=["--classifier_source", source, "--generator_file",
                                       str(gan / "generator.ckpt"), "--diagnosis_draws", "130"])
    result = json.loads((diag / "diagnosis.json").read_text())
    rows = result["rows"]
    assert rows["rebuilt top"]["unit_mean"] == pytest.approx(
        inverted["top"]["rebuilt_unit_mean"], rel=1e-4, abs=1e-4)
    assert rows["real, top by the unit"]["unit_mean"] == pytest.approx(
        inverted["top"]["real_unit_mean"], rel=1e-5)
    assert rows["plain draws"]["excerpts"] == 130
    assert rows["best of 64 draws by the unit"]["excerpts"] == 2  # two whole blocks of 64
    assert rows["best of 64 draws by the unit"]["unit_mean"] >= rows["plain draws"]["unit_mean"]
    for probe in ("probe", "vibrato_probe"):
        assert result["halfway"][probe] == pytest.approx(result["real"][probe]["real_voice_mean"] / 2)
        for r in rows.values():
            assert r[probe]["halfway_fraction"] <= r[probe]["voice_fraction"] or result["halfway"][probe] < 0
    table = (diag / "diagnosis.md").read_text().splitlines()
    assert len(table) == 2 + len(rows) and table[2].startswith("| real, top by the unit | 4 |")


def test_voice_focus_cuts_voice_clips_to_their_voice_interval(debug_classifier):
    from speechbrain_xai.adapter import ClassifierAdapter
    from speechbrain_xai.data.datasets import vocalmix_excerpt_datasets

    adapter = ClassifierAdapter.from_hparams(debug_classifier["pretrained"])
    hparams = {"classifier": adapter, "sample_rate": 16000, "excerpt_frames": 64,
               "data_folder": debug_classifier["data_folder"]}
    manifests = debug_classifier["manifests"]
    plain = vocalmix_excerpt_datasets(hparams, manifests, splits=("train", "valid"))
    focused = vocalmix_excerpt_datasets({**hparams, "voice_focus": True}, manifests,
                                        splits=("train", "valid"))
    assert adapter.feature_hop_length == 160  # the debug classifier's Fbank: 10 ms at 16 kHz
    min_len = 65 * 160  # one 64-frame excerpt and a frame of margin
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
