"""``python -m speechbrain_xai.report FOLDER [--title TITLE] [--open-clips N]``."""

import argparse

from speechbrain_xai.report import write_report


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(
        prog="python -m speechbrain_xai.report",
        description="Write FOLDER/report.html: audio players beside the spectrogram / mask "
                    "pictures of every saved explanation, the harness's tables and the "
                    "activation-maximisation searches found under FOLDER.")
    parser.add_argument("folder")
    parser.add_argument("--title", default=None)
    parser.add_argument("--open-clips", type=int, default=3, help="clips shown open (default 3)")
    args = parser.parse_args(argv)
    path = write_report(args.folder, args.title, args.open_clips)
    print(path)
    return path


if __name__ == "__main__":
    main()
