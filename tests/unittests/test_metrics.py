"""Unit tests for speechbrain_xai.metrics, against analytically known values."""

import math

import numpy as np
import pytest
import torch

from speechbrain_xai import metrics as M


# ---------------------------------------------------------------------------
# Faithfulness metrics
# ---------------------------------------------------------------------------


@pytest.fixture
def two_examples():
    # Example 0: c = 0, p_c = 0.6, q_c = 0.8 (increase), q_out_c = 0.1, argmax q = 0.
    # Example 1: c = 2, p_c = 0.5, q_c = 0.2 (drop),     q_out_c = 0.4, argmax q = 1.
    p = torch.tensor([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
    q = torch.tensor([[0.8, 0.1, 0.1], [0.2, 0.6, 0.2]])
    q_out = torch.tensor([[0.1, 0.5, 0.4], [0.3, 0.3, 0.4]])
    c = torch.tensor([0, 2])
    return p, q, q_out, c


def test_faithfulness_hand_computed(two_examples):
    p, q, q_out, c = two_examples
    out = M.faithfulness_metrics(p, q, q_out, c)
    assert set(out) == {"AI", "AD", "AG", "FF", "Fid-In"}
    torch.testing.assert_close(out["AI"], torch.tensor([100.0, 0.0]))
    # AD: ex0 relu(0.6-0.8)=0; ex1 100*(0.5-0.2)/0.5 = 60
    torch.testing.assert_close(out["AD"], torch.tensor([0.0, 60.0]))
    # AG: ex0 100*(0.8-0.6)/(1-0.6) = 50; ex1 0
    torch.testing.assert_close(out["AG"], torch.tensor([50.0, 0.0]))
    # FF: 0.6-0.1 = 0.5; 0.5-0.4 = 0.1
    torch.testing.assert_close(out["FF"], torch.tensor([0.5, 0.1]))
    torch.testing.assert_close(out["Fid-In"], torch.tensor([1.0, 0.0]))
    summary = M.summarize(out)
    assert summary == pytest.approx(
        {"AI": 50.0, "AD": 30.0, "AG": 25.0, "FF": 0.3, "Fid-In": 0.5}
    )
    assert all(isinstance(v, float) for v in summary.values())


def test_faithfulness_with_mask_adds_sps_comp(two_examples):
    p, q, q_out, c = two_examples
    mask = torch.ones(2, 3, 4)
    out = M.faithfulness_metrics(p, q, q_out, c, mask=mask)
    torch.testing.assert_close(out["SPS"], torch.zeros(2))
    torch.testing.assert_close(out["COMP"], torch.full((2,), math.log(12)))


def test_average_gain_and_drop_guards():
    # p_c = 1 would divide by zero in AG; p_c = 0 in AD.
    p = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    q = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    c = torch.tensor([0, 0])
    ag = M.average_gain(p, q, c)
    ad = M.average_drop(p, q, c)
    assert torch.isfinite(ag).all() and torch.isfinite(ad).all()
    assert float(ag[0]) == 0.0 and float(ad[1]) == 0.0


def test_faithfulness_errors(two_examples):
    p, q, q_out, c = two_examples
    with pytest.raises(ValueError, match="softmax"):
        M.average_drop(p * 10, q, c)  # logits-like
    with pytest.raises(ValueError, match="NaN"):
        M.average_increase(torch.tensor([[float("nan"), 0.5]]), q[:1, :2], c[:1])
    with pytest.raises(ValueError, match="shape"):
        M.average_gain(p, q[:, :2], c)
    with pytest.raises(ValueError, match=r"\[B\]"):
        M.input_fidelity(q, torch.tensor([0]))
    with pytest.raises(ValueError, match="class indices"):
        M.input_fidelity(q, torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="integer"):
        M.input_fidelity(q, torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="one mask per example"):
        M.faithfulness_metrics(p, q, q_out, c, mask=torch.ones(3, 2, 2))


# ---------------------------------------------------------------------------
# Sparseness / complexity
# ---------------------------------------------------------------------------


def test_sparseness_gini_known_values():
    n = 20
    m = torch.zeros(4, 4, 5)
    m[0].view(-1)[7] = 0.3  # one-hot
    m[1] = 0.7  # constant
    # m[2] all zero
    m[3].view(-1)[:10] = 1.0  # half ones: Gini = 1/2
    sps = M.sparseness(m)
    torch.testing.assert_close(sps, torch.tensor([1 - 1 / n, 0.0, 0.0, 0.5]))
    assert not torch.isnan(sps).any()
    # |mask| is used: signs do not matter
    torch.testing.assert_close(M.sparseness(-m), sps)


def test_sparseness_matches_definition_random():
    torch.manual_seed(0)
    m = torch.rand(3, 6, 7)
    a = np.sort(m.flatten(1).numpy().astype(np.float64), axis=1)
    n = a.shape[1]
    i = np.arange(1, n + 1)
    expected = ((2 * i - n - 1) * a).sum(1) / (n * a.sum(1))
    np.testing.assert_allclose(M.sparseness(m).numpy(), expected, rtol=1e-5)


def test_complexity_known_values():
    m = torch.zeros(3, 4, 8)
    m[0] = 0.25  # uniform over 32
    m[1, 2, 3] = 1.0  # one-hot
    comp = M.complexity(m)
    torch.testing.assert_close(comp, torch.tensor([math.log(32), 0.0, 0.0]))
    # two equal bins -> log 2
    m2 = torch.zeros(1, 2, 2)
    m2[0, 0, 0] = m2[0, 1, 1] = 0.4
    torch.testing.assert_close(M.complexity(m2), torch.tensor([math.log(2)]))


def test_mask_errors():
    with pytest.raises(ValueError, match="unsqueeze"):
        M.sparseness(torch.ones(5))
    with pytest.raises(ValueError, match="NaN"):
        M.complexity(torch.tensor([[[float("nan")]]]))


def test_summarize_skips_nan():
    out = M.summarize({"a": torch.tensor([1.0, float("nan"), 3.0]), "b": torch.tensor([2.0])})
    assert out == {"a": 2.0, "b": 2.0}


# ---------------------------------------------------------------------------
# Deletion / insertion
# ---------------------------------------------------------------------------


def _kept_sum(importance):
    total = importance.sum(dim=(1, 2))
    return lambda masks: (masks * importance).sum(dim=(1, 2)) / total


def test_deletion_curve_decreasing_with_known_auc():
    # 10 bins with importance 10, 9, ..., 1 (scrambled positions), steps = 10:
    # after deleting the top i bins, the kept share is (sum of the 10-i smallest) / 55.
    perm = torch.tensor([3, 7, 0, 9, 1, 5, 2, 8, 4, 6])
    imp = torch.arange(10, 0, -1, dtype=torch.float32)[perm].view(1, 2, 5)
    curve = M.importance_curve(_kept_sum(imp), imp, steps=10, mode="deletion")
    expected = torch.tensor([[sum(range(1, 11 - i)) / 55 for i in range(11)]])
    torch.testing.assert_close(curve, expected)
    assert bool((curve[:, 1:] < curve[:, :-1]).all())
    expected_auc = np.trapezoid(expected[0].numpy(), dx=0.1) if hasattr(
        np, "trapezoid"
    ) else np.trapz(expected[0].numpy(), dx=0.1)
    auc = M.deletion_auc(_kept_sum(imp), imp, steps=10)
    torch.testing.assert_close(auc, torch.tensor([expected_auc], dtype=torch.float32))
    # by hand: 0.1 * (sum of inner points + (1 + 0)/2) = 0.1 * (165/55 + 0.5) = 0.35
    assert float(auc) == pytest.approx(0.35, abs=1e-6)

    ins = M.importance_curve(_kept_sum(imp), imp, steps=10, mode="insertion")
    torch.testing.assert_close(ins, 1 - expected)
    assert float(M.insertion_auc(_kept_sum(imp), imp, steps=10)) == pytest.approx(0.65)


def test_curve_batched_and_calls_once_per_step():
    imp = torch.rand(3, 4, 6)
    calls = []

    def predict(masks):
        calls.append(masks.shape)
        return masks.mean(dim=(1, 2))

    curve = M.importance_curve(predict, imp, steps=8)
    assert curve.shape == (3, 9)
    assert calls == [torch.Size([3, 4, 6])] * 9
    torch.testing.assert_close(curve[:, 0], torch.ones(3))
    torch.testing.assert_close(curve[:, -1], torch.zeros(3))
    # 24 bins, 8 steps: 3 bins per step, exactly linear
    torch.testing.assert_close(curve, torch.linspace(1, 0, 9).expand(3, 9))
    torch.testing.assert_close(M.curve_auc(curve), torch.full((3,), 0.5))


def test_ties_are_deterministic_index_order():
    imp = torch.tensor([[[0.0, 1.0, 1.0], [0.0, 1.0, 0.0]]])  # binary mask, ties
    seen = {"deletion": [], "insertion": []}
    for mode in seen:
        for _ in range(2):
            masks = []
            M.importance_curve(
                lambda m: masks.append(m.clone()) or m.sum(dim=(1, 2)), imp, 6, mode
            )
            seen[mode].append(torch.stack(masks))
        torch.testing.assert_close(seen[mode][0], seen[mode][1])
    deletion = seen["deletion"][0][:, 0].flatten(1)
    # ranking: ones in index order (1, 2, 4), then zeros in index order (0, 3, 5)
    expected_removed = [[], [1], [1, 2], [1, 2, 4], [0, 1, 2, 4], [0, 1, 2, 3, 4], list(range(6))]
    for step, removed in enumerate(expected_removed):
        want = torch.ones(6)
        want[removed] = 0.0
        torch.testing.assert_close(deletion[step], want)
        torch.testing.assert_close(seen["insertion"][0][step, 0].flatten(), 1 - want)


def test_curve_errors():
    imp = torch.rand(2, 3, 3)
    with pytest.raises(ValueError, match="mode"):
        M.importance_curve(lambda m: m.sum((1, 2)), imp, mode="bogus")
    with pytest.raises(ValueError, match=r"tensor \[B\]"):
        M.importance_curve(lambda m: m, imp)
    with pytest.raises(ValueError, match="S >= 2"):
        M.curve_auc(torch.ones(2, 1))


# ---------------------------------------------------------------------------
# ROC-AUC, oracle masks
# ---------------------------------------------------------------------------


def test_roc_auc_ties_perfect_and_degenerate():
    scores = torch.tensor(
        [
            [0.1, 0.4, 0.4, 0.8],  # ties between a pos and a neg: 3.5 / 4
            [0.9, 0.8, 0.2, 0.1],  # perfect
            [0.9, 0.8, 0.2, 0.1],  # perfectly wrong
            [0.5, 0.5, 0.5, 0.5],  # all tied -> 0.5
            [0.3, 0.2, 0.1, 0.0],  # one label class only -> NaN
        ]
    )
    labels = torch.tensor(
        [[0, 0, 1, 1], [1, 1, 0, 0], [0, 0, 1, 1], [1, 0, 1, 0], [1, 1, 1, 1]]
    )
    auc = M.roc_auc(scores, labels)
    torch.testing.assert_close(auc[:4], torch.tensor([0.875, 1.0, 0.0, 0.5]))
    assert torch.isnan(auc[4])


def test_roc_auc_matches_pairwise_definition():
    torch.manual_seed(1)
    scores = torch.randint(0, 5, (3, 4, 5)).float()  # many ties
    labels = torch.rand(3, 4, 5) > 0.5
    auc = M.roc_auc(scores, labels)
    for b in range(3):
        s, y = scores[b].flatten(), labels[b].flatten()
        pos, neg = s[y], s[~y]
        diff = pos[:, None] - neg[None, :]
        expected = ((diff > 0).float() + 0.5 * (diff == 0).float()).mean()
        assert float(auc[b]) == pytest.approx(float(expected), abs=1e-6)
    with pytest.raises(ValueError, match="binary"):
        M.roc_auc(scores, scores)


def test_ideal_ratio_mask_and_energy_precision_recall():
    t = torch.tensor([[[2.0, 0.0], [1.0, 1.0]]])
    i = torch.tensor([[[0.0, 1.0], [1.0, 3.0]]])
    # E_t = [4, 0, 1, 1], E_i = [0, 1, 1, 9]
    torch.testing.assert_close(
        M.ideal_ratio_mask(t, i), torch.tensor([[[1.0, 0.0], [0.5, 0.1]]])
    )
    torch.testing.assert_close(
        M.ideal_ratio_mask(t, i, binary=True), torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    )
    masks = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]])
    prec, rec = M.mask_energy_precision_recall(masks, t, i)
    torch.testing.assert_close(prec, torch.tensor([5 / 6]))  # (4+1) / (4+0+1+1)
    torch.testing.assert_close(rec, torch.tensor([5 / 6]))  # 5 / 6
    masks = torch.tensor([[[1.0, 1.0], [0.0, 0.0]]])
    prec, rec = M.mask_energy_precision_recall(masks, t, i)
    torch.testing.assert_close(prec, torch.tensor([0.8]))
    torch.testing.assert_close(rec, torch.tensor([4 / 6]))
    # all-zero mask: 0, not NaN
    prec, rec = M.mask_energy_precision_recall(torch.zeros(1, 2, 2), t, i)
    assert float(prec) == 0.0 and float(rec) == 0.0
    # complex STFTs accepted
    torch.testing.assert_close(M.ideal_ratio_mask(t * 1j, i + 0j), M.ideal_ratio_mask(t, i))
    with pytest.raises(ValueError, match="must match"):
        M.mask_energy_precision_recall(torch.ones(1, 2, 3), t, i)


