"""The genetic explainer: operators, determinism, batching, budget, and a planted answer."""

import math

import pytest
import torch

from speechbrain_xai.adapter import ClassifierAdapter
from speechbrain_xai.explainers import genetic as G

RATE = 16000


class BandDetector(torch.nn.Module):
    """A black box that says class 1 when there is energy at 1-2 kHz in the first quarter."""

    def forward(self, wavs):
        win = torch.hann_window(400, device=wavs.device)
        mag = torch.stft(wavs, 400, 160, window=win, return_complex=True).abs()  # (B, F, T)
        quarter = mag.shape[2] // 4
        energy = mag[:, 25:50, :quarter].pow(2).mean(dim=(1, 2))
        evidence = 2.0 * (torch.log(energy + 1e-6) - math.log(1e-2))
        return torch.stack([torch.zeros_like(evidence), evidence], dim=1)


def planted_clips(num=2):
    gen = torch.Generator().manual_seed(0)
    t = torch.arange(RATE) / RATE
    tone = torch.sin(2 * math.pi * 1500 * t) * (t < 0.22)
    return torch.stack([tone * (1 + 0.2 * i) + 0.05 * torch.randn(RATE, generator=gen)
                        for i in range(num)])


@pytest.fixture
def detector():
    return ClassifierAdapter.from_module(BandDetector(), sample_rate=RATE, class_names=["no", "yes"])


def small_ga(adapter, **kwargs):
    args = dict(n_time=4, n_bands=4, population_size=12, max_generations=8, max_evaluations=80,
                sparsity_weight=0.3, seed=0)
    args.update(kwargs)
    return G.GeneticExplainer(adapter, **args)


def test_operators_shapes_and_determinism():
    gen = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    pop = torch.rand(10, 7, generator=gen()) > 0.5
    fit = torch.arange(10.0)
    parents = G.tournament_selection(pop, fit, 6, gen())
    assert parents.shape == (6, 7) and torch.equal(parents, G.tournament_selection(pop, fit, 6, gen()))
    # a tournament over everyone always returns the fittest
    assert bool((G.tournament_selection(pop, fit, 4, gen(), size=50) == pop[9]).all())
    assert G.rank_selection(pop, fit, 5, gen()).shape == (5, 7)
    a, b = torch.zeros(4, 7, dtype=torch.bool), torch.ones(4, 7, dtype=torch.bool)
    assert torch.equal(G.uniform_crossover(a, b, gen(), rate=0.0), a)
    child = G.uniform_crossover(a, b, gen(), rate=1.0)
    assert child.any() and not child.all()
    one = G.one_point_crossover(a, b, gen(), rate=1.0)
    assert bool((one.int().diff(dim=1) >= 0).all())  # zeros then ones
    assert torch.equal(G.bit_flip_mutation(pop, gen(), rate=0.0), pop)
    assert torch.equal(G.bit_flip_mutation(pop, gen(), rate=1.0), ~pop)
    assert torch.equal(G.best_elitism(pop, fit, 2), pop[[9, 8]])


def test_finds_the_planted_component(detector):
    exp = small_ga(detector).explain(planted_clips(1))
    info = exp.details[0]
    # component 1 = first time segment x second mel band (about 0.6-1.8 kHz)
    assert info["genome"][1] == 1
    assert info["num_selected"] <= 4
    assert float(exp.probs_masked_in[0, 1]) > 0.9
    assert info["evaluations"] <= 80
    # the planted component ranks in the top two (the ranked prefixes keep it with its
    # neighbouring band, so the two are nearly collinear in the evaluated genomes)
    assert info["component_scores"][1] >= sorted(info["component_scores"])[-2]
    assert all(b >= a for a, b in zip(info["fitness_history"], info["fitness_history"][1:]))


def test_same_seed_same_explanation_and_batched_equals_unbatched(detector):
    wavs = planted_clips(2)
    ga = dict(seed=3, max_evaluations=40, prune=4)
    first = small_ga(detector, **ga).explain(wavs)
    again = small_ga(detector, **ga).explain(wavs)
    assert torch.equal(first.mask, again.mask)
    assert first.details == again.details
    for i in range(2):
        alone = small_ga(detector, chunk_size=5, **ga).explain(wavs[i:i + 1])
        assert torch.equal(alone.mask[0], first.mask[i])
        assert alone.details[0]["genome"] == first.details[i]["genome"]


