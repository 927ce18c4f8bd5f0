#!/usr/bin/env python3
"""Ships the voice detector, its L-MAC interpreter and its GAN inside the package.

Copies the folders the three VoiceScenes recipes exported into
``speechbrain_xai/pretrained/`` in SpeechBrain's hub layout
(``hyperparams.yaml`` + one ``.ckpt`` per module) and writes a model card
(``README.md``) beside each, from the runs' own result files: what the model
was trained on, the exact recipe commands, its accuracy and metrics. The
folders load by path or short name (``voice-detector``,
``voice-detector-lmac``, ``voice-detector-gan``) and can be uploaded to a
model hub as they are.

Run after the three recipes (see README.md in this folder):
    python recipes/VoiceScenes/ship.py \
        --classifier results/VoiceScenes/classification/voice_detector/1234 \
        --lmac results/VoiceScenes/interpret/lmac/1234 \
        --gan results/VoiceScenes/interpret/gan/1234
Each of the three is optional: the folders not given stay as shipped (e.g. only
``--lmac`` after retraining the interpreter on the shipped classifier).
"""

import argparse
import json
import os
import shutil

from hyperpyyaml import load_hyperpyyaml

from speechbrain_xai.export import export_pretrained
from speechbrain_xai.files import staged_folder, torch_load, write_text
from speechbrain_xai.pretrained import HERE, SHIPPED

GAN_TEMPLATE = """# The generator of the shipped voice detector's GAN (speechbrain_xai), for
# activation maximisation: latent [B, latent_dim] -> log-mel excerpt [B, frames, n_mels]
# in the classifier's Fbank domain. Load with
# speechbrain.inference.interfaces.Pretrained.from_hparams(<this folder>).mods.generator
latent_dim: 128
frames: 64
n_mels: 64
channels: [128, 64, 32, 16]

generator: !new:speechbrain_xai.lobes.gan.SpectrogramGenerator
    latent_dim: !ref <latent_dim>
    frames: !ref <frames>
    n_mels: !ref <n_mels>
    channels: !ref <channels>

modules:
    generator: !ref <generator>

pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        generator: !ref <generator>
"""


def read_json(path):
    with open(path) as f:
        return json.load(f)


def pct(value):
    return f"{100 * value:.1f}%"


def copy_folder(src, dest, name, card):
    """``src`` (an exported pretrained folder) -> ``dest/<folder of name>`` + README.md."""
    final = os.path.join(dest, SHIPPED[name])
    with staged_folder(final) as tmp:
        for entry in sorted(os.listdir(src)):
            if entry.endswith((".ckpt", ".yaml", ".txt")) and os.path.isfile(os.path.join(src, entry)):
                shutil.copyfile(os.path.join(src, entry), os.path.join(tmp, entry))
        write_text(os.path.join(tmp, "README.md"), card)
    return final


def real_rows(real):
    """Rows of the accuracy table for the real recordings (results.json of
    real_recordings.py), or nothing."""
    if not real:
        return ""
    by = real["by"]["label"]
    return (f"| real recordings (Debian packages: real speakers' prompts and game lines, real "
            f"everyday sounds; never in training; `recipes/VoiceScenes/real_recordings.py`) | "
            f"{real['overall']['n']} | {pct(real['overall']['accuracy'])} (voice "
            f"{pct(by['voice']['accuracy'])}, no voice {pct(by['no_voice']['accuracy'])}) |\n")


