"""Batched latent activation maximisation, selection by Fréchet distance, resume."""

import os

import pytest
import torch

from speechbrain_xai.brains.am_search import AMSearchBrain, write_table
from speechbrain_xai.data.excerpts import excerpts_from_features
from speechbrain_xai.explainers.activation_maximization import (
    AMSetting,
    InputActivationMaximizer,
    LatentActivationMaximizer,
    SearchResult,
    UnitSpec,
    setting_grid,
)
from speechbrain_xai.explainers.am_selection import rank_settings, unit_activations
from speechbrain_xai.lobes.gan import SpectrogramGenerator


@pytest.fixture
def generator():
    torch.manual_seed(1)
    gen = SpectrogramGenerator(latent_dim=8, frames=16, n_mels=24, channels=(8, 4)).eval()
    gen.set_feature_stats(torch.linspace(-40, -60, 24), torch.full((24,), 8.0))
    return gen


VOICE = UnitSpec(index=1, relative=True)


def test_batched_grid_equals_one_run_at_a_time(tiny_adapter, generator):
    settings = setting_grid([2, 4], [0.1], [0.1, 0.001], ["max", "min"])
    seeds = [0, 3]
    am = LatentActivationMaximizer(tiny_adapter, generator, VOICE, chunk_size=5)
    batched = am.search(settings, seeds)
    assert batched.features.shape == (8, 2, 16, 24)
    for s, setting in enumerate(settings):
        for k, seed in enumerate(seeds):
            alone = am.search([setting], [seed])
            assert torch.allclose(alone.params[0, 0], batched.params[s, k], atol=1e-5)
            assert torch.allclose(alone.activation[0, 0], batched.activation[s, k], atol=1e-4)
            assert int(alone.best_step[0, 0]) == int(batched.best_step[s, k])


def test_settings_differing_only_in_steps_share_one_optimisation(tiny_adapter, generator):
    settings = setting_grid([3, 1, 6], [0.1, 0.01], [0.01], ["max", "min"])
    tracks, track_of = LatentActivationMaximizer.tracks(settings)
    assert len(tracks) == 4 and all(t.steps == 6 for t in tracks)
    assert [tracks[i].lr for i in track_of] == [s.lr for s in settings]
    # the batch holds one row per track and seed, not per setting and seed
    am = LatentActivationMaximizer(tiny_adapter, generator, VOICE)
    sizes = []
    original = am.unit

    def counting(adapter, feats):
        sizes.append(feats.shape[0])
        return original(adapter, feats)

    am.unit = counting
    seeds = [0, 1]
    res = am.search(settings, seeds)
    assert max(sizes[:-1]) == len(tracks) * len(seeds)
    # a budget is a prefix: the best step never exceeds it, and a longer budget is never worse
    for s, setting in enumerate(settings):
        assert int(res.best_step[s].max()) <= setting.steps
    by_name = {s.name: res.objective[i] for i, s in enumerate(settings)}
    for s in settings:
        longer = by_name[s.name.replace(f"steps{s.steps}_", "steps6_")]
        assert (longer >= by_name[s.name] - 1e-6).all()


def test_max_and_min_move_the_unit_the_right_way(tiny_adapter, generator):
    am = LatentActivationMaximizer(tiny_adapter, generator, VOICE)
    seeds = list(range(6))
    start = unit_activations(tiny_adapter, VOICE, generator(am.init_params(seeds)))
    res = am.search(setting_grid([20], [0.1], [0.0], ["max", "min"]), seeds)
    assert (res.activation[0] > start + 0.01).all()
    assert (res.activation[1] < start - 0.003).all()  # the tiny random head saturates downwards
    # the returned activation is the unit on the returned features
    assert torch.allclose(unit_activations(tiny_adapter, VOICE, res.features[0]), res.activation[0], atol=1e-5)


def test_penalty_is_per_setting_and_budgets_are_respected(tiny_adapter, generator):
    am = LatentActivationMaximizer(tiny_adapter, generator, VOICE)
    settings = [AMSetting(15, 0.1, 10.0), AMSetting(15, 0.1, 0.0), AMSetting(4, 0.1, 0.0),
                AMSetting(0, 0.1, 0.0)]
    res = am.search(settings, [0, 1, 2, 3])
    norms = res.params.pow(2).sum(-1)  # (S, K)
    assert (norms[0] < norms[1]).all()  # the large penalty keeps z near the origin
    assert (res.best_step[2] <= 4).all() and (res.best_step[1] <= 15).all()
    assert torch.equal(res.params[3], am.init_params([0, 1, 2, 3]))  # zero steps: the start