def test_batched_equals_unbatched_on_a_speechbrain_classifier(tiny_adapter):
    torch.manual_seed(0)
    wavs = torch.randn(2, 8000) * 0.1
    ga = dict(n_time=3, n_bands=2, population_size=6, max_generations=3, max_evaluations=20,
              prune=4, seed=1)
    both = G.GeneticExplainer(tiny_adapter, **ga).explain(wavs, target=[0, 2])
    for i, t in enumerate([0, 2]):
        alone = G.GeneticExplainer(tiny_adapter, **ga).explain(wavs[i:i + 1], target=t)
        assert torch.equal(alone.mask[0], both.mask[i])


def test_budget_early_stop_and_deletion_term(detector):
    exp = small_ga(detector, max_evaluations=15, max_generations=50, prune=4).explain(planted_clips(1))
    assert exp.details[0]["evaluations"] <= 15
    exp = small_ga(detector, max_evaluations=1000, max_generations=50, patience=2).explain(planted_clips(1))
    info = exp.details[0]
    assert info["generations"] < 50  # stopped on the plateau
    # deletion term: two evaluations (kept and removed) per genome, still within budget; the
    # all-ones genome is the input (no evaluation), its complement (nothing kept) costs one
    exp = small_ga(detector, deletion_weight=1.0, max_evaluations=40).explain(planted_clips(1))
    info = exp.details[0]
    assert info["evaluations"] <= 40 and info["evaluations"] % 2 == 1


def test_fill_is_recorded_and_used_for_the_reported_probabilities(detector):
    wavs = planted_clips(1)
    exp = small_ga(detector, fill="mean", max_evaluations=30, prune=4).explain(wavs)
    assert exp.settings["fill"] == "mean"
    # the masked-out audio has the removed bins at the clip's mean magnitude, not silence
    zero = small_ga(detector, fill="zero", max_evaluations=30, prune=4).explain(wavs)
    assert exp.masked_out.abs().mean() > 0 and not torch.allclose(exp.masked_in, zero.masked_in)
    assert torch.allclose(exp.probs_masked_in, detector.probabilities(exp.masked_in), atol=1e-5)


