"""A spectrogram GAN trained as a SpeechBrain ``Brain``, and the GAN recipe step.

The GAN learns fixed-size excerpts of log-mel frames in the explained
classifier's own feature domain (``adapter.features``), so that the
classifier can read the generated excerpts and the latent activation
maximiser (:mod:`speechbrain_xai.explainers.activation_maximization`) can
search the generator's latent space.

* Two optimisers (generator, discriminator) created in ``init_optimizers``,
  listed in ``optimizers_dict`` and registered with the checkpointer, so a
  killed training resumes with both Adam states (SpeechBrain's HiFi-GAN
  recipe pattern).
* Hinge loss with a spectrally normalised discriminator, or the
  non-saturating loss with an R1 penalty on the real excerpts.
* Validation reports the sample quality: the Fréchet distance between
  generated and real excerpts in the classifier's embedding space
  (:func:`embedding_frechet_distance`).

The classifier is a frozen :class:`~speechbrain_xai.adapter.ClassifierAdapter`
kept outside ``modules``; pass it as ``adapter=``.

:func:`run_gan` is what the GAN recipes run after their data preparation
(VocalMix and ESC-50 alike): feature statistics, training, test, and the
generator with its sample-quality report; :func:`check_classifier` fits a
recipe's ``sample_rate`` and ``n_mels`` to the classifier.
"""

from __future__ import annotations

import copy
import os
import time
from typing import Dict, Mapping, Optional

import speechbrain as sb
import torch
import torch.nn.functional as F
from speechbrain.utils.logger import get_logger

from speechbrain_xai.brains.base import FrozenClassifierBrain
from speechbrain_xai.data.excerpts import excerpts_from_features, feature_hop_seconds
from speechbrain_xai.explainers.am_selection import classifier_embeddings
from speechbrain_xai.files import torch_save, write_json
from speechbrain_xai.hparams import reads_hparams, require_hparams
from speechbrain_xai.metrics import frechet_distance
from speechbrain_xai.plotting import save_excerpt_grid

logger = get_logger(__name__)
GAN_LOSSES = ("hinge", "nonsaturating")


def embedding_frechet_distance(adapter, feats_a: torch.Tensor, feats_b: torch.Tensor,
                               layer: str = "embedding_model") -> float:
    """Fréchet distance between two sets of excerpts in the classifier's embedding space.

    Arguments
    ---------
    adapter : ClassifierAdapter
        The frozen classifier (``EncoderPipeline`` layout).
    feats_a, feats_b : torch.Tensor
        Log-mel excerpts ``[N, T, F]`` and ``[M, T, F]`` in the classifier's domain.
    layer : str
        Layer whose (pooled) output is the embedding.

    Returns
    -------
    float
        The squared Fréchet distance. With fewer samples than dimensions the
        covariances are rank-deficient; the distance is still computed (and a
        warning logged) so that tiny debug runs work.
    """
    emb_a = classifier_embeddings(adapter, feats_a, layer)
    emb_b = classifier_embeddings(adapter, feats_b, layer)
    enough = min(emb_a.shape[0], emb_b.shape[0]) > emb_a.shape[1]
    if not enough:
        logger.warning("Only %d/%d samples for %d dimensions: the Fréchet distance is indicative.",
                       emb_a.shape[0], emb_b.shape[0], emb_a.shape[1])
    return frechet_distance(emb_a, emb_b, min_samples_per_dim=enough)