def test_oracle_agreement():
    t = torch.tensor([[[3.0, 2.0, 0.0, 0.0]], [[3.0, 2.0, 0.0, 0.0]]])
    i = torch.ones(2, 1, 4)
    masks = torch.tensor([[[0.9, 0.6, 0.4, 0.1]], [[0.9, 0.1, 0.7, 0.2]]])
    out = M.oracle_agreement(masks, t, i)
    assert set(out) == {"oracle_auc", "energy_precision", "energy_recall", "oracle_iou",
                        "time_share", "time_share_chance"}
    # oracle = [1, 1, 0, 0]
    torch.testing.assert_close(out["oracle_auc"], torch.tensor([1.0, 0.5]))
    torch.testing.assert_close(out["oracle_iou"], torch.tensor([1.0, 1 / 3]))
    # E_t = [9, 4, 0, 0], E_i = 1
    p0 = (0.9 * 9 + 0.6 * 4) / (0.9 * 10 + 0.6 * 5 + 0.4 + 0.1)
    r0 = (0.9 * 9 + 0.6 * 4) / 13
    torch.testing.assert_close(out["energy_precision"][0], torch.tensor(p0))
    torch.testing.assert_close(out["energy_recall"][0], torch.tensor(r0))


# ---------------------------------------------------------------------------
# SI-SDR
# ---------------------------------------------------------------------------