def test_user_component_map_and_errors(detector):
    frames = detector.stft_config.num_frames(RATE)
    cmap = torch.zeros(frames, detector.stft_config.n_freq, dtype=torch.long)
    cmap[: frames // 4, 25:50] = 1
    exp = small_ga(detector, components="map", component_map=cmap, deletion_weight=0.0).explain(planted_clips(1))
    assert exp.details[0]["genome"] == [0, 1]
    with pytest.raises(ValueError, match="ClassifierAdapter"):
        G.GeneticExplainer(torch.nn.Linear(3, 2))
    with pytest.raises(ValueError, match="fill"):
        G.GeneticExplainer(detector, fill="pink")
    with pytest.raises(ValueError, match="components"):
        small_ga(detector, components="blobs").explain(planted_clips(1))


def test_lime_baseline_on_the_same_components(detector):
    from speechbrain_xai.explainers.lime_baseline import LimeExplainer

    lime = LimeExplainer(detector, n_time=4, n_bands=4, num_samples=120, batch_size=32,
                         num_selected=2, seed=0)
    exp = lime.explain(planted_clips(1))
    info = exp.details[0]
    assert info["evaluations"] == 120 and info["num_selected"] == 2
    assert info["genome"][1] == 1 and info["component_scores"][1] == max(info["component_scores"])
    again = lime.explain(planted_clips(1))
    assert again.details[0]["component_scores"] == info["component_scores"]


def test_ranked_init_is_deterministic_and_ranks_the_planted_component(detector):
    wavs = planted_clips(1)
    # the first generation (all-ones, each segment, each band) does not depend on the seed
    first = [small_ga(detector, seed=s, max_generations=1, prune=0).explain(wavs) for s in (0, 7)]
    assert first[0].details[0]["genome"] == first[1].details[0]["genome"]
    ga = small_ga(detector, max_generations=1, prune=0)
    search = G._ClipSearch(generator=torch.Generator(), log_odds={}, area=torch.full((16,), 1 / 16))
    first = ga._first_generation(search, 16)
    assert first.shape == (1 + 4 + 4, 16) and bool(first[0].all())
    # score the structured genomes by hand: kept with the planted component (segment 0,
    # band 1) the decision holds (log-odds +5), removed with it the decision goes (-5)
    for genome in first[1:]:
        planted = genome[1].item()
        search.log_odds[G._key(genome)] = 5.0 if planted else -5.0
        search.log_odds[G._key(~genome)] = -5.0 if planted else 5.0
    order = ga._first_order(search, 16)
    assert int(order[0]) == 1  # the only component in both the best segment and the best band
    prefixes = G._prefixes(order, [1, 4, 8])
    assert bool(prefixes[:, 1].all())  # in every prefix, the smallest included
    assert prefixes.sum(dim=1).tolist() == [1, 4, 8]


def test_trimming_drops_the_weakest_whole_segments(detector):
    # 4 segments x 4 bands; the first ranking scores segment 1 weakest, then 2
    ga = small_ga(detector, trim=2)
    search = G._ClipSearch(generator=torch.Generator(), log_odds={}, area=torch.full((16,), 1 / 16))
    search.segment_values = torch.tensor([3.0, -1.0, 0.5, 2.0], dtype=torch.float64)
    best = torch.zeros(16, dtype=torch.bool)
    best[[0, 1, 4, 6, 9]] = True  # segment 0: bands 0-1, segment 1: bands 0 and 2, segment 2: band 1
    search.best_genome = best
    rows = ga._trimmed(search, 16)
    assert rows.shape == (2, 16)
    assert rows[0].nonzero().flatten().tolist() == [0, 1, 9]  # without segment 1
    assert rows[1].nonzero().flatten().tolist() == [0, 1]  # without segments 1 and 2
    # never the last used segment; none with trim=0 or with a user map
    assert len(small_ga(detector, trim=9)._trimmed(search, 16)) == 2
    assert len(small_ga(detector, trim=0)._trimmed(search, 16)) == 0
    assert len(small_ga(detector, trim=2, components="map")._trimmed(search, 16)) == 0
    with pytest.raises(ValueError, match="trim"):
        small_ga(detector, trim=-1)
    # the first generation sets the segment values: the planted segment (0) scores best
    ga = small_ga(detector, trim=2, max_generations=1)
    fresh = G._ClipSearch(generator=torch.Generator(), log_odds={}, area=torch.full((16,), 1 / 16))
    for genome in ga._first_generation(fresh, 16)[1:]:
        fresh.log_odds[G._key(genome)] = 5.0 if genome[1] else -5.0
        fresh.log_odds[G._key(~genome)] = -5.0 if genome[1] else 5.0
    ga._first_order(fresh, 16)
    assert int(torch.argmax(fresh.segment_values)) == 0 and fresh.segment_values.shape == (4,)
    # end to end: the planted component is still found, within budget
    exp = small_ga(detector, trim=2).explain(planted_clips(1))
    assert exp.details[0]["genome"][1] == 1 and exp.details[0]["evaluations"] <= 80
    assert exp.settings["trim"] == 2


def test_generations_are_single_rounds_of_forward_passes(detector):
    # a batch of clips costs one model call per generation (chunks permitting),
    # not one per clip: the generations of all clips share their forward passes
    calls = []
    model = detector.model.module
    model.register_forward_hook(lambda *_: calls.append(1))
    exp = small_ga(detector, chunk_size=512).explain(planted_clips(3))
    generations = max(d["generations"] for d in exp.details)
    # one call for the input's probabilities, one per generation, one for the masked audio
    assert len(calls) == 1 + generations + 1


def test_fitness_scales_and_bad_settings(detector):
    for scale in G.FITNESS_SCALES:
        exp = small_ga(detector, fitness_scale=scale, max_evaluations=30, prune=4).explain(planted_clips(1))
        assert exp.settings["fitness_scale"] == scale
        assert exp.details[0]["genome"][1] == 1
    with pytest.raises(ValueError, match="fitness_scale"):
        small_ga(detector, fitness_scale="logit")
    with pytest.raises(ValueError, match="init"):
        small_ga(detector, init="greedy")
    with pytest.raises(ValueError, match="prefix_sizes"):
        small_ga(detector, prefix_sizes=(0.5, 1.5))
