#!/usr/bin/env python3
"""Measures a voice detector on real recordings (a held-out set from Debian packages).

Builds (or reuses) the real-recordings test set
(:func:`speechbrain_xai.data.real_recordings.prepare_real_recordings`: real
speakers reading telephone prompts and game lines, alone and over real
sounds; real bells, alarms, shutters, phone rings, chimes, typing, machines,
music...), classifies every clip with a SpeechBrain pretrained classifier
whose classes include ``voice`` and ``no_voice``, and writes to ``--out``:

* ``results.md``: the accuracy overall, per class, per kind (speaker and
  language, or sound category), per condition (alone, over a sound at an
  SNR, in pairs, through a telephone band...), with the number of clips, and
  the list of errors;
* ``results.json``: the same numbers and errors, the classifier and the set's
  settings (seed, packages);
* ``per_clip.csv``: the manifest's rows with the prediction and the
  probability of the true class.

The packages the set reads (``apt-get install -y``): see
``speechbrain_xai.data.debian_sounds.PACKAGES``; whichever are installed are
used and the missing ones are named in a warning.

Usage (``voice-detector`` is the shipped detector; any pretrained folder works):
    python recipes/VoiceScenes/real_recordings.py --data_folder data/real_recordings \\
        --classifier voice-detector --out results/real_recordings/voice-detector
"""

import argparse
import csv
import io
import logging
import os

from speechbrain_xai.accuracy import accuracy_report, classify_manifest, report_markdown
from speechbrain_xai.adapter import ClassifierAdapter
from speechbrain_xai.data.clip_sets import read_settings
from speechbrain_xai.data.real_recordings import (
    LABELS,
    SETTINGS_FILE,
    prepare_real_recordings,
)
from speechbrain_xai.files import write_json, write_text

logger = logging.getLogger("speechbrain_xai.recipes.real_recordings")

GROUPS = ("label", "kind", "label_condition")
ERROR_COLUMNS = ("ID", "label", "predicted", "p_label", "kind", "condition", "snr_db", "source")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_folder", required=True,
                        help="where the set's audio and test.csv are written (or reused)")
    parser.add_argument("--classifier", required=True,
                        help="SpeechBrain pretrained folder, hub id or shipped name "
                             "(e.g. voice-detector)")
    parser.add_argument("--savedir", default=None,
                        help="where SpeechBrain links a hub model (default: the folder itself)")
    parser.add_argument("--out", required=True, help="folder for results.md/json, per_clip.csv")
    parser.add_argument("--num_voice", type=int, default=120)
    parser.add_argument("--num_no_voice", type=int, default=120)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--source_root", default="/",
                        help="where the Debian packages' files are (/, or a dpkg -x folder)")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--num_workers", type=int, default=1,
                        help="processes writing the clips")
    return parser.parse_args(argv)


def per_clip_csv(rows):
    keys = list(rows[0])
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    manifests = prepare_real_recordings(
        args.data_folder, num_voice=args.num_voice, num_no_voice=args.num_no_voice,
        seed=args.seed, source_root=args.source_root, num_workers=args.num_workers)
    adapter = ClassifierAdapter.from_hparams(source=args.classifier, savedir=args.savedir,
                                             run_opts={"device": args.device})
    rows = classify_manifest(adapter, manifests["test"], args.data_folder, args.batch_size)
    for row in rows:
        row["label_condition"] = f"{row['label']}/{row['condition']}"
    # tables list the voice kinds first (clips alternate between the labels)
    report = accuracy_report(sorted(rows, key=lambda r: LABELS.index(r["label"])), GROUPS)
    report["errors"] = [{c: e[c] for c in ERROR_COLUMNS} for e in report["errors"]]
    packages = {}
    for row in rows:  # the package of each clip's main recording
        packages.setdefault(row["kind"], {"label": row["label"], "packages": set()})
        packages[row["kind"]]["packages"].add(row["source"].split(":", 1)[0])
    kinds = {kind: {"label": v["label"], "packages": ", ".join(sorted(v["packages"]))}
             for kind, v in packages.items()}
    report["kinds"] = kinds

    settings = read_settings(os.path.join(args.data_folder, SETTINGS_FILE))
    data = {k: settings[k] for k in ("seed", "duration", "sample_rate", "num_test", "packages")}
    os.makedirs(args.out, exist_ok=True)
    write_json(os.path.join(args.out, "results.json"),
               {"classifier": args.classifier, "data": data, **report})
    title = (f"# {args.classifier} on real recordings\n\n{len(rows)} clips of "
             f"{data['duration']:g} s (seed {data['seed']}) from the Debian packages "
             f"{', '.join(data['packages'])}.\n\n")
    table = report_markdown(report, GROUPS, ERROR_COLUMNS, {"kind": kinds})
    write_text(os.path.join(args.out, "results.md"), title + table + "\n")
    write_text(os.path.join(args.out, "per_clip.csv"), per_clip_csv(rows))
    logger.info("Accuracy on real recordings:\n%s", table.split("\n\nErrors")[0])
    logger.info("Results written to %s.", args.out)


if __name__ == "__main__":
    main()