def reinitialized(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """A copy of ``module`` with freshly initialised weights (buffers such as
    the generator's feature statistics kept): the untrained baseline."""
    fresh = copy.deepcopy(module)
    torch.manual_seed(seed)
    for sub in fresh.modules():
        if sub is not fresh and hasattr(sub, "reset_parameters"):
            sub.reset_parameters()
    return fresh


@reads_hparams("excerpt_frames", "latent_dim", "eval_excerpts_per_clip", "ckpt_to_keep",
               "opt_class_generator", "opt_class_discriminator", "epoch_counter", "train_logger",
               optional=("train_excerpts_per_clip", "samples_folder", "gan_loss", "r1_weight",
                         "valid_data_tag"))
class GANBrain(FrozenClassifierBrain):
    """Trains ``modules.generator`` against ``modules.discriminator``.

    Expects in ``hparams``: ``excerpt_frames``, ``latent_dim``,
    ``eval_excerpts_per_clip``, ``opt_class_generator`` and
    ``opt_class_discriminator`` (``!name:`` optimisers), ``epoch_counter``,
    ``train_logger``, ``ckpt_to_keep``; optional ``gan_loss`` (``"hinge"``,
    default, or ``"nonsaturating"``), ``r1_weight`` (R1 gradient penalty on
    real excerpts, default 0), ``train_excerpts_per_clip``
    (random excerpts cut from each training clip per step, default 1: more
    excerpts per step for the same audio decoding), ``samples_folder``
    (a PNG grid of generated excerpts after each validation) and
    ``valid_data_tag`` (names the validation data; saved with each
    checkpoint, and only checkpoints with the same tag compete for "best"). The batches
    carry ``sig`` (waveforms). Pass the frozen classifier as ``adapter``: its
    ``features`` define the GAN's domain.
    """

    def __init__(self, *args, adapter=None, **kwargs):
        super().__init__(*args, **kwargs)
        require_hparams(self.hparams, GANBrain, "GANBrain")
        if adapter is None or not adapter.has_features:
            raise ValueError("GANBrain needs adapter= a ClassifierAdapter whose features are known "
                             "(SpeechBrain EncoderClassifier or AudioClassifier layout, not a black "
                             "box): its features are the GAN's domain.")
        self.adapter = adapter
        self.gan_loss  # a bad gan_loss fails here, before any training

    # ------------------------------------------------------------ set-up
    def init_optimizers(self):
        """One optimiser per network, both in ``optimizers_dict`` and checkpointed."""
        self.optimizer_g = self.hparams.opt_class_generator(self.modules.generator.parameters())
        self.optimizer_d = self.hparams.opt_class_discriminator(
            self.modules.discriminator.parameters())
        self.optimizers_dict = {"optimizer_g": self.optimizer_g, "optimizer_d": self.optimizer_d}
        if self.checkpointer is not None:
            for name, opt in self.optimizers_dict.items():
                self.checkpointer.add_recoverable(name, opt)

    @property
    def generator(self):
        """The generator without a DDP wrapper (for its normalisation buffers)."""
        gen = self.modules.generator
        return gen.module if hasattr(gen, "module") else gen

    def compute_feature_stats(self, dataset, loader_kwargs: Optional[dict] = None) -> None:
        """Sets the generator's per-band mean/std from all frames of ``dataset``."""
        self.adapter.to(self.device)
        total, total_sq, count = 0.0, 0.0, 0
        loader = sb.dataio.dataloader.make_dataloader(dataset, **(loader_kwargs or {}))
        with torch.no_grad():
            for batch in loader:
                batch = batch.to(self.device)
                wavs, lens = batch.sig
                feats = self.adapter.features(wavs)  # (B, T, F)
                valid = (torch.arange(feats.shape[1], device=self.device)[None]
                         < (lens * feats.shape[1]).round()[:, None])[..., None]
                total = total + (feats * valid).sum((0, 1)).double()
                total_sq = total_sq + (feats.pow(2) * valid).sum((0, 1)).double()
                count += int(valid.sum())
        mean = total / count
        std = (total_sq / count - mean.pow(2)).clamp_min(0).sqrt()
        self.generator.set_feature_stats(mean.float(), std.float())
        logger.info("Excerpt statistics from %d frames: mean %.2f dB, std %.2f dB (band averages).",
                    count, float(mean.mean()), float(std.mean()))

    # ------------------------------------------------------------ batches
    def real_excerpts(self, batch, stage) -> torch.Tensor:
        """Normalised log-mel excerpts ``[B, T, F]`` cut from the batch's clips:
        one random excerpt per clip in training, fixed ones otherwise."""
        batch = batch.to(self.device)
        wavs, lens = batch.sig
        with torch.no_grad():
            feats = self.adapter.features(wavs)
        if stage == sb.Stage.TRAIN:
            per_clip = getattr(self.hparams, "train_excerpts_per_clip", 1)
        else:
            per_clip = self.hparams.eval_excerpts_per_clip
        excerpts = excerpts_from_features(feats, lens, self.hparams.excerpt_frames,
                                          per_clip=per_clip, random=stage == sb.Stage.TRAIN)
        return self.generator.normalize(excerpts)

    def generate(self, n: int) -> torch.Tensor:
        """Normalised generated excerpts ``[n, T, F]``."""
        z = torch.randn(n, self.hparams.latent_dim, device=self.device)
        return self.generator.normalize(self.modules.generator(z))

    @property
    def gan_loss(self) -> str:
        loss = getattr(self.hparams, "gan_loss", "hinge")
        if loss not in GAN_LOSSES:
            raise ValueError(f"gan_loss must be one of {GAN_LOSSES}, got {loss!r}.")
        return loss

    def discriminator_loss(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        """Hinge, or the non-saturating logistic loss, of the discriminator."""
        if self.gan_loss == "hinge":
            return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()
        return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()

    def generator_loss(self, fake_scores: torch.Tensor) -> torch.Tensor:
        if self.gan_loss == "hinge":
            return -fake_scores.mean()
        return F.softplus(-fake_scores).mean()

    def fit_batch(self, batch):
        real = self.real_excerpts(batch, sb.Stage.TRAIN)
        fake = self.generate(real.shape[0])
        # Discriminator step (+ R1 penalty on the real excerpts, Mescheder et al. 2018)
        r1_weight = float(getattr(self.hparams, "r1_weight", 0.0))
        real.requires_grad_(r1_weight > 0)
        real_scores = self.modules.discriminator(real)
        loss_d = self.discriminator_loss(real_scores, self.modules.discriminator(fake.detach()))
        if r1_weight > 0:
            grad = torch.autograd.grad(real_scores.sum(), real, create_graph=True)[0]
            loss_d = loss_d + r1_weight / 2 * grad.pow(2).flatten(1).sum(1).mean()
        self.optimizer_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.optimizer_d.step()
        # Generator step
        loss_g = self.generator_loss(self.modules.discriminator(fake))
        self.optimizer_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.optimizer_g.step()
        self.loss_sums["d"] += float(loss_d.detach())
        self.loss_sums["g"] += float(loss_g.detach())
        self.loss_sums["n"] += 1
        return loss_d.detach().cpu()

    def evaluate_batch(self, batch, stage):
        real = self.real_excerpts(batch, stage)
        fake = self.generate(real.shape[0])
        loss_d = self.discriminator_loss(self.modules.discriminator(real),
                                         self.modules.discriminator(fake))
        self.eval_real.append(self.generator.denormalize(real).cpu())
        self.eval_fake.append(self.generator.denormalize(fake).cpu())
        return loss_d.detach().cpu()

    def save_samples(self, fake: torch.Tensor, epoch, count: int = 16) -> None:
        """Writes ``<samples_folder>/epoch_<n>.png`` (first ``count`` excerpts)
        when ``samples_folder`` is set, to watch the training."""
        folder = getattr(self.hparams, "samples_folder", None)
        if not folder or not sb.utils.distributed.if_main_process():
            return
        os.makedirs(folder, exist_ok=True)
        hop_seconds = feature_hop_seconds(self.adapter) if self.adapter.feature_hop_length else None
        try:
            save_excerpt_grid(fake[:count], os.path.join(folder, f"epoch_{epoch}.png"),
                              hop_seconds=hop_seconds)
        except ImportError as err:  # matplotlib is an optional extra
            logger.warning("No sample pictures: %s", err)

    def sample_quality(self, seed: int = 0) -> dict:
        """Fréchet distances in the classifier's embedding space, after
        ``evaluate`` on the test set: the generator (and an untrained copy, the
        baseline) vs one half of the real test excerpts, and the other half
        vs it (the floor). The halves split the clips (clip-major order)."""
        if not hasattr(self, "test_real"):
            raise RuntimeError("Call evaluate() on the test set before sample_quality().")
        real = self.test_real.to(self.device)
        half = real.shape[0] // 2
        real_a, real_b = real[:half], real[half:2 * half]
        gen = self.generator.eval()
        untrained = reinitialized(gen, seed=seed).eval()
        torch.manual_seed(seed)
        z = torch.randn(half, self.hparams.latent_dim, device=self.device)
        with torch.no_grad():
            fake, fake0 = gen(z), untrained(z)
        return {
            "n_per_set": half,
            "fd_generated_vs_real": embedding_frechet_distance(self.adapter, fake, real_b),
            "fd_real_vs_real": embedding_frechet_distance(self.adapter, real_a, real_b),
            "fd_untrained_vs_real": embedding_frechet_distance(self.adapter, fake0, real_b),
        }

    def export(self, generator_file: str, quality_file: str, seed: int = 0, **extra) -> dict:
        """Writes the generator's ``state_dict`` (what
        :func:`speechbrain_xai.brains.am_search.prepare_search` loads) and a
        JSON report (:meth:`sample_quality`, parameter counts, ``extra``),
        each atomically; main process only. Returns the report."""
        report = {**self.sample_quality(seed), **extra,
                  "parameters": {name: sum(p.numel() for p in mod.parameters())
                                 for name, mod in self.modules.items()}}
        if sb.utils.distributed.if_main_process():
            write_json(quality_file, report, indent=2)
            torch_save(self.generator.state_dict(), generator_file)
            logger.info("Sample quality: %s; generator written to %s", report, generator_file)
        return report

    # ------------------------------------------------------------ stages
    @property
    def valid_data_tag(self) -> Optional[str]:
        """Names the validation data behind the checkpoints' FDs (``valid_data_tag``)."""
        tag = getattr(self.hparams, "valid_data_tag", None)
        return None if tag is None else str(tag)

    def comparable(self, ckpt) -> bool:
        """Whether a checkpoint's validation FD was measured on this run's
        validation data (same ``valid_data_tag``); always true without a tag."""
        tag = self.valid_data_tag
        return tag is None or ckpt.meta.get("valid_data_tag") == tag

    def on_evaluate_start(self, max_key=None, min_key=None):
        """Loads the best checkpoint among those whose FD is comparable
        (:meth:`comparable`): a run resumed on other validation data (e.g. a
        focused stage after a plain one) never picks an older stage's
        checkpoint by an FD measured on different excerpts."""
        self._move_frozen()
        if self.checkpointer is not None:
            self.checkpointer.recover_if_possible(max_key=max_key, min_key=min_key,
                                                  ckpt_predicate=self.comparable)

    def on_stage_start(self, stage, epoch=None):
        self.loss_sums = {"d": 0.0, "g": 0.0, "n": 0}
        self.eval_real, self.eval_fake = [], []

    def on_stage_end(self, stage, stage_loss, epoch=None):
        if stage == sb.Stage.TRAIN:
            n = max(self.loss_sums["n"], 1)
            self.train_stats = {"loss_d": self.loss_sums["d"] / n, "loss_g": self.loss_sums["g"] / n}
            return
        real, fake = torch.cat(self.eval_real), torch.cat(self.eval_fake)
        stats = {"loss_d": stage_loss,
                 "fd_embedding": embedding_frechet_distance(self.adapter, fake.to(self.device),
                                                            real.to(self.device))}
        if stage == sb.Stage.VALID:
            self.hparams.train_logger.log_stats(
                {"epoch": epoch}, train_stats=self.train_stats, valid_stats=stats)
            self.save_samples(fake, epoch)
            tag = self.valid_data_tag
            self.checkpointer.save_and_keep_only(
                meta={"fd_embedding": stats["fd_embedding"], "epoch": epoch,
                      **({} if tag is None else {"valid_data_tag": tag})},
                min_keys=["fd_embedding"], num_to_keep=self.hparams.ckpt_to_keep,
                ckpt_predicate=self.comparable)
        else:
            self.hparams.train_logger.log_stats(
                {"Epoch loaded": self.hparams.epoch_counter.current}, test_stats=stats)
            self.test_stats = stats
            self.test_real, self.test_fake = real, fake


# --------------------------------------------------------------------------
# The recipe steps
# --------------------------------------------------------------------------
@reads_hparams("classifier", "sample_rate", "n_mels")
def check_classifier(hparams: Dict) -> None:
    """Fits a recipe to its classifier (``classifier``): the classifier's rate
    wins over ``sample_rate`` (clips are resampled to it, rendered audio is
    written at it; ``hparams["sample_rate"]`` is set to it), and its features
    must have ``n_mels`` bands (the GAN's excerpt height), else a
    ``ValueError`` says which ``--n_mels`` to pass."""
    adapter = hparams["classifier"]
    if adapter.sample_rate != hparams["sample_rate"]:
        logger.warning("The classifier runs at %d Hz, not sample_rate=%d: using %d Hz.",
                       adapter.sample_rate, hparams["sample_rate"], adapter.sample_rate)
        hparams["sample_rate"] = adapter.sample_rate
    with torch.no_grad():
        bands = adapter.features(torch.zeros(1, adapter.sample_rate, device=adapter.device)).shape[-1]
    if bands != hparams["n_mels"]:
        raise ValueError(f"The classifier's features have {bands} bands, not n_mels={hparams['n_mels']}: "
                         f"pass --n_mels {bands} (divisible by 2^len(gen_channels)).")


@reads_hparams("classifier", "modules", "checkpointer", "train_dataloader_opts",
               "valid_dataloader_opts", "generator_file", "quality_file", "seed",
               *GANBrain.hparams_required, optional=GANBrain.hparams_keys)
def run_gan(hparams: Mapping, run_opts: Mapping, datasets: Mapping) -> GANBrain:
    """The GAN recipe after data preparation (``datasets``: ``train``,
    ``valid``, ``test``, each giving ``sig``): the generator's feature
    statistics from the training clips, training (:class:`GANBrain` on the
    frozen ``classifier``, resumable), test with the checkpoint of the lowest
    validation FD, then the generator (``generator_file``) and its
    sample-quality report (``quality_file``, with the fit's wall time)."""
    require_hparams(hparams, run_gan, "run_gan")
    brain = GANBrain(modules=hparams["modules"], hparams=hparams, run_opts=run_opts,
                     checkpointer=hparams["checkpointer"], adapter=hparams["classifier"])
    brain.compute_feature_stats(datasets["train"], hparams["valid_dataloader_opts"])
    start = time.time()
    brain.fit(brain.hparams.epoch_counter, datasets["train"], datasets["valid"],
              train_loader_kwargs=hparams["train_dataloader_opts"],
              valid_loader_kwargs=hparams["valid_dataloader_opts"])
    fit_seconds = time.time() - start
    brain.evaluate(datasets["test"], min_key="fd_embedding",
                   test_loader_kwargs=hparams["valid_dataloader_opts"])
    brain.export(hparams["generator_file"], hparams["quality_file"], seed=hparams["seed"],
                 fit_seconds=round(fit_seconds, 1))
    return brain
