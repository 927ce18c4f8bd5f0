"""Spectrogram GAN: networks, the two-optimiser Brain, resume, sample quality, mel inversion."""

import pytest
import torch

from speechbrain_xai.lobes.gan import SpectrogramDiscriminator, SpectrogramGenerator


def test_generator_and_discriminator_shapes_and_normalisation():
    gen = SpectrogramGenerator(latent_dim=8, frames=32, n_mels=16, channels=(8, 4, 4))
    gen.set_feature_stats(torch.full((16,), -50.0), torch.full((16,), 10.0))
    x = gen(torch.randn(5, 8))
    assert x.shape == (5, 32, 16)
    assert torch.allclose(gen.denormalize(gen.normalize(x)), x, atol=1e-4)
    disc = SpectrogramDiscriminator(frames=32, n_mels=16, channels=(4, 8))
    assert disc(gen.normalize(x)).shape == (5,)
    with pytest.raises(ValueError, match="divisible"):
        SpectrogramGenerator(frames=30, n_mels=16, channels=(8, 4))
    with pytest.raises(ValueError, match="z must be"):
        gen(torch.randn(2, 9))
    assert "feat_mean" in gen.state_dict()  # the statistics travel with the checkpoint


def _brain(tiny_adapter, folder, epochs):
    import speechbrain as sb
    from speechbrain.utils.checkpoints import Checkpointer
    from speechbrain.utils.epoch_loop import EpochCounter
    from speechbrain.utils.train_logger import FileTrainLogger

    from speechbrain_xai.brains.gan import GANBrain

    torch.manual_seed(0)
    gen = SpectrogramGenerator(latent_dim=8, frames=16, n_mels=24, channels=(8, 4))
    disc = SpectrogramDiscriminator(frames=16, n_mels=24, channels=(4, 8))
    counter = EpochCounter(epochs)
    hparams = dict(
        excerpt_frames=16, latent_dim=8, eval_excerpts_per_clip=2, ckpt_to_keep=1,
        opt_class_generator=lambda p: torch.optim.Adam(p, 1e-3, betas=(0.5, 0.999)),
        opt_class_discriminator=lambda p: torch.optim.Adam(p, 1e-3, betas=(0.5, 0.999)),
        epoch_counter=counter, train_logger=FileTrainLogger(str(folder / "log.txt")),
    )
    ckpt = Checkpointer(str(folder / "save"), {"generator": gen, "discriminator": disc, "counter": counter})
    brain = GANBrain(modules={"generator": gen, "discriminator": disc}, hparams=hparams,
                     run_opts={"device": "cpu", "noprogressbar": True}, checkpointer=ckpt,
                     adapter=tiny_adapter)
    g = torch.Generator().manual_seed(0)
    data = sb.dataio.dataset.DynamicItemDataset(
        {f"c{i}": {"sig": 0.1 * torch.randn(4000, generator=g)} for i in range(8)})
    data.set_output_keys(["id", "sig"])
    return brain, data


def test_inversion_rebuilds_what_the_generator_makes_and_leaves_it_untouched():
    torch.manual_seed(0)
    gen = SpectrogramGenerator(latent_dim=8, frames=16, n_mels=16, channels=(16, 8))
    gen.set_feature_stats(torch.linspace(-5, 5, 16), torch.full((16,), 3.0))
    gen.train()
    weights = {k: v.clone() for k, v in gen.state_dict().items()}
    with torch.no_grad():
        made = gen.eval()(torch.randn(4, 8)).detach()  # excerpts the generator can make
    gen.train()
    z, error = gen.invert(made, steps=300, lr=0.05, penalty=0.0, candidates=16)
    _, start_error = gen.invert(made, steps=0, candidates=16)  # the closest draw alone
    assert z.shape == (4, 8) and error.shape == (4,)
    assert bool((error < 0.02).all()) and bool((error < start_error).all())
    with torch.no_grad():
        rebuilt = gen.eval()(z)
    assert float((gen.normalize(rebuilt) - gen.normalize(made)).pow(2).mean()) == pytest.approx(
        float(error.mean()), rel=1e-4)
    # the weights (BatchNorm statistics included) are untouched and the mode comes back
    gen.train()
    gen.invert(made, steps=3)
    assert gen.training
    assert all(torch.equal(v, weights[k]) for k, v in gen.state_dict().items())
    assert all(p.grad is None for p in gen.parameters())
    # what it cannot make: noise far from its samples is rebuilt badly
    noise = gen.denormalize(3 * torch.randn(4, 16, 16))
    _, noise_error = gen.invert(noise, steps=300, lr=0.05, penalty=0.0, candidates=16)
    assert bool((noise_error > 10 * error.max()).all())
    with pytest.raises(ValueError, match=r"\[N, 16, 16\]"):
        gen.invert(torch.zeros(2, 8, 16))


