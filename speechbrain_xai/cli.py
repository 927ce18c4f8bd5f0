"""The ``speechbrain-xai`` command: explain recordings, compare methods, run the demo.

Examples::

    speechbrain-xai explain clip.wav                      # the shipped voice detector, L-MAC
    speechbrain-xai explain recordings/ --method ga --out xai_out
    speechbrain-xai explain test.csv --classifier path/to/pretrained --method saliency
    speechbrain-xai compare recordings/ --methods lmac,ga,saliency,gradcam
    speechbrain-xai demo                                  # the whole chain, offline
    speechbrain-xai summarize seed1 seed2 seed3            # mean ± std of compare runs
    speechbrain-xai methods                               # the registered explainers

Under ``torchrun`` (e.g. ``torchrun --nproc_per_node 2 -m speechbrain_xai.cli
explain recordings/``) the inputs are split across the processes, each
explains its share (on ``cuda:<local rank>`` with ``--device cuda``), and the
main process writes the report and prints the summary; ``compare`` splits the
evaluation harness the same way.

Exit codes: 0 when everything was explained, 1 when some inputs failed (each
named on one line, the others still explained), 2 for a usage error (a bad
option, a missing path, a classifier that does not load). A user's mistake
never ends in a traceback; ``--debug`` shows one for bug reports.

Each run records what it did in ``OUT/run_summary.json`` (one entry per
command and method, the latest run's): the clips explained, those already
done, and every input that failed with its one-line error. What each kind of
bad input gets is listed in :mod:`speechbrain_xai.data.inputs`; a failed input
leaves no file behind.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import Dict, List, Optional, Sequence

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2
#: Longest input explained by default (``--max-seconds``): time and memory grow with the
#: length (ten minutes with the VocalMix small CNN and saliency: about 100 s and 2.3 GB on one
#: CPU core; search methods such as ga and lime run many forward passes of the whole clip).
DEFAULT_MAX_SECONDS = 1200.0
SUMMARY_NAME = "run_summary.json"
DEFAULT_CLASSIFIER = "voice-detector"
DEFAULT_INTERPRETER = "voice-detector-lmac"


class UsageError(Exception):
    """A mistake in the command: one line, exit code 2."""


# --------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------
def _option(text: str):
    """``KEY=VALUE`` with a YAML value (``n_time=8``, ``fill=mean``, ``layers=[a,b]``)."""
    import yaml

    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--option takes KEY=VALUE, got {text!r}.")
    key, value = text.split("=", 1)
    return key.strip(), yaml.safe_load(value)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="audio files, folders or .csv manifests")
    parser.add_argument("--classifier", default=None, metavar="SRC",
                        help="SpeechBrain pretrained folder or hub id of the classifier "
                             f"(default: the shipped {DEFAULT_CLASSIFIER!r})")
    parser.add_argument("--interpreter", default=None, metavar="SRC",
                        help="L-MAC interpreter folder or hub id (default with the shipped "
                             f"classifier: {DEFAULT_INTERPRETER!r})")
    parser.add_argument("--out", default="xai_out", metavar="DIR",
                        help="output folder (default: xai_out)")
    parser.add_argument("--target", default=None, metavar="CLASS",
                        help="class to explain, by name or index (default: the predicted one)")
    parser.add_argument("--no-pictures", action="store_true",
                        help="skip the spectrogram-with-mask PNGs (seconds each on long inputs); "
                             "audio, masks and JSON are still written")
    parser.add_argument("--max-seconds", type=float, default=DEFAULT_MAX_SECONDS, metavar="S",
                        help="refuse longer inputs (default: %(default)g s; 0: no limit); time and "
                             "memory grow with the length")
    parser.add_argument("--batch-size", type=int, default=8, metavar="N",
                        help="clips explained together (default: 8)")
    parser.add_argument("--device", default="cpu", metavar="DEV",
                        help="cpu or cuda:0 (default: cpu); under torchrun, cuda means each "
                             "process's own GPU")
    parser.add_argument("--data-root", default=None, metavar="DIR",
                        help="replaces $data_root in manifest paths (default: the manifest's folder)")
    parser.add_argument("--option", action="append", type=_option, default=[], metavar="KEY=VALUE",
                        help="an option of the method(s), e.g. --option n_time=8 (repeatable)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars, only errors")
    parser.add_argument("--debug", action="store_true", help="show tracebacks (for bug reports)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="speechbrain-xai",
        description="Explain what a SpeechBrain audio classifier hears: listenable masks, "
                    "pictures, metrics and an HTML listening report.",
        epilog=__doc__.split("Exit codes:")[0].split("Examples::", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    explain = sub.add_parser(
        "explain", help="explain audio files, folders or a SpeechBrain CSV manifest",
        description="Writes, per input, the masked-in and masked-out audio, a spectrogram-with-"
                    "mask picture and a JSON of probabilities, metrics and settings into "
                    "OUT/<method>/, and OUT/report.html. A rerun skips finished inputs.",
        epilog="example: speechbrain-xai explain recordings/ --method ga --out xai_out")
    explain.add_argument("--method", default=None, metavar="NAME",
                         help="a registered explainer (speechbrain-xai methods); default lmac "
                              "when an interpreter is known, else ga")
    _common(explain)
    compare = sub.add_parser(
        "compare", help="score several methods on your files in one table (the evaluation harness)",
        description="Runs the evaluation harness: faithfulness, deletion / insertion AUC, oracle "
                    "agreement when a manifest gives source_wav (or voice_wav) and background_wav, "
                    "seconds per "
                    "clip -> OUT/results.md, results.json, per_clip.csv and OUT/report.html.",
        epilog="example: speechbrain-xai compare recordings/ --methods lmac,ga,saliency")
    compare.add_argument("--methods", default="lmac,ga,saliency,gradcam,all_ones,random",
                         help="comma-separated registered methods (default: %(default)s)")
    compare.add_argument("--oracle-class", default=None, metavar="CLASS",
                         help="class whose source the manifest's source_wav (or voice_wav) holds "
                              "(ground truth)")
    _common(compare)
    demo = sub.add_parser("demo", help="the whole chain offline on generated clips, ending in the report",
                          description="Generates a few clips, explains them with the shipped "
                                      "interpreter, the genetic explainer and the gradient "
                                      "baselines, runs a small activation-maximisation search "
                                      "and writes OUT/report.html.")
    demo.add_argument("--out", default="xai_demo", metavar="DIR", help="output folder (default: xai_demo)")
    demo.add_argument("--clips", type=int, default=6, metavar="N", help="generated clips (default: 6)")
    demo.add_argument("--quiet", action="store_true", help="no progress bars, only errors")
    demo.add_argument("--debug", action="store_true", help="show tracebacks (for bug reports)")
    sub.add_parser("methods", help="list the registered explainers")
    summarize = sub.add_parser(
        "summarize", help="mean and spread over runs (seeds) of compare / recipe result tables",
        description="Reads each RUN's results.json (written by compare, the recipes' evaluation "
                    "and train_lmac.py) and prints one table of mean ± std over the runs, the best "
                    "method of each condition in bold. Join runs of one seed with a comma "
                    "(lmac_s1,ga_s1) to merge their methods.",
        epilog="example: speechbrain-xai summarize out_s1 out_s2 out_s3 --columns AG,FF,oracle_auc")
    summarize.add_argument("runs", nargs="+", metavar="RUN",
                           help="folder with results.json (or the file); a,b merges two of one seed")
    summarize.add_argument("--columns", default=None, metavar="A,B",
                           help="columns to show (default: the harness table's)")
    summarize.add_argument("--out", default=None, metavar="FILE",
                           help="also write the table (markdown) and FILE's .json twin")
    summarize.add_argument("--debug", action="store_true", help="show tracebacks (for bug reports)")
    return parser


def run_summarize(args, log) -> int:
    from speechbrain_xai.brains.harness import TABLE_COLUMNS, runs_markdown, summarize_runs
    from speechbrain_xai.files import write_json, write_text

    columns = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns \
        else list(TABLE_COLUMNS)
    try:
        summary = summarize_runs(args.runs, columns)
    except (OSError, ValueError) as err:
        raise UsageError(str(err)) from None
    text = runs_markdown(summary, columns)
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        write_text(args.out, text + "\n")
        write_json(os.path.splitext(args.out)[0] + ".json",
                   {"runs": list(args.runs), "summary": summary})
    return EXIT_OK


# --------------------------------------------------------------------------
# Building the classifier and the explainers
# --------------------------------------------------------------------------
def load_classifier(source: Optional[str], device: str):
    """The adapter of ``source`` (default: the shipped classifier), or a :class:`UsageError`."""
    from speechbrain_xai.adapter import ClassifierAdapter

    from speechbrain_xai.pretrained import SHIPPED

    source = source or DEFAULT_CLASSIFIER
    looks_like_path = os.path.isabs(source) or source.startswith((".", "~")) or source.count("/") != 1
    if not os.path.exists(source) and looks_like_path and source not in SHIPPED:
        raise UsageError(f"{source}: does not exist; give a SpeechBrain pretrained folder "
                         "(hyperparams.yaml + checkpoints), a hub id (org/name) or a shipped name "
                         f"({', '.join(SHIPPED)}).")
    try:
        return ClassifierAdapter.from_hparams(source, run_opts={"device": device}).to(device)
    except Exception as err:  # noqa: BLE001 - missing files, bad yaml, no network: one line
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UsageError(f"{source}: cannot load the classifier ({first}); give a SpeechBrain "
                         "pretrained folder (hyperparams.yaml + checkpoints) or a hub id.") from None


def interpreter_source(args) -> Optional[str]:
    """The L-MAC interpreter to use: ``--interpreter``, or the shipped one with the shipped classifier."""
    if args.interpreter:
        return args.interpreter
    if args.classifier in (None, DEFAULT_CLASSIFIER):
        from speechbrain_xai.pretrained import list_shipped

        return DEFAULT_INTERPRETER if DEFAULT_INTERPRETER in list_shipped() else None
    return None


def build_explainer(method: str, adapter, args, options: Dict):
    """A registered explainer, L-MAC from the interpreter; errors as :class:`UsageError`."""
    from speechbrain_xai.explainers import get_explainer

    options = dict(options)
    if method.lower() in ("lmac", "l-mac"):
        source = interpreter_source(args)
        if source is None:
            raise UsageError("lmac needs a trained interpreter: pass --interpreter <folder or hub id> "
                             "(train_lmac.py exports one), or choose another --method.")
        options.setdefault("interpreter", source)
    try:
        explainer = get_explainer(method, adapter, **options)
    except ImportError as err:
        raise UsageError(f"{method}: {err}") from None
    except ValueError as err:
        raise UsageError(f"{method}: {err}") from None
    return explainer


def resolve_target(target: Optional[str], adapter):
    """``--target`` as the explainers take it (None, a class name or an index),
    or a :class:`UsageError` when the classifier has no such class."""
    if target is None:
        return None
    names = adapter.class_names or []
    if target in names:
        return target
    count = adapter.num_classes or len(names)
    if target.isdigit() and (not count or int(target) < count):
        return int(target)
    raise UsageError(f"--target {target}: no such class; give one of {names or list(range(count))} "
                     "(a name or an index), or leave --target out for the predicted class.")


def read_input(clip, adapter, args):
    """The waveform ``[N]`` of one input at the classifier's rate, checked
    (:func:`speechbrain_xai.data.inputs.read_for_classifier`, ``--max-seconds``),
    or an ``InputError``."""
    from speechbrain_xai.data.inputs import read_for_classifier

    return read_for_classifier(clip.path, adapter, args.max_seconds or None)


def write_summary(out: str, key: str, entry: Dict) -> None:
    """Sets ``key`` of ``OUT/run_summary.json`` to ``entry`` (other entries kept)."""
    import json

    from speechbrain_xai.files import write_json

    path = os.path.join(out, SUMMARY_NAME)
    summary: Dict = {}
    if os.path.isfile(path):
        try:
            with open(path, encoding="utf-8") as f:
                summary = json.load(f)
        except (OSError, ValueError):
            summary = {}
    summary = summary if isinstance(summary, dict) else {}
    summary[key] = entry
    write_json(path, summary)


# --------------------------------------------------------------------------
# explain
# --------------------------------------------------------------------------
def _length_batches(clips, frames: Dict[str, int], batch_size: int):
    """Batches of clips of the same length (so no clip is padded: a clip's
    explanation does not depend on the others), in input order within a length."""
    groups: Dict[int, List] = {}
    for clip in clips:
        groups.setdefault(frames[clip.id], []).append(clip)
    for group in groups.values():
        for start in range(0, len(group), batch_size):
            yield group[start:start + batch_size]


def _inputs_and_classifier(args):
    """The clips of ``args.paths``, the paths that gave none (``{path: message}``)
    and the classifier. No clip at all is a :class:`UsageError`."""
    from speechbrain_xai.data.inputs import gather_inputs

    errors: List = []
    clips = gather_inputs(args.paths, args.data_root, errors=errors)
    if not clips:
        raise UsageError(str(errors[0]) if len(errors) == 1 else
                         "no audio among the inputs: " + "; ".join(str(e) for e in errors))
    return clips, {e.path: str(e) for e in errors}, load_classifier(args.classifier, args.device)


def if_main_process() -> bool:
    """Whether this process writes and prints (always, without torchrun)."""
    from speechbrain.utils.distributed import if_main_process as main

    return main()


def _report_failures(failed: Dict[str, str], total: int) -> int:
    """Prints one line per failed input and a count (main process); the exit code."""
    if not if_main_process():
        return EXIT_SOME_FAILED if failed else EXIT_OK
    for message in failed.values():
        print(f"error: {message}", file=sys.stderr)
    if failed:
        print(f"error: {len(failed)} of {total} input(s) failed (listed above); the others "
              "were explained.", file=sys.stderr)
    return EXIT_SOME_FAILED if failed else EXIT_OK


def run_explain(args, log) -> int:
    from speechbrain_xai.data.distributed import gather_in_order, shard
    from speechbrain_xai.data.inputs import InputError, audio_frames, safe_id
    from speechbrain_xai.explanation import is_saved
    from speechbrain_xai.files import remove_stale

    clips, failed, adapter = _inputs_and_classifier(args)
    total = len(clips) + len(failed)
    target = resolve_target(args.target, adapter)
    method = args.method or ("lmac" if interpreter_source(args) else "ga")
    explainer = build_explainer(method, adapter, args, dict(args.option))
    folder = os.path.join(args.out, safe_id(explainer.name))
    # this process's share under torchrun, in whole batches (split before skipping
    # what is done, so no clip changes hands between processes)
    if if_main_process():
        remove_stale(folder)  # what the saves of a killed run left half-way
    gather_in_order([None])  # (a barrier under torchrun) before any process saves
    mine = shard(clips, block_size=max(1, args.batch_size))
    skipped = [c.id for c in mine if is_saved(folder, c.id)]
    done_before = set(skipped)
    todo = [c for c in mine if c.id not in done_before]
    frames = {}
    for clip in todo:
        try:
            frames[clip.id] = audio_frames(clip.path)
        except InputError as err:
            failed[clip.id] = str(err)
    todo = [c for c in todo if c.id in frames]
    start = time.perf_counter()
    done: List[str] = []
    batches = list(_length_batches(todo, frames, max(1, args.batch_size)))
    for batch in _progress(batches, args.quiet or not if_main_process(),
                           f"explaining with {explainer.name}"):
        wavs, read = [], []
        for clip in batch:
            try:
                wavs.append(read_input(clip, adapter, args))
                read.append(clip)
            except InputError as err:
                failed[clip.id] = str(err)
        for group in _same_length(wavs, read):
            done += _explain_and_save(explainer, *group, target, folder, failed,
                                      pictures=not args.no_pictures)
    counts = gather_in_order([(done, skipped, failed)])  # every process's share
    done = [clip for c in counts for clip in c[0]]
    skipped = [clip for c in counts for clip in c[1]]
    failed = {clip: message for c in counts for clip, message in c[2].items()}
    if if_main_process():
        _write_report(args.out, log)
    seconds = time.perf_counter() - start
    if if_main_process():
        write_summary(args.out, f"explain:{explainer.name}", {
            "command": "explain", "method": explainer.name, "folder": os.path.basename(folder),
            "inputs": total, "explained": done, "already_done": skipped,
            "failed": list(failed.values()), "seconds": round(seconds, 3)})
    log(f"Explained {len(done)} clip(s) with {explainer.name} in {seconds:.1f} s"
        + (f", {len(skipped)} already done" if skipped else "")
        + f": {folder}. Report: {os.path.join(args.out, 'report.html')}")
    return _report_failures(failed, total)


def _explain_and_save(explainer, wavs, clips, target, folder: str, failed: Dict[str, str],
                      pictures: bool = True) -> List[str]:
    """Explains and saves clips of equal length together; the ids saved. When
    the batch fails on its data (a ``ValueError``: the classifier gives NaN or
    infinity on some clip), each clip is tried alone and those that still fail
    are added to ``failed``; nothing is saved for them."""
    import torch

    try:
        exp = explainer.explain(torch.stack(wavs), target=target)
    except ValueError as err:
        if len(clips) > 1:
            return [i for w, c in zip(wavs, clips)
                    for i in _explain_and_save(explainer, [w], [c], target, folder, failed, pictures)]
        reason = str(err).splitlines()[0].rstrip(".") if str(err) else type(err).__name__
        failed[clips[0].id] = (f"{clips[0].path}: cannot be explained ({reason}); check that it "
                               f"is sound at a usual level (its peak is {float(wavs[0].abs().max()):.3g}, "
                               "full scale is 1).")
        return []
    ids = [c.id for c in clips]
    exp.save(folder, ids, plot=pictures)
    return ids


def _same_length(wavs, clips):
    """``(wavs, clips)`` groups of equal length (resampling can split a batch)."""
    groups: Dict[int, tuple] = {}
    for wav, clip in zip(wavs, clips):
        groups.setdefault(wav.shape[0], ([], []))
        groups[wav.shape[0]][0].append(wav)
        groups[wav.shape[0]][1].append(clip)
    return list(groups.values())


def _progress(items, quiet: bool, desc: str):
    from tqdm import tqdm

    return tqdm(items, desc=desc, disable=quiet, unit="batch", file=sys.stderr)


def _write_report(folder: str, log) -> None:
    """``folder/report.html`` over everything explained there (nothing when there is nothing)."""
    from speechbrain_xai.report import write_report

    try:
        write_report(folder)
    except ValueError as err:
        log(f"No report: {err}")


# --------------------------------------------------------------------------
# compare
# --------------------------------------------------------------------------
def _source_stem(clip):
    """The clip's true-source stem: ``source_wav``, or ``voice_wav`` as in the
    project's VocalMix / voice-scene manifests (None when it has neither)."""
    cols = clip.columns or {}
    return cols.get("source_wav") or cols.get("voice_wav")