def _orthogonal_pair(n=1000, seed=0):
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(n, generator=g, dtype=torch.float64)
    s = s - s.mean()
    noise = torch.randn(n, generator=g, dtype=torch.float64)
    noise = noise - noise.mean()
    noise = noise - (noise @ s) / (s @ s) * s  # zero-mean and orthogonal to s
    return s, 0.3 * noise


def test_si_sdr_scaled_copy_is_large():
    s, _ = _orthogonal_pair()
    ref = s.float()[None]
    val = M.si_sdr(3.0 * ref, ref)
    assert float(val) > 100.0
    # an offset does not matter either (zero-mean first)
    assert float(M.si_sdr(0.5 * ref + 2.0, ref)) > 100.0


def test_si_sdr_orthogonal_noise_analytic():
    s, n = _orthogonal_pair()
    expected = 10 * math.log10(float(s @ s) / float(n @ n))
    val = M.si_sdr((s + n)[None], s[None])
    assert float(val) == pytest.approx(expected, abs=1e-6)
    # scale invariance
    assert float(M.si_sdr(5.0 * (s + n)[None], s[None])) == pytest.approx(expected, abs=1e-6)
    assert M.si_sdr((s + n)[None].float(), s[None].float()).dtype == torch.float32


def test_si_sdr_lengths_ignore_padding():
    s1, n1 = _orthogonal_pair(600, seed=1)
    s2, n2 = _orthogonal_pair(1000, seed=2)
    est = torch.zeros(2, 1000, dtype=torch.float64)
    ref = torch.zeros(2, 1000, dtype=torch.float64)
    est[0, :600], ref[0, :600] = s1 + n1, s1
    est[0, 600:] = torch.randn(400, dtype=torch.float64) * 10  # garbage padding
    ref[0, 600:] = 7.0
    est[1], ref[1] = s2 + n2, s2
    val = M.si_sdr(est, ref, lengths=torch.tensor([0.6, 1.0]))
    expected = [
        10 * math.log10(float(s1 @ s1) / float(n1 @ n1)),
        10 * math.log10(float(s2 @ s2) / float(n2 @ n2)),
    ]
    torch.testing.assert_close(val, torch.tensor(expected, dtype=torch.float64))
    unrestricted = M.si_sdr(est, ref)
    assert abs(float(unrestricted[0]) - expected[0]) > 1.0
    with pytest.raises(ValueError, match="relative lengths"):
        M.si_sdr(est, ref, lengths=torch.tensor([600.0, 1000.0]))
    with pytest.raises(ValueError, match=r"\[B, N\]"):
        M.si_sdr(est[0], ref[0])


