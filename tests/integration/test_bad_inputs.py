"""Bad input files, through the API and the command line.

Every file is made here on the fly. Each case gets what the table in
:mod:`speechbrain_xai.data.inputs` documents: converted (mono, at the
classifier's rate) or refused with one line ``"<path>: <problem>; <fix>."``;
the command line writes nothing for a refused file, goes on with the others
and lists it in its summary.
"""

import json
import os
import shutil
import tempfile

import numpy as np
import pytest
import soundfile as sf
import torch

from speechbrain_xai.data.inputs import InputError, gather_inputs, read_clip, read_for_classifier
from tests.helpers import run_cli, tiny_pretrained_folder

RATE = 16000  # the classifier's rate
MIN_SAMPLES = 400  # the tiny classifier's shortest input (one 25 ms window)


def noise(n, rate=RATE, channels=1, seed=0):
    """``[n, channels]`` float32 noise at 0.1 with a 440 Hz tone (not silent, not clipped)."""
    rng = np.random.default_rng(seed)
    tone = 0.2 * np.sin(2 * np.pi * 440 * np.arange(n) / rate)[:, None]
    return (0.1 * rng.standard_normal((n, channels)) + tone).astype(np.float32)


def write(folder, name, data, rate=RATE, **kwargs):
    path = os.path.join(folder, name)
    sf.write(path, data, rate, **kwargs)
    return path


def raw(folder, name, payload: bytes):
    path = os.path.join(folder, name)
    with open(path, "wb") as f:
        f.write(payload)
    return path


def wav_bytes(n=RATE):
    """The bytes of a 16-bit WAV of ``n`` samples, and the size of its header."""
    folder = tempfile.mkdtemp()
    try:
        with open(write(folder, "x.wav", noise(n)), "rb") as f:
            data = f.read()
    finally:
        shutil.rmtree(folder)
    return data, len(data) - 2 * n


def cut_wav(keep_samples=None, keep_bytes=None):
    """A writer of a one-second WAV cut after its header plus ``keep_samples``
    samples (or after ``keep_bytes`` bytes)."""
    def make(folder, name):
        data, header = wav_bytes()
        return raw(folder, name, data[:keep_bytes if keep_bytes is not None else header + 2 * keep_samples])
    return make