def _check_scores(clip, wav, adapter) -> None:
    """An ``InputError`` when the classifier's output on ``wav`` is not finite."""
    import torch

    from speechbrain_xai.data.inputs import InputError

    with torch.no_grad():
        probs = adapter.probabilities(*adapter.prepare(wav))
    if not bool(torch.isfinite(probs).all()):
        raise InputError(clip.path, "cannot be explained (the classifier gives NaN or infinity on "
                                    "it); check that it is sound at a usual level (its peak is "
                                    f"{float(wav.abs().max()):.3g}, full scale is 1).")


def run_compare(args, log) -> int:
    import csv
    import tempfile

    from speechbrain_xai.brains.harness import evaluate_explainers
    from speechbrain_xai.data.datasets import audio_dataset
    from speechbrain_xai.data.inputs import InputError

    clips, failed, adapter = _inputs_and_classifier(args)
    total = len(clips) + len(failed)
    target = resolve_target(args.target, adapter)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not methods:
        raise UsageError("--methods is empty; name registered methods, e.g. --methods lmac,ga,saliency.")
    options = dict(args.option)
    explainers = {m: build_explainer(m, adapter, args, options if len(methods) == 1 else {})
                  for m in methods}
    good = []
    for clip in clips:  # read and classified once here, so that the harness meets no bad file
        try:
            _check_scores(clip, read_input(clip, adapter, args), adapter)
            good.append(clip)
        except InputError as err:
            failed[clip.id] = str(err)
    if not good:
        raise UsageError("no readable audio among the inputs (listed above).")
    stems = all(_source_stem(c) and c.columns.get("background_wav") for c in good)
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        manifest = os.path.join(tmp, "inputs.csv")
        with open(manifest, "w", newline="") as f:
            fields = ["ID", "wav"] + (["source_wav", "background_wav"] if stems else [])
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            for clip in good:
                row = {"ID": clip.id, "wav": os.path.abspath(clip.path)}
                if stems:
                    row.update(source_wav=_source_stem(clip),
                               background_wav=clip.columns["background_wav"])
                writer.writerow(row)
        columns = {"sig": "wav", **({"source_sig": "source_wav", "background_sig": "background_wav"}
                                    if stems else {})}
        data = audio_dataset(manifest, None, adapter.sample_rate, columns)
        table = evaluate_explainers(
            adapter, explainers, data, args.out, loader_kwargs={"batch_size": args.batch_size},
            oracle_class=args.oracle_class if stems else None, target=target,
            explanations_folder=os.path.join(args.out, "explanations"), save_explanations=True,
            save_plots=not args.no_pictures,
            run_opts={"device": args.device, "noprogressbar": args.quiet})
    if if_main_process():
        _write_report(args.out, log)
        write_summary(args.out, "compare", {
            "command": "compare", "methods": methods, "inputs": total,
            "clips": [c.id for c in good], "failed": list(failed.values())})
    log(table.markdown())
    log(f"Results: {os.path.join(args.out, 'results.md')}. Report: {os.path.join(args.out, 'report.html')}")
    return _report_failures(failed, total)


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------
def start_distributed(args) -> None:
    """Under ``torchrun``: joins the process group (SpeechBrain's
    ``ddp_init_group``; gloo on the CPU, NCCL on GPUs) and gives each process
    its own GPU when ``--device`` is ``cuda``. Does nothing otherwise."""
    from speechbrain.utils.distributed import (
        ddp_init_group,
        get_local_rank,
        is_distributed_initialized,
    )

    local_rank = get_local_rank()
    if local_rank is None or os.environ.get("RANK") is None or is_distributed_initialized():
        return
    if getattr(args, "device", "cpu") == "cuda":
        args.device = f"cuda:{local_rank}"
    if args.command == "demo":
        raise UsageError("demo runs in one process; start it without torchrun.")
    backend = "nccl" if str(getattr(args, "device", "cpu")).startswith("cuda") else "gloo"
    ddp_init_group({"distributed_backend": backend})


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    quiet = getattr(args, "quiet", False)
    logging.getLogger("speechbrain").setLevel(logging.ERROR if quiet else logging.WARNING)
    logging.getLogger("speechbrain_xai").setLevel(logging.ERROR if quiet else logging.WARNING)
    try:
        start_distributed(args)
        log = (lambda *a: None) if quiet or not if_main_process() else (lambda msg: print(msg))
        if args.command == "methods":
            from speechbrain_xai.explainers import available_explainers

            print("\n".join(available_explainers()))
            return EXIT_OK
        if args.command == "explain":
            return run_explain(args, log)
        if args.command == "compare":
            return run_compare(args, log)
        if args.command == "summarize":
            return run_summarize(args, log)
        if args.command == "demo":
            from speechbrain_xai.demo import run_demo

            return run_demo(args, log)
    except UsageError as err:
        if getattr(args, "debug", False):
            raise
        if if_main_process():  # the same mistake on every process: said once
            print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted: finished outputs are kept; rerun to continue.", file=sys.stderr)
        return 130
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
