#!/usr/bin/env python3
"""Where an L-MAC interpreter's masks disagree with the oracle voice mask: time or frequency.

On the clips of a VocalMix manifest that hold a voice (their stems give the
oracle ``1[|voice| > |rest|]`` on the classifier's STFT grid), it prints one
row per mask:

* ``oracle AUC``: the ROC AUC of the mask against the oracle over every bin
  (the harness's ``oracle_auc``);
* ``time ranking``: the ROC AUC of the mask's frame profile (its mean over
  frequency) against the frames where the voice sounds: does the mask say
  *when*;
* ``frequency ranking``: the ROC AUC against the oracle inside the voice's
  frames only: does it say *where in frequency*;
* ``time share``: the share of the mask's mass in the voice's frames
  (:func:`speechbrain_xai.metrics.mask_time_share`);
* the classifier's P(voice) on the masked-in and the masked-out audio.

Rows: the interpreter's L-MAC masks, Grad-CAM on ``--gradcam_layer`` (the
strongest baseline on oracle agreement) and the oracle mask itself (is the
oracle a good answer to the L-MAC objective: does its masked-in audio keep the
decision and its masked-out audio lose it?). Means over the clips.

Example:
    python recipes/VocalMix/interpret/diagnose_lmac.py runs/lmac_s1/interpreter \\
        --manifest runs/clf_s1/save/test.csv --data_folder data/VocalMix --num_clips 80
"""

import argparse
import csv
import os

import torch


def voice_rows(manifest, data_folder, voice_label, limit):
    with open(manifest, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("label") == voice_label]
    missing = {"wav", "voice_wav", "background_wav"} - set(rows[0] if rows else {})
    if not rows or missing:
        raise SystemExit(f"{manifest}: no '{voice_label}' clips with wav, voice_wav and background_wav "
                         "columns; pass a VocalMix manifest (e.g. <classification>/save/test.csv).")
    for row in rows[:limit]:
        yield {k: row[k].replace("$data_root", data_folder) for k in ("wav", "voice_wav", "background_wav")}


def axis_scores(mask, oracle, voice_mag):
    """Per clip: oracle AUC, time ranking, frequency ranking, time share (means)."""
    from speechbrain_xai.metrics import active_frames, mask_time_share, roc_auc

    share, _ = mask_time_share(mask, voice_mag)
    frames = active_frames(voice_mag)  # the voice's frames, as mask_time_share counts them
    freq = [roc_auc(m[f][None], o[f][None])[0] for m, o, f in zip(mask, oracle, frames)]
    return {
        "oracle AUC": roc_auc(mask, oracle).nanmean(),
        "time ranking": roc_auc(mask.mean(dim=2), frames).nanmean(),
        "frequency ranking": torch.stack(freq).nanmean(),
        "time share": share.mean(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("interpreter", help="an exported L-MAC interpreter folder (or hub id)")
    parser.add_argument("--manifest", required=True, help="a VocalMix manifest with the stems' columns")
    parser.add_argument("--data_folder", required=True, help="what $data_root stands for in it")
    parser.add_argument("--num_clips", type=int, default=80, help="voice clips to use (the first ones)")
    parser.add_argument("--voice_label", default="voice")
    parser.add_argument("--gradcam_layer", default="embedding_model.blocks.2", help="'' skips Grad-CAM")
    parser.add_argument("--savedir", default=None)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from speechbrain_xai.data.inputs import read_clip
    from speechbrain_xai.explainers.base import get_explainer
    from speechbrain_xai.explainers.lmac import LMACExplainer
    from speechbrain_xai.metrics import ideal_ratio_mask

    lmac = LMACExplainer(interpreter=args.interpreter, savedir=args.savedir)
    adapter = lmac.adapter
    rows = list(voice_rows(args.manifest, os.path.expanduser(args.data_folder), args.voice_label,
                           args.num_clips))
    stems = {k: torch.stack([read_clip(r[k], adapter.sample_rate) for r in rows])
             for k in ("wav", "voice_wav", "background_wav")}
    mix = stems["wav"]
    with torch.no_grad():
        voice_mag = adapter.stft(stems["voice_wav"]).abs()
        rest_mag = adapter.stft(stems["background_wav"]).abs()
    oracle = ideal_ratio_mask(voice_mag, rest_mag, binary=True)
    labels = getattr(adapter, "class_names", None)
    voice = labels.index(args.voice_label) if labels and args.voice_label in labels else 0
    target = torch.full((mix.shape[0],), voice, dtype=torch.long)

    masks = {"L-MAC": lmac}
    if args.gradcam_layer:
        masks["Grad-CAM"] = get_explainer("gradcam", adapter, layer=args.gradcam_layer)
    table = []
    for name, explainer in masks.items():
        exp = explainer.explain(mix, target=target)
        table.append((name, exp.mask, exp.probs_masked_in[:, voice], exp.probs_masked_out[:, voice]))
    from speechbrain_xai.explanation import Explanation

    exp = Explanation.from_mask(adapter, mix, oracle, target=target, method="oracle")
    table.append(("oracle mask", oracle, exp.probs_masked_in[:, voice], exp.probs_masked_out[:, voice]))

    print(f"{len(rows)} voice clips of {args.manifest}; class '{args.voice_label}' = index {voice}")
    print("| mask | area | oracle AUC | time ranking | frequency ranking | time share | "
          "P(voice) masked-in | P(voice) masked-out |")
    print("|---|---|---|---|---|---|---|---|")
    for name, mask, p_in, p_out in table:
        scores = axis_scores(mask.float(), oracle, voice_mag)
        cells = [f"{float(mask.float().mean()):.3f}"] + [f"{float(v):.3f}" for v in scores.values()]
        cells += [f"{float(p_in.mean()):.3f}", f"{float(p_out.mean()):.3f}"]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