def test_gan_brain_trains_with_two_checkpointed_optimisers_and_resumes(tiny_adapter, tmp_path):
    brain, data = _brain(tiny_adapter, tmp_path, epochs=1)
    brain.compute_feature_stats(data, {"batch_size": 4})
    assert brain.generator.feat_mean.abs().mean() > 1.0  # set from the data (default 0)
    before = [p.detach().clone() for p in brain.modules.generator.parameters()]
    loaders = {"train_loader_kwargs": {"batch_size": 4, "drop_last": True},
               "valid_loader_kwargs": {"batch_size": 4}}
    brain.fit(brain.hparams.epoch_counter, data, data, **loaders)
    assert set(brain.optimizers_dict) == {"optimizer_g", "optimizer_d"}
    assert {"optimizer_g", "optimizer_d"} <= set(brain.checkpointer.recoverables)
    after = [p.detach().clone() for p in brain.modules.generator.parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(before, after))
    ckpt = brain.checkpointer.find_checkpoint()
    assert (ckpt.path / "optimizer_g.ckpt").is_file() and (ckpt.path / "optimizer_d.ckpt").is_file()
    # the checkpoint records the validation FD of generated vs real excerpts (not real vs real)
    from speechbrain_xai.brains.gan import embedding_frechet_distance

    real, fake = torch.cat(brain.eval_real), torch.cat(brain.eval_fake)
    fd = embedding_frechet_distance(tiny_adapter, fake, real)
    assert ckpt.meta["fd_embedding"] == pytest.approx(fd, rel=1e-9)
    assert embedding_frechet_distance(tiny_adapter, real, real) < 1e-6 < fd
    # an interrupted run (one of two epochs done) resumes: weights, both Adam states, epoch
    resumed, _ = _brain(tiny_adapter, tmp_path, epochs=2)
    resumed.fit(resumed.hparams.epoch_counter, data, data, **loaders)
    assert resumed.hparams.epoch_counter.current == 2
    state_d = resumed.optimizer_d.state_dict()["state"]
    assert state_d and int(state_d[0]["step"]) == 2 * 2  # 2 batches per epoch, 2 epochs
    assert len(list(tmp_path.glob("log.txt"))) == 1


def test_embedding_frechet_distance_and_untrained_copy(tiny_adapter):
    from speechbrain_xai.brains.gan import embedding_frechet_distance, reinitialized

    torch.manual_seed(0)
    real = torch.randn(40, 16, 24) * 5 - 40
    changed = real.clone()
    changed[:, ::2] += 20 * torch.linspace(-1, 1, 24)  # alternating frames: survives mean removal
    assert embedding_frechet_distance(tiny_adapter, real, real) < 1e-6
    assert embedding_frechet_distance(tiny_adapter, real, changed) > 1e-3
    gen = SpectrogramGenerator(latent_dim=8, frames=16, n_mels=24, channels=(8, 4))
    gen.set_feature_stats(torch.full((24,), -3.0), torch.full((24,), 2.0))
    fresh = reinitialized(gen, seed=1)
    assert torch.equal(fresh.feat_mean, gen.feat_mean)
    assert not torch.equal(fresh.project[0].weight, gen.project[0].weight)


def test_mel_inversion_reproduces_the_mel_spectrogram():
    from speechbrain.lobes.features import Fbank

    from speechbrain_xai.frontends import EncoderPipeline

    fbank = Fbank(n_mels=40)
    t = torch.arange(8000) / 16000
    wav = (0.3 * torch.sin(2 * torch.pi * 440 * t) + 0.2 * torch.sin(2 * torch.pi * 1320 * t))[None]
    feats = fbank(wav)
    back = EncoderPipeline(fbank, None, None).features_to_audio(feats, n_iter=32)
    assert back.shape == wav.shape
    loud = feats > feats.max() - 40  # bins well above the top_db floor
    loud[:, :3] = loud[:, -3:] = False  # away from the edges
    err = (fbank(back) - feats)[loud].abs().mean()  # dB
    noise = (fbank(0.1 * torch.randn(1, 8000)) - feats)[loud].abs().mean()
    assert err < 3.0 and err < noise / 3


