"""The VocalMix interpret recipes (GAN, then the activation-maximisation search), in --debug."""

import csv
import json

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