def classifier_card(run, accuracy, hparams, real=None):
    vm, vs = hparams["vocalmix"], hparams["voice_scenes"]
    return f"""# voice-detector (speechbrain_xai)

A voice-presence classifier (`voice` / `no_voice`) on 16 kHz audio: a small CNN
(`speechbrain_xai.lobes.classifiers.SmallCNN`, channels {hparams['channels']}, embedding
{hparams['emb_dim']}) on {hparams['n_mels']}-band log-mel features (SpeechBrain `Fbank`), in
SpeechBrain's `EncoderClassifier` layout.

Load: `speechbrain_xai.ClassifierAdapter.from_hparams("voice-detector")` (or this folder, or a hub
id once uploaded), or SpeechBrain's `EncoderClassifier.from_hparams(<this folder>)`.

## Training data (generated offline, deterministic)
- VocalMix: {vm['num_train']} train / {vm['num_valid']} valid clips of {vm['clip_duration']} s,
  seed {vm['data_seed']}: synthetic singing-like voices over synthetic instruments and noise.
- Voice scenes: {vs['num_train']} train / {vs['num_valid']} valid clips of {vs['clip_duration']} s,
  seed {vs['data_seed']}: text-to-speech voices of the Debian engines (espeak-ng, flite,
  festival) in 22 synthesised everyday sounds, VocalMix backgrounds and room noise, through
  random rooms and microphone channels.

## Accuracy (the best checkpoint by validation error)
| test set | clips | accuracy |
|---|---|---|
| VocalMix test | {vm['num_test']} | {pct(accuracy['test_vocalmix'])} |
| voice scenes, held-out realistic split (voices, sentences and six sound kinds never seen in training) | {vs['num_test']} | {pct(accuracy['test_voice_scenes'])} |
| both | {vm['num_test'] + vs['num_test']} | {pct(accuracy['test'])} |
{real_rows(real)}
## Recipe
```
python recipes/VoiceScenes/classification/train.py \\
    recipes/VoiceScenes/classification/hparams/voice_detector.yaml --data_folder data/VoiceDetector
```
(run folder: `{os.path.basename(run.rstrip('/'))}`; per-clip test probabilities in `test_predictions*.csv`).

Limits: trained on synthetic and text-to-speech voices only; real recordings with other
voices, languages, microphones or sounds may be classified less well.
"""


def _selection(results):
    rule = results.get("checkpoint_selection", "lowest_valid_loss")
    return {"last": "the last one, the end of the guided stage",
            "lowest_valid_loss": "the lowest validation loss"}.get(rule, rule)


def decoder_heads(interpreter):
    """The mask heads of the decoder the interpreter folder builds (its hyperparams.yaml, no
    weights loaded): the folder being shipped is the authority, whatever run wrote it."""
    with open(os.path.join(interpreter, "hyperparams.yaml")) as f:
        decoder = load_hyperpyyaml(f)["decoder"]
    return getattr(decoder, "num_classes", None) or 1


def lmac_card(per_set, heads=1):
    """``per_set``: ``{test set: results.json of the harness}``; ``heads``: the decoder's mask heads."""
    cols = ("AI", "AD", "AG", "FF", "Fid-In", "deletion_auc", "insertion_auc", "oracle_auc", "oracle_iou",
            "time_share", "n")
    lines = ["| test set | condition | method | " + " | ".join(cols) + " |",
             "|---|---|---|" + "---|" * len(cols)]
    for name, results in per_set.items():
        for condition, methods in results["results"].items():
            for method in ("L-MAC", "gradcam", "all_ones"):
                if method in methods:
                    entry = methods[method]
                    lines.append(f"| {name} | {condition} | {method} | "
                                 + " | ".join(f"{entry.get(c, float('nan')):.3g}" for c in cols) + " |")
    table = "\n".join(lines)
    results = next(iter(per_set.values()))
    heads_line = (f"One mask head per class ({heads}): the explained class's map is used."
                  if heads > 1 else "One mask head for every class, as in the L-MAC paper.")
    return f"""# voice-detector-lmac (speechbrain_xai)

An L-MAC interpreter (Listenable Maps for Audio Classifiers, Paissan et al. 2024) of the shipped
`voice-detector`: a mask decoder ({results['decoder_parameters']} parameters) reading the
classifier's three convolutional blocks, giving a mask on the 25 ms / 10 ms STFT grid whose
masked-in audio keeps the decision and masked-out audio loses it. {heads_line} The folder holds
the classifier too.

Load: `speechbrain_xai.inference.LMACInterpreter.from_hparams("voice-detector-lmac")` (or this
folder, or a hub id once uploaded); `speechbrain-xai explain clip.wav` uses it by default.

## Training
The classifier's data (VocalMix + voice scenes), {results['epochs_trained']} epochs, checkpoint of
epoch {results['epoch_selected']} selected ({_selection(results)}):
```
python recipes/VoiceScenes/interpret/train_lmac.py recipes/VoiceScenes/interpret/hparams/lmac.yaml \\
    --data_folder data/VoiceDetector \\
    --classifier_source results/VoiceScenes/classification/voice_detector/1234/pretrained
```

## Evaluation (each test set alone: VocalMix's and the voice scenes' held-out realistic split; the\nevaluation harness; every method in the run's `<test set>/results.md`)
{table}
"""