# ---------------------------------------------------------------------------
# Fréchet distance
# ---------------------------------------------------------------------------


def test_gaussian_frechet_1d():
    for mu1, s1, mu2, s2 in [(0.0, 1.0, 0.0, 1.0), (1.0, 2.0, -0.5, 0.5), (3.0, 0.1, 3.0, 4.0)]:
        d = M.gaussian_frechet_distance(mu1, s1**2, mu2, s2**2)
        assert d == pytest.approx((mu1 - mu2) ** 2 + (s1 - s2) ** 2, abs=1e-12)
        assert isinstance(d, float)


def test_gaussian_frechet_diagonal():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, -1.0])
    v1, v2 = np.array([1.0, 4.0, 9.0]), np.array([0.25, 4.0, 1.0])
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(v1) - np.sqrt(v2)) ** 2).sum()
    d = M.gaussian_frechet_distance(mu1, np.diag(v1), mu2, torch.diag(torch.tensor(v2)))
    assert d == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="covariance matrix"):
        M.gaussian_frechet_distance(mu1, v1, mu2, v2)


def test_frechet_matches_scipy_sqrtm():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 5))
    x = rng.normal(size=(400, 5)) @ a + 1.0
    y = rng.normal(size=(300, 5)) @ (a + 0.3 * np.eye(5)) - 0.5
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = scipy_linalg.sqrtm(s1 @ s2)
    expected = float(
        ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean).real
    )
    assert M.frechet_distance(x, y) == pytest.approx(expected, rel=1e-8)
    assert M.frechet_distance(torch.tensor(x, dtype=torch.float32), y) == pytest.approx(
        expected, rel=1e-4
    )