@pytest.mark.parametrize("use_melspectra, spec_mag_power", [(True, 0.5), (True, 1.0), (False, 0.5)])
def test_spectrogram_pipeline_features_render_back_to_audio(use_melspectra, spec_mag_power):
    """CNN14-on-ESC-50 front-end (AudioClassifier layout): dB mel of |X| (or log1p)."""
    from speechbrain.processing.features import STFT, Filterbank

    from speechbrain_xai.adapter import ClassifierAdapter
    from speechbrain_xai.frontends import SpectrogramPipeline

    pipeline = SpectrogramPipeline(
        STFT(sample_rate=16000, n_fft=1024, hop_length=11.6099, win_length=23.2199),
        torch.nn.Identity(), torch.nn.Identity(),
        compute_fbank=Filterbank(n_mels=80, n_fft=1024, sample_rate=16000),
        spec_mag_power=spec_mag_power, use_melspectra=use_melspectra,
    )
    adapter = ClassifierAdapter(pipeline, 16000)
    t = torch.arange(8000) / 16000
    wav = (0.3 * torch.sin(2 * torch.pi * 440 * t) + 0.2 * torch.sin(2 * torch.pi * 1320 * t))[None]

    def db(x):  # features -> dB of the (mel) power spectrum, whatever the front-end
        feats = adapter.features(x)  # 10 log10 of (mel) |X|^(2p), or log1p(|X|^(2p))
        if not use_melspectra:
            feats = 10 * torch.log10(torch.expm1(feats).clamp_min(1e-10))
        return feats / spec_mag_power

    back = adapter.features_to_audio(adapter.features(wav), n_iter=32, length=wav.shape[1])
    assert back.shape == wav.shape
    ref = db(wav)
    loud = ref > ref.max() - 40
    loud[:, :3] = loud[:, -3:] = False  # away from the edges
    err = (db(back) - ref)[loud].abs().mean()
    noise = (db(0.1 * torch.randn(1, 8000)) - ref)[loud].abs().mean()
    assert err < 3.0 and err < noise / 3


def test_minibatch_std_and_the_nonsaturating_r1_objective(tiny_adapter, tmp_path):
    disc = SpectrogramDiscriminator(frames=16, n_mels=24, channels=(4, 8), minibatch_std=True)
    same = torch.randn(1, 16, 24).expand(6, 16, 24)
    varied = torch.randn(6, 16, 24)
    # the score of an excerpt depends on the variety of the batch it comes in
    assert not torch.allclose(disc(torch.cat([same[:1], varied[1:]]))[0], disc(same)[0])
    assert disc(same[:1]).shape == (1,)  # a batch of one works
    brain, data = _brain(tiny_adapter, tmp_path, epochs=1)
    brain.hparams.gan_loss, brain.hparams.r1_weight = "nonsaturating", 1.0
    brain.compute_feature_stats(data, {"batch_size": 4})
    before = [p.detach().clone() for p in brain.modules.discriminator.parameters()]
    brain.fit(brain.hparams.epoch_counter, data, data,
              train_loader_kwargs={"batch_size": 4, "drop_last": True},
              valid_loader_kwargs={"batch_size": 4})
    after = list(brain.modules.discriminator.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after))
    assert brain.train_stats["loss_d"] > 0
    brain.hparams.gan_loss = "wasserstein"
    with pytest.raises(ValueError, match="gan_loss"):
        brain.gan_loss


def test_best_checkpoint_is_chosen_among_those_validated_on_the_same_data(tiny_adapter, tmp_path):
    loaders = {"train_loader_kwargs": {"batch_size": 4, "drop_last": True},
               "valid_loader_kwargs": {"batch_size": 4}}
    first, data = _brain(tiny_adapter, tmp_path, epochs=1)  # a plain stage, no tag
    first.fit(first.hparams.epoch_counter, data, data, **loaders)
    old = first.checkpointer.find_checkpoint()
    # pretend the first stage validated on easier data: an FD no later epoch can beat
    meta_file = old.path / "CKPT.yaml"
    meta_file.write_text(meta_file.read_text().replace(
        f"fd_embedding: {old.meta['fd_embedding']}", "fd_embedding: -1.0"))
    second, _ = _brain(tiny_adapter, tmp_path, epochs=3)  # resumed on other validation data
    second.hparams.valid_data_tag = "voice_focus=True"
    second.fit(second.hparams.epoch_counter, data, data, **loaders)
    ckpts = second.checkpointer.list_checkpoints()
    tagged = [c for c in ckpts if c.meta.get("valid_data_tag") == "voice_focus=True"]
    assert tagged and old.path in [c.path for c in ckpts]  # the old one is kept, not ranked
    second.evaluate(data, min_key="fd_embedding", test_loader_kwargs={"batch_size": 4})
    # evaluate loaded the best tagged checkpoint (the epoch counter is recovered with it)
    best = min(tagged, key=lambda c: c.meta["fd_embedding"])
    assert second.hparams.epoch_counter.current == int(best.meta["epoch"]) > 1
    # without a tag every checkpoint competes, and the doctored one wins
    assert second.checkpointer.find_checkpoint(min_key="fd_embedding").path == old.path
