"""Prepares VocalMix, the generated singing-voice-detection data set.

The recipes import ``prepare_vocalmix`` from here (it is the package's
``speechbrain_xai.data.vocalmix.prepare_vocalmix``). Nothing is downloaded:
the clips are synthesized deterministically from the seed.

The manifests use the ``$data_root`` placeholder; load them with::

    DynamicItemDataset.from_csv(csv, replacements={"data_root": data_folder})

Example
-------
python recipes/VocalMix/vocalmix_prepare.py data/VocalMix --num_train 1000 --seed 1234

Authors
 * speechbrain_xai contributors
"""

import argparse

from speechbrain_xai.data.vocalmix import prepare_vocalmix

__all__ = ["prepare_vocalmix"]


def main(argv=None):
    """Command line: generate VocalMix and print the manifest paths."""
    parser = argparse.ArgumentParser(
        description="Generate the VocalMix data set (offline, deterministic)."
    )
    parser.add_argument("data_folder", help="where the wav files go")
    parser.add_argument(
        "--save_folder", default=None, help="where the CSV manifests go (default: data_folder)"
    )
    parser.add_argument("--num_train", type=int, default=1000)
    parser.add_argument("--num_valid", type=int, default=200)
    parser.add_argument("--num_test", type=int, default=200)
    parser.add_argument("--duration", type=float, default=2.0, help="clip length in seconds")
    parser.add_argument("--sample_rate", type=int, default=16000)
    parser.add_argument("--task", default="voice", choices=["voice", "source"])
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--num_workers", type=int, default=1, help="generation processes")
    parser.add_argument(
        "--force", action="store_true", help="regenerate even if the manifests match"
    )
    args = parser.parse_args(argv)
    csvs = prepare_vocalmix(
        args.data_folder,
        save_folder=args.save_folder,
        num_train=args.num_train,
        num_valid=args.num_valid,
        num_test=args.num_test,
        duration=args.duration,
        sample_rate=args.sample_rate,
        task=args.task,
        seed=args.seed,
        skip_if_exists=not args.force,
        num_workers=args.num_workers,
    )
    for split, path in csvs.items():
        print(f"{split}: {path}")
    return csvs


if __name__ == "__main__":
    main()