def test_frechet_identical_and_symmetric():
    torch.manual_seed(0)
    x = torch.randn(200, 8)
    y = torch.randn(150, 8) * 1.5 + 0.2
    assert M.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)
    assert M.frechet_distance(x, y) == pytest.approx(M.frechet_distance(y, x), rel=1e-9)
    assert M.frechet_distance(x, y) > 0.5


def test_frechet_1d_input_equals_gaussian_fit():
    x = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    y = np.array([10.0, 12.0, 14.0])
    expected = (x.mean() - y.mean()) ** 2 + (x.std(ddof=1) - y.std(ddof=1)) ** 2
    assert M.frechet_distance(x, y) == pytest.approx(expected, rel=1e-12)
    assert M.frechet_distance(torch.tensor(x), y[:, None]) == pytest.approx(expected, rel=1e-12)


def test_frechet_high_dimensional_real_and_finite():
    torch.manual_seed(0)
    x = torch.randn(1500, 1000)
    y = torch.randn(1500, 1000) * 0.9 + 0.05
    d = M.frechet_distance(x, y)
    assert isinstance(d, float) and not isinstance(d, complex)
    assert math.isfinite(d) and d >= 0.0
    # means differ by 0.05 in 1000 dims -> at least 2.5 from the means alone
    assert d > 2.0