def test_candidate_starts_pick_the_draw_furthest_in_each_direction(tiny_adapter, generator):
    seeds = [0, 1, 2]
    plain = LatentActivationMaximizer(tiny_adapter, generator, VOICE)
    am = LatentActivationMaximizer(tiny_adapter, generator, VOICE, init_candidates=6)
    cands = am.candidate_params(seeds, 6)
    assert cands.shape == (3, 6, 8)
    assert torch.equal(cands[:, 0], plain.init_params(seeds))  # the first draw is the plain start
    acts = unit_activations(tiny_adapter, VOICE, generator(cands.reshape(18, 8))).view(3, 6)
    starts = am.start_params(seeds, ["max", "min"])
    assert torch.equal(starts["max"], cands[torch.arange(3), acts.argmax(1)])
    assert torch.equal(starts["min"], cands[torch.arange(3), acts.argmin(1)])
    assert not torch.equal(starts["max"], starts["min"])
    # zero steps return the start of each direction; the search starts from them
    res = am.search([AMSetting(0, 0.1, 0.0, "max"), AMSetting(0, 0.1, 0.0, "min")], seeds)
    assert torch.equal(res.params[0], starts["max"]) and torch.equal(res.params[1], starts["min"])
    assert (res.activation[0] >= unit_activations(
        tiny_adapter, VOICE, generator(plain.init_params(seeds))) - 1e-5).all()
    with pytest.raises(ValueError, match="init_candidates"):
        LatentActivationMaximizer(tiny_adapter, generator, VOICE, init_candidates=0)
    with pytest.raises(ValueError, match="latent-space option"):
        InputActivationMaximizer(tiny_adapter, generator, VOICE, init_candidates=4)


def test_hidden_channel_can_be_maximised(tiny_adapter, generator):
    unit = UnitSpec(layer="embedding_model.blocks.0", index=2)
    am = LatentActivationMaximizer(tiny_adapter, generator, unit)
    start = unit_activations(tiny_adapter, unit, generator(am.init_params([0, 1])))
    res = am.search([AMSetting(10, 0.1, 0.0)], [0, 1])
    assert (res.activation[0] > start).all()
    with pytest.raises(ValueError, match="Unknown class"):
        UnitSpec(index="nope")(tiny_adapter, generator(torch.zeros(1, 8)))


def test_input_space_baseline_moves_the_unit(tiny_adapter, generator):
    am = InputActivationMaximizer(tiny_adapter, generator, VOICE, jitter=2, noise=0.05)
    seeds = [0, 1, 2]
    start = unit_activations(tiny_adapter, VOICE, generator.denormalize(am.init_params(seeds)))
    res = am.search([AMSetting(15, 0.1, 0.0, "max"), AMSetting(15, 0.1, 0.0, "min")], seeds)
    assert res.params.shape == (2, 3, 16, 24)
    assert (res.activation[0] > start + 0.01).all()
    assert (res.activation[1] <= start + 1e-5).all()  # judged untransformed: never worse than the start
    assert torch.allclose(unit_activations(tiny_adapter, VOICE, res.features[1]), res.activation[1], atol=1e-5)


def test_interrupted_search_resumes_to_the_same_result(tiny_adapter, generator, tmp_path):
    am = LatentActivationMaximizer(tiny_adapter, generator, VOICE)
    settings = setting_grid([10], [0.1, 0.01], [0.01], ["max", "min"])
    full = am.search(settings, [0, 1])
    state = str(tmp_path / "state.pt")

    def interrupt(step):
        if step == 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        am.search(settings, [0, 1], checkpoint_path=state, checkpoint_every=5, callback=interrupt)
    assert torch.load(state)["step"] == 5
    steps = []
    resumed = am.search(settings, [0, 1], checkpoint_path=state, checkpoint_every=5,
                        callback=steps.append)
    assert steps[0] == 5  # it continued, it did not start over
    assert torch.allclose(resumed.params, full.params, atol=1e-6)
    assert torch.equal(resumed.best_step, full.best_step)
    assert not os.path.exists(state)
    # a state of another search is ignored
    torch.save({"key": "other", "step": 3}, state)
    again = am.search(settings, [0, 1], checkpoint_path=state)
    assert torch.allclose(again.params, full.params, atol=1e-6)