def gan_card(quality):
    return f"""# voice-detector-gan (speechbrain_xai)

The generator of a spectrogram GAN trained on log-mel excerpts (64 frames x 64 bands) of the
shipped `voice-detector`'s data, in the classifier's own feature domain: the prior of GAN-based
activation maximisation (`speechbrain-xai demo`, `speechbrain_xai.explainers.activation_maximization`).

Sample quality (Fréchet distance in the classifier's embedding space, {quality['n_per_set']}
excerpts per set): generated vs real {quality['fd_generated_vs_real']:.2f}, untrained generator vs
real {quality['fd_untrained_vs_real']:.2f}, real vs real {quality['fd_real_vs_real']:.2f}.

```
python recipes/VoiceScenes/interpret/train_gan.py recipes/VoiceScenes/interpret/hparams/gan.yaml \\
    --data_folder data/VoiceDetector \\
    --classifier_source results/VoiceScenes/classification/voice_detector/1234/pretrained
```
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classifier", default=None, help="output folder of the classification recipe")
    parser.add_argument("--lmac", default=None, help="output folder of train_lmac.py")
    parser.add_argument("--gan", default=None, help="output folder of train_gan.py")
    parser.add_argument("--real_recordings", default=None,
                        help="output folder of real_recordings.py run on the classifier (optional)")
    parser.add_argument("--dest", default=HERE, help="where the folders go (default: the package's "
                                                     "speechbrain_xai/pretrained)")
    args = parser.parse_args()
    if not (args.classifier or args.lmac or args.gan):
        parser.error("nothing to ship: give --classifier, --lmac and/or --gan (each replaces "
                     "its shipped folder; the others stay as they are)")
    if args.classifier:
        ship_classifier(args)
    if args.lmac:
        ship_lmac(args)
    if args.gan:
        ship_gan(args)


def ship_classifier(args):
    with open(os.path.join(args.classifier, "hyperparams.yaml")) as f:
        hparams = load_hyperpyyaml(f, {"data_folder": "unused"})
    accuracy = read_json(os.path.join(args.classifier, "test_accuracy.json"))
    real = read_json(os.path.join(args.real_recordings, "results.json")) if args.real_recordings else None
    print(copy_folder(os.path.join(args.classifier, "pretrained"), args.dest, "voice-detector",
                      classifier_card(args.classifier, accuracy, hparams, real)))


def ship_lmac(args):
    # one results.json per test set (test_splits of lmac.yaml), or one for a single test set
    sets = sorted(d for d in os.listdir(args.lmac)
                  if os.path.isfile(os.path.join(args.lmac, d, "results.json")))
    per_set = ({d: read_json(os.path.join(args.lmac, d, "results.json")) for d in sets} if sets
               else {"test": read_json(os.path.join(args.lmac, "results.json"))})
    interpreter = os.path.join(args.lmac, "interpreter")
    print(copy_folder(interpreter, args.dest, "voice-detector-lmac",
                      lmac_card(per_set, decoder_heads(interpreter))))


def ship_gan(args):
    quality = read_json(os.path.join(args.gan, "sample_quality.json"))
    classifier = (os.path.join(args.classifier, "pretrained") if args.classifier
                  else os.path.join(args.dest, SHIPPED["voice-detector"]))
    with open(os.path.join(args.gan, "hyperparams.yaml")) as f:
        gan = load_hyperpyyaml(f, {"data_folder": "unused", "classifier_source": classifier})
    generator = gan["generator"]
    generator.load_state_dict(torch_load(os.path.join(args.gan, "generator.ckpt"), map_location="cpu"))
    final = os.path.join(args.dest, SHIPPED["voice-detector-gan"])
    template = os.path.join(os.path.dirname(final), ".gan_template.yaml")
    write_text(template, GAN_TEMPLATE)
    try:
        export_pretrained(final, template, {"latent_dim": gan["latent_dim"], "frames": gan["excerpt_frames"],
                                            "n_mels": gan["n_mels"], "channels": gan["gen_channels"]},
                          {"generator": generator})
    finally:
        os.remove(template)
    write_text(os.path.join(final, "README.md"), gan_card(quality))
    print(final)


if __name__ == "__main__":
    main()