def with_values(values, n=RATE // 2):
    """A writer of a float WAV of ``n`` samples whose samples from 100 on are ``values``."""
    def make(folder, name):
        data = noise(n)
        data[100:100 + len(values), 0] = values
        return write(folder, name, data, subtype="FLOAT")
    return make


# name -> (how to make it, what it gets): ("ok", samples at 16 kHz) or ("error", message part)
CASES = {
    "pcm16.wav": (lambda d, n: write(d, n, noise(RATE)), ("ok", RATE)),
    "pcm24.wav": (lambda d, n: write(d, n, noise(RATE), subtype="PCM_24"), ("ok", RATE)),
    "float32.wav": (lambda d, n: write(d, n, noise(RATE), subtype="FLOAT"), ("ok", RATE)),
    "lossless.flac": (lambda d, n: write(d, n, noise(RATE)), ("ok", RATE)),
    "vorbis.ogg": (lambda d, n: write(d, n, noise(RATE), format="OGG", subtype="VORBIS"), ("ok", RATE)),
    "six_channels.wav": (lambda d, n: write(d, n, noise(RATE, channels=6)), ("ok", RATE)),
    "rate_8k.wav": (lambda d, n: write(d, n, noise(8000, 8000), 8000), ("ok", RATE)),
    "rate_22k.wav": (lambda d, n: write(d, n, noise(22050, 22050), 22050), ("ok", RATE)),
    "rate_44k.wav": (lambda d, n: write(d, n, noise(44100, 44100, 2), 44100), ("ok", RATE)),
    "rate_48k.wav": (lambda d, n: write(d, n, noise(48000, 48000), 48000), ("ok", RATE)),
    "clipped.wav": (lambda d, n: write(d, n, np.clip(10 * noise(RATE), -1, 1)), ("ok", RATE)),
    "cut_after_header.wav": (cut_wav(keep_samples=5000), ("ok", 5000)),
    "truncated_header.wav": (cut_wav(keep_bytes=20), ("error", "is not a readable audio file")),
    "text_bytes.wav": (lambda d, n: raw(d, n, b"not audio at all\n" * 100),
                       ("error", "is not a readable audio file")),
    "notes.txt": (lambda d, n: raw(d, n, b"a,b\n1,2\n"), ("error", "is not a readable audio file")),
    "movie.mp4": (lambda d, n: raw(d, n, b"\x00\x00\x00\x18ftypmp42" + bytes(2000)),
                  ("error", "is not a readable audio file")),
    "empty.wav": (lambda d, n: raw(d, n, b""), ("error", "is empty (0 bytes)")),
    "header_only.wav": (cut_wav(keep_samples=0), ("error", "is empty (no samples)")),
    "one_sample.wav": (lambda d, n: write(d, n, noise(1)), ("error", "is too short (1 sample(s)")),
    "one_sample_8k.wav": (lambda d, n: write(d, n, noise(1, 8000), 8000), ("error", "is too short")),
    "silence.wav": (lambda d, n: write(d, n, np.zeros((RATE, 1), np.float32)), ("error", "is silent")),
    "nan.wav": (with_values([np.nan]), ("error", "contains 1 NaN or infinite sample(s)")),
    "inf.wav": (with_values([np.inf, -np.inf]), ("error", "contains 2 NaN or infinite sample(s)")),
    "missing.wav": (lambda d, n: os.path.join(d, n), ("error", "does not exist")),
    "a_folder.wav": (lambda d, n: (os.mkdir(os.path.join(d, n)), os.path.join(d, n))[1],
                     ("error", "is a folder")),
}


def check_one_line(err: InputError, path: str, part: str):
    message = str(err)
    assert message.startswith(f"{path}: ") and part in message, message
    assert "\n" not in message and "; " in message and message.endswith("."), message
    assert err.path == path


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_file_is_converted_or_refused_in_one_line(name, tmp_path):
    make, (outcome, expected) = CASES[name]
    path = make(str(tmp_path), name)
    if outcome == "error":
        with pytest.raises(InputError) as err:
            read_clip(path, RATE, min_samples=MIN_SAMPLES, require_signal=True)
        check_one_line(err.value, path, expected)
        return
    wav = read_clip(path, RATE, min_samples=MIN_SAMPLES, require_signal=True)
    assert wav.dim() == 1 and wav.dtype == torch.float32 and abs(wav.shape[0] - expected) <= 1
    assert bool(torch.isfinite(wav).all()) and 0 < float(wav.abs().max()) <= 1.0
    stored, rate = sf.read(path, dtype="float32", always_2d=True)
    if rate == RATE:  # no resampling: exactly the channels' mean
        assert torch.allclose(wav, torch.from_numpy(stored.mean(axis=1)), atol=1e-6)


def test_silence_one_sample_and_huge_values_as_the_api_takes_them(tmp_path, tiny_adapter):
    """Without ``require_signal`` silence is read (zeros), and explaining zeros
    gives finite masks and probabilities; a float WAV is read as stored, even
    at 1e20 (the command line then refuses it, see the batch test)."""
    from speechbrain_xai.explainers import get_explainer

    silence = CASES["silence.wav"][0](str(tmp_path), "silence.wav")
    zeros = read_clip(silence, RATE)
    assert zeros.shape == (RATE,) and not bool(zeros.any())
    for method in ("saliency", "integrated_gradients", "gradcam", "random", "all_ones"):
        exp = get_explainer(method, tiny_adapter).explain(zeros[:4000])
        for name in ("mask", "probs_input", "probs_masked_in", "probs_masked_out", "masked_in"):
            assert bool(torch.isfinite(getattr(exp, name)).all()), (method, name)
        assert all(bool(torch.isfinite(v).all()) for v in exp.metrics().values()), method
    assert read_clip(CASES["one_sample.wav"][0](str(tmp_path), "one.wav")).shape == (1,)
    huge = with_values([1e20, -1e20])(str(tmp_path), "huge.wav")
    assert float(read_clip(huge).abs().max()) == pytest.approx(1e20, rel=1e-6)


def test_ten_minutes_are_read_and_a_limit_refuses_from_the_header(tmp_path, tiny_adapter):
    n = 600 * RATE
    t = np.arange(n, dtype=np.float32)
    path = write(str(tmp_path), "ten_minutes.wav", 0.3 * np.sin(0.05 * t) * np.sin(1e-4 * t))
    wav = read_for_classifier(path, tiny_adapter, max_seconds=1200)
    assert wav.shape == (n,)
    with pytest.raises(InputError) as err:
        read_for_classifier(path, tiny_adapter, max_seconds=300)
    check_one_line(err.value, path, "is 600.0 s long, more than the 300 s allowed")


def test_gather_refuses_missing_paths_and_folders_without_audio(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "readme.txt").write_text("no audio")
    (folder / ".hidden.wav").write_bytes(wav_bytes()[0])
    for path, part in ((str(folder), "holds no audio files"), (str(tmp_path / "nope"), "does not exist")):
        with pytest.raises(InputError) as err:
            gather_inputs([path])
        check_one_line(err.value, path, part)
    errors = []
    good = write(str(tmp_path), "good.wav", noise(RATE))
    clips = gather_inputs([str(folder), good, str(tmp_path / "nope")], errors=errors)
    assert [c.id for c in clips] == ["good"] and len(errors) == 2  # the others still gathered


def test_a_file_without_read_permission(tmp_path):
    """Tests run as root in CI, and root reads a chmod-000 file: the read is
    then made from a child process that dropped to an unprivileged user."""
    folder = tempfile.mkdtemp()
    try:
        os.chmod(folder, 0o755)
        path = write(folder, "locked.wav", noise(RATE))
        os.chmod(path, 0o000)
        if os.geteuid() != 0:
            if os.access(path, os.R_OK):
                pytest.skip("this user reads files without read permission (a capability)")
            with pytest.raises(InputError) as err:
                read_clip(path)
            message = str(err.value)
        else:
            message = _read_clip_as_nobody(path)
        assert message.startswith(f"{path}: cannot be read (permission denied); fix its permissions"), message
    finally:
        shutil.rmtree(folder)


def _read_clip_as_nobody(path: str) -> str:
    """``read_clip(path)``'s error in a forked child running as user nobody (65534)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            try:
                read_clip(path)
                message = "read without permission"
            except InputError as err:
                message = str(err)
            os.write(write_end, message.encode("utf-8"))
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as f:
        message = f.read().decode("utf-8")
    os.waitpid(pid, 0)
    return message


# --------------------------------------------------------------------------
# The command line: one mixed batch
# --------------------------------------------------------------------------
BATCH_BAD = ["truncated_header.wav", "text_bytes.wav", "notes.txt", "empty.wav", "one_sample.wav",
             "silence.wav", "nan.wav", "inf.wav", "missing.wav"]
BATCH_GOOD = ["rate_44k.wav"]  # stereo at 44.1 kHz; the manifest's rows read pcm16.wav


def test_a_mixed_batch_explains_the_good_and_lists_the_bad(tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    paths = {name: CASES[name][0](str(inputs), name) for name in BATCH_BAD + BATCH_GOOD}
    manifest_wav = CASES["pcm16.wav"][0](str(inputs), "pcm16.wav")
    # NaN in the classifier; as long as good clips, so it fails inside a batch of them
    paths["huge.wav"] = with_values([1e20, -1e20], n=RATE)(str(inputs), "huge.wav")
    no_audio = inputs / "no_audio"
    no_audio.mkdir()
    (no_audio / "readme.txt").write_text("nothing to hear")
    # a manifest whose ids would leave the output folder, and an empty one
    ids = ["../evil", "/abs/evil", "a/../../b", ""]
    (inputs / "ids.csv").write_text("ID,wav\n" + "".join(f"{i},{manifest_wav}\n" for i in ids))
    classifier = tiny_pretrained_folder(tmp_path / "classifier")
    work = tmp_path / "work"  # the command's folder: --out lives in it, nothing else may appear
    work.mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    result = run_cli("explain", *paths.values(), no_audio, inputs / "ids.csv", "--classifier", classifier,
                 "--method", "saliency", "--out", "out", "--batch-size", "4", cwd=work)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    bad = BATCH_BAD + ["huge.wav"]
    for name in bad:
        assert sum(line.startswith(f"error: {paths[name]}: ") for line in errors) == 1, (name, errors)
    assert any(line.startswith(f"error: {no_audio}: holds no audio files") for line in errors)
    assert any("cannot be explained" in line and "huge.wav" in line for line in errors)
    assert errors[-1].startswith(f"error: {len(bad) + 1} of {len(paths) + 1 + len(ids)} input(s) failed")

    out = work / "out"
    explained = {os.path.splitext(n)[0] for n in BATCH_GOOD} | {"evil", "abs_evil", "a_.._.._b", "clip"}
    saved = set(os.listdir(out / "saliency"))
    suffixes = ("_input.wav", "_masked_in.wav", "_masked_out.wav", "_mask.npy", ".json")
    complete = {f"{clip}{suffix}" for clip in explained for suffix in suffixes}
    # complete outputs of the good clips, nothing of the bad ones, no temporaries
    assert complete <= saved <= complete | {f"{clip}.png" for clip in explained}
    info = json.loads((out / "saliency" / "evil.json").read_text())
    assert all(np.isfinite(info[k]) for k in ("prob_input", "prob_masked_in", "prob_masked_out"))

    summary = json.loads((out / "run_summary.json").read_text())["explain:saliency"]
    assert sorted(summary["explained"]) == sorted(explained) and summary["already_done"] == []
    assert len(summary["failed"]) == len(bad) + 1
    assert set(summary["failed"]) == {line[len("error: "):] for line in errors[:-1]}
    # nothing outside the output folder
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert sorted(os.listdir(work)) == ["out"]
    assert sorted(os.listdir(out)) == ["report.html", "run_summary.json", "saliency"]


def test_compare_leaves_the_bad_files_out_of_its_table(tmp_path, capsys):
    """``compare`` reads every input before the harness runs (in this process: the same main)."""
    from speechbrain_xai.cli import main

    names = ["pcm16.wav", "clipped.wav", "nan.wav", "silence.wav", "one_sample.wav"]
    paths = [CASES[name][0](str(tmp_path), name) for name in names]
    paths.append(with_values([1e20, -1e20], n=RATE)(str(tmp_path), "huge.wav"))
    out = tmp_path / "cmp"
    code = main(["compare", *paths, "--classifier", tiny_pretrained_folder(tmp_path / "classifier"),
                 "--methods", "random", "--out", str(out), "--quiet", "--option", "seed=1"])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert code == 1 and len(errors) == 5, errors
    assert all(any(line.startswith(f"error: {p}: ") for line in errors) for p in paths[2:])
    results = json.loads((out / "results.json").read_text())["results"]["in_domain"]["random"]
    assert results["n"] == 2
    summary = json.loads((out / "run_summary.json").read_text())["compare"]
    assert sorted(summary["clips"]) == ["clipped", "pcm16"] and len(summary["failed"]) == 4
    saved = os.listdir(out / "explanations" / "in_domain" / "random")
    assert sorted(n for n in saved if n.endswith(".json")) == ["clipped.json", "pcm16.json"]