def test_selection_rejects_runaway_settings(tiny_adapter, tmp_path):
    real_acts = torch.linspace(-3, 3, 200)
    real_feats = torch.randn(200, 16, 24) * 8 - 50
    torch.manual_seed(0)
    realistic = 2.7 + 0.2 * torch.randn(20)   # like the real top excerpts (2.4 .. 3)
    runaway = 40 + 5 * torch.randn(20)        # far larger than anything real
    low = -2.7 + 0.2 * torch.randn(20)
    settings = [AMSetting(10, 1.0, 0.0), AMSetting(10, 0.01, 0.1), AMSetting(10, 0.01, 0.1, "min")]
    feats = torch.randn(3, 20, 16, 24) * 8 - 50
    result = SearchResult(settings, list(range(20)), feats, torch.zeros(3, 20, 8),
                          torch.stack([runaway, realistic, low]), torch.zeros(3, 20),
                          torch.zeros(3, 20, dtype=torch.long))
    rows = rank_settings(result, real_feats, real_acts, n_reference=20, adapter=tiny_adapter,
                         layer="embedding_model")
    chosen = {r["direction"]: r["setting"] for r in rows if r["selected"]}
    assert chosen == {"max": settings[1].name, "min": settings[2].name}
    runaway_row = [r for r in rows if r["setting"] == settings[0].name][0]
    assert runaway_row["rank"] == 2 and runaway_row["act_mean"] > 30 and "fd_layer" in runaway_row
    write_table(rows, str(tmp_path / "t.md"))
    assert settings[1].name in (tmp_path / "t.md").read_text()


def test_search_brain_saves_settings_and_skips_finished_ones(tiny_adapter, generator, tmp_path):
    import speechbrain as sb

    settings = setting_grid([3], [0.1, 0.01], [0.01], ["max", "min"])
    am = LatentActivationMaximizer(tiny_adapter, generator, VOICE)
    calls = []
    search = am.search
    am.search = lambda todo, *a, **k: calls.append(len(todo)) or search(todo, *a, **k)
    data = sb.dataio.dataset.DynamicItemDataset({s.name: {"i": i} for i, s in enumerate(settings)})
    data.set_output_keys(["id"])
    for _ in range(2):
        brain = AMSearchBrain(modules=None, run_opts={"device": "cpu"}, maximizer=am,
                              settings={s.name: s for s in settings}, seeds=[0, 1],
                              results_folder=str(tmp_path))
        brain.evaluate(data, progressbar=False, test_loader_kwargs={"batch_size": 4})
    assert calls == [4]  # one batched job; the second evaluate found every setting done
    loaded = SearchResult.load(str(tmp_path), settings)
    assert torch.allclose(loaded.params, search(settings, [0, 1]).params, atol=1e-6)


def test_excerpts_from_features():
    feats = torch.arange(2 * 50 * 3, dtype=torch.float).reshape(2, 50, 3)
    x, starts = excerpts_from_features(feats, torch.tensor([1.0, 0.5]), 10, per_clip=3,
                                       return_starts=True)
    assert x.shape == (6, 10, 3) and starts.tolist() == [0, 20, 40, 0, 8, 15]
    assert torch.equal(x[4], feats[1, 8:18])
    with pytest.raises(ValueError, match="excerpt_frames"):
        excerpts_from_features(feats, torch.tensor([1.0, 0.1]), 10)


@pytest.mark.parametrize("channels_last", [False, True])
def test_folded_search_equals_the_networks_as_they_are(tiny_adapter, generator, channels_last):
    """The search's folded (channels-last) copies are the eval-mode networks:
    a short search agrees with the unfolded one."""
    settings = setting_grid([3], [0.1, 0.01], [0.01, 0.001], ["max", "min"])  # 8 tracks
    seeds = [0, 1, 2]
    fast = LatentActivationMaximizer(tiny_adapter, generator, VOICE,
                                     channels_last=channels_last).search(settings, seeds)
    plain = LatentActivationMaximizer(tiny_adapter, generator, VOICE,
                                      fold_batchnorm=False).search(settings, seeds)
    assert torch.allclose(fast.params, plain.params, atol=1e-4)
    assert torch.allclose(fast.activation, plain.activation, atol=1e-4)
    assert torch.equal(fast.best_step, plain.best_step)


def test_folded_copies_follow_the_networks(tiny_adapter, generator):
    am = LatentActivationMaximizer(tiny_adapter, generator, VOICE)
    setting = [AMSetting(2, 0.1, 0.01)]
    before = am.search(setting, [0])
    with torch.no_grad():  # the generator changes (e.g. trained further): new copies
        generator.upsample[0].weight.mul_(1.5)
    after = am.search(setting, [0])
    plain = LatentActivationMaximizer(tiny_adapter, generator, VOICE, fold_batchnorm=False)
    assert not torch.allclose(before.features, after.features)
    assert torch.allclose(after.features, plain.search(setting, [0]).features, atol=1e-5)
    assert am.generator is generator and am.adapter is tiny_adapter  # the originals are kept
