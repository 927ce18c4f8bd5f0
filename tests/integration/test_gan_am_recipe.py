"""The VocalMix interpret recipes (GAN, then the activation-maximisation search), in --debug."""

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
    n_settings = summary["grid"]["settings"]
    for run, folder in (("gan", am / "search"), ("input", am / "input_baseline")):
        table = (folder / "ranking.md").read_text().strip().splitlines()
        assert len(table) == 2 + n_settings  # header, rule, one row per setting
        assert len(list(folder.glob("*_steps*.pt"))) == n_settings  # one saved file per setting
        for direction in ("max", "min"):
            row = summary["runs"][run][f"{direction}_selected"]
            assert row["selected"] and row["direction"] == direction and row["fd_unit"] >= 0
            assert (folder / f"{direction}_selected.png").is_file()
            assert (folder / f"{direction}_selected_0.wav").is_file()