def test_frechet_errors():
    x = torch.randn(10, 20)
    with pytest.raises(ValueError, match="rank-deficient") as info:
        M.frechet_distance(x, torch.randn(50, 20))
    assert "fewer dimensions" in str(info.value) and "min_samples_per_dim=False" in str(info.value)
    d = M.frechet_distance(x, torch.randn(50, 20), min_samples_per_dim=False)
    assert math.isfinite(d) and d >= 0.0
    bad = torch.randn(30, 3)
    bad[4, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        M.frechet_distance(bad, torch.randn(30, 3))
    with pytest.raises(ValueError, match="at least 2"):
        M.frechet_distance(torch.randn(1, 3), torch.randn(30, 3))
    with pytest.raises(ValueError, match="different dimensions"):
        M.frechet_distance(torch.randn(30, 3), torch.randn(30, 4))
    with pytest.raises(ValueError, match="NaN"):
        M.gaussian_frechet_distance(0.0, float("nan"), 0.0, 1.0)


# ---------------------------------------------------------------------------
# Devices
# ---------------------------------------------------------------------------


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_outputs_stay_on_device(two_examples):
    p, q, q_out, c = (t.cuda() for t in two_examples)
    out = M.faithfulness_metrics(p, q, q_out, c, mask=torch.rand(2, 3, 4, device="cuda"))
    assert all(v.is_cuda for v in out.values())
    agree = M.oracle_agreement(
        torch.rand(2, 3, 4, device="cuda"),
        torch.rand(2, 3, 4, device="cuda"),
        torch.rand(2, 3, 4, device="cuda"),
    )
    assert all(v.is_cuda for v in agree.values())
    assert M.si_sdr(torch.randn(2, 100, device="cuda"), torch.randn(2, 100, device="cuda")).is_cuda
    imp = torch.rand(2, 3, 4, device="cuda")
    assert M.deletion_auc(lambda m: m.mean(dim=(1, 2)), imp).is_cuda
    assert math.isfinite(M.frechet_distance(torch.randn(50, 4, device="cuda"), torch.randn(40, 4)))


def test_mask_time_share_against_a_voice_in_the_middle_frames():
    from speechbrain_xai.metrics import mask_time_share

    torch.manual_seed(0)
    target = torch.zeros(3, 10, 6)
    target[:, 3:7] = torch.rand(3, 4, 6) + 0.5  # the source sounds in frames 3-6
    target[:, 8] = 1e-3  # 60 dB down: inactive
    inside, uniform, outside = torch.zeros(3, 10, 6), torch.ones(3, 10, 6), torch.ones(3, 10, 6)
    inside[:, 4:6, :2] = 1.0
    outside[:, 3:7] = 0.0
    share, chance = mask_time_share(torch.stack([inside[0], uniform[1], outside[2]]), target)
    assert torch.allclose(chance, torch.full((3,), 0.4))
    assert torch.allclose(share, torch.tensor([1.0, 0.4, 0.0]))
    # a silent target has no active frame; an all-zero mask shares nothing
    share, chance = mask_time_share(torch.zeros(1, 10, 6), torch.zeros(1, 10, 6))
    assert share.item() == 0.0 and chance.item() == 0.0
