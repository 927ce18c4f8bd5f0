"""Metrics for explanations of audio classifiers: pure, batched functions.

Every explainer and every baseline in this package is scored with the
functions below, so that one number means one thing across methods.

Conventions
-----------
* **Masks** are ``[B, T, F]`` real tensors in ``[0, 1]`` on the STFT grid of
  the input (see :mod:`speechbrain_xai.stft`); 1 keeps a time-frequency bin.
* **Probabilities** are softmax outputs ``[B, C]``:

  - ``p_input``: on the input ``X``;
  - ``p_masked_in``: on the masked-in input ``M * X`` (called ``q`` below);
  - ``p_masked_out``: on the masked-out input ``(1 - M) * X`` (``q_out``).

  ``target`` is a LongTensor ``[B]`` of class indices ``c`` (normally the
  prediction on the input, ``argmax p``).
* Results are **per example**, tensors ``[B]`` on the device of the inputs;
  callers average (:func:`summarize` does it for tables). The only exceptions
  are the Fréchet distances, which compare two *sets* and return a float.
* No function calls a model, except through a ``predict_fn`` callable passed
  by the caller (:func:`importance_curve`).
* Bad inputs (wrong shapes, NaNs, logits where probabilities are expected,
  ...) raise ``ValueError`` with a message that says how to fix them.

Faithfulness metrics, as in the L-MAC paper (all ``[B]``):

* AI (average increase) ``= 100 * 1[p_c < q_c]``;
* AD (average drop) ``= 100 * relu(p_c - q_c) / p_c``;
* AG (average gain) ``= 100 * relu(q_c - p_c) / (1 - p_c)``;
* FF (faithfulness on spectra) ``= p_c - q_out_c``;
* Fid-In (input fidelity) ``= 1[argmax q = c]``;
* SPS (sparseness) = Gini index of ``|M|``; COMP (complexity) = entropy of
  ``|M| / sum |M|``.

Example
-------
>>> import torch
>>> p = torch.tensor([[0.7, 0.3], [0.2, 0.8]])
>>> q = torch.tensor([[0.9, 0.1], [0.6, 0.4]])
>>> q_out = torch.tensor([[0.5, 0.5], [0.5, 0.5]])
>>> c = torch.tensor([0, 1])
>>> out = faithfulness_metrics(p, q, q_out, c, mask=torch.ones(2, 3, 4))
>>> sorted(out)
['AD', 'AG', 'AI', 'COMP', 'FF', 'Fid-In', 'SPS']
>>> {k: round(v, 3) for k, v in summarize(out).items() if k in ("AI", "AD", "Fid-In")}
{'AI': 50.0, 'AD': 25.0, 'Fid-In': 0.5}
"""

from __future__ import annotations

from typing import Callable, Dict, Optional, Tuple, Union

import numpy as np
import torch

__all__ = [
    "average_increase",
    "average_drop",
    "average_gain",
    "faithfulness_on_spectra",
    "input_fidelity",
    "sparseness",
    "complexity",
    "faithfulness_metrics",
    "summarize",
    "importance_curve",
    "curve_auc",
    "deletion_auc",
    "insertion_auc",
    "roc_auc",
    "mask_energy_precision_recall",
    "ideal_ratio_mask",
    "oracle_agreement",
    "active_frames",
    "mask_time_share",
    "si_sdr",
    "frechet_distance",
    "gaussian_frechet_distance",
]

#: Guard for divisions by quantities that may be exactly zero.
EPS = 1e-12
#: Tolerance when checking that probabilities lie in [0, 1].
_PROB_TOL = 1e-4

ArrayLike = Union[torch.Tensor, np.ndarray]


# ---------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------


def _check_finite(x: torch.Tensor, name: str) -> None:
    if x.is_floating_point() or x.is_complex():
        if not bool(torch.isfinite(x).all()):
            raise ValueError(
                f"{name} contains NaN or infinite values; check the model outputs "
                "or the explainer that produced it, and remove such examples."
            )


def _check_probs(p: torch.Tensor, name: str) -> None:
    if not isinstance(p, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor [B, C] of probabilities.")
    if p.dim() != 2:
        raise ValueError(
            f"{name} must be softmax probabilities of shape [B, C], got shape "
            f"{tuple(p.shape)}; for a single example use p.unsqueeze(0)."
        )
    if not p.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got {p.dtype}.")
    _check_finite(p, name)
    if p.numel() and (float(p.min()) < -_PROB_TOL or float(p.max()) > 1 + _PROB_TOL):
        raise ValueError(
            f"{name} has values outside [0, 1]; these look like logits. Apply "
            "torch.softmax(logits, dim=-1) (once) before computing the metrics."
        )


def _check_target(target: torch.Tensor, p: torch.Tensor) -> None:
    if not isinstance(target, torch.Tensor) or target.dtype not in (
        torch.int8,
        torch.int16,
        torch.int32,
        torch.int64,
        torch.uint8,
    ):
        raise ValueError(
            "target must be an integer tensor [B] of class indices, e.g. "
            "torch.tensor([3, 0]) or p_input.argmax(-1)."
        )
    if target.dim() != 1 or target.shape[0] != p.shape[0]:
        raise ValueError(
            f"target must have shape [B] = [{p.shape[0]}], got {tuple(target.shape)}; "
            "pass one class index per example."
        )
    if target.numel() and (int(target.min()) < 0 or int(target.max()) >= p.shape[1]):
        raise ValueError(
            f"target holds class indices outside [0, {p.shape[1] - 1}]; the "
            "probabilities have only that many classes."
        )


def _check_same_shape(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(
            f"{name_a} has shape {tuple(a.shape)} but {name_b} has shape "
            f"{tuple(b.shape)}; they must match (no broadcasting), e.g. both [B, T, F]."
        )


def _check_batched(x: torch.Tensor, name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor [B, T, F].")
    if x.dim() < 2:
        raise ValueError(
            f"{name} must be batched, [B, T, F] (or [B, ...]), got shape "
            f"{tuple(x.shape)}; for a single example use x.unsqueeze(0)."
        )
    _check_finite(x, name)


def _gather(p: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return p.gather(1, target.to(p.device).long().unsqueeze(1)).squeeze(1)


def _float(x: torch.Tensor) -> torch.Tensor:
    return x if x.is_floating_point() else x.float()


# ---------------------------------------------------------------------------
# Faithfulness metrics (L-MAC paper)
# ---------------------------------------------------------------------------


def _target_pair(p_input: torch.Tensor, other: torch.Tensor, target: torch.Tensor,
                 other_name: str) -> Tuple[torch.Tensor, torch.Tensor]:
    """Checked target-class probabilities ``(p_c, other_c)``, each ``[B]``."""
    _check_probs(p_input, "p_input")
    _check_probs(other, other_name)
    _check_same_shape(p_input, other, "p_input", other_name)
    _check_target(target, p_input)
    return _gather(p_input, target), _gather(other, target)


def average_increase(
    p_input: torch.Tensor, p_masked_in: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """Average increase (AI): 100 if masking in raises the target probability.

    ``AI = 100 * 1[p_c < q_c]`` per example (higher is better), from the
    probabilities ``[B, C]`` on the input (``p_input``) and on the masked-in
    input ``M * X`` (``p_masked_in``) and the class indices ``target`` ``[B]``.
    Returns ``[B]``, each value 0 or 100.

    >>> p = torch.tensor([[0.6, 0.4], [0.6, 0.4]])
    >>> q = torch.tensor([[0.7, 0.3], [0.5, 0.5]])
    >>> average_increase(p, q, torch.tensor([0, 0]))
    tensor([100.,   0.])
    """
    p_c, q_c = _target_pair(p_input, p_masked_in, target, "p_masked_in")
    return 100.0 * (p_c < q_c).to(p_input.dtype)


def average_drop(
    p_input: torch.Tensor, p_masked_in: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """Average drop (AD): relative loss of target probability when masking in.

    ``AD = 100 * relu(p_c - q_c) / p_c`` per example in ``[0, 100]`` (lower
    is better; the denominator is clamped to a tiny positive value), with the
    arguments of :func:`average_increase` (``p_input``, ``p_masked_in``,
    ``target``).

    Note: SpeechBrain's ESC50 ``interpret`` recipe applies softmax twice (on
    outputs that are already probabilities) before this formula. Here it is
    computed on probabilities once, so values are not directly comparable
    with the table of that recipe.

    >>> p = torch.tensor([[0.8, 0.2], [0.5, 0.5]])
    >>> q = torch.tensor([[0.4, 0.6], [0.9, 0.1]])
    >>> average_drop(p, q, torch.tensor([0, 0]))
    tensor([50.,  0.])
    """
    p_c, q_c = _target_pair(p_input, p_masked_in, target, "p_masked_in")
    return 100.0 * torch.relu(p_c - q_c) / p_c.clamp_min(EPS)


def average_gain(
    p_input: torch.Tensor, p_masked_in: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """Average gain (AG): relative gain of target probability when masking in.

    ``AG = 100 * relu(q_c - p_c) / (1 - p_c)`` per example in ``[0, 100]``
    (higher is better; the denominator is clamped, so ``p_c = 1`` gives 0),
    with the arguments of :func:`average_increase`.

    >>> p = torch.tensor([[0.6, 0.4], [0.5, 0.5]])
    >>> q = torch.tensor([[0.8, 0.2], [0.4, 0.6]])
    >>> average_gain(p, q, torch.tensor([0, 0]))
    tensor([50.,  0.])
    """
    p_c, q_c = _target_pair(p_input, p_masked_in, target, "p_masked_in")
    return 100.0 * torch.relu(q_c - p_c) / (1.0 - p_c).clamp_min(EPS)


def faithfulness_on_spectra(
    p_input: torch.Tensor, p_masked_out: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """Faithfulness on spectra (FF): probability lost when masking *out*.

    ``FF = p_c - q_out_c`` per example in ``[-1, 1]``, with ``q_out``
    (``p_masked_out``, ``[B, C]``) the probabilities on ``(1 - M) * X``:
    higher is better, removing what the mask keeps should hurt.

    >>> faithfulness_on_spectra(torch.tensor([[0.75, 0.25]]), torch.tensor([[0.25, 0.75]]),
    ...                         torch.tensor([0]))
    tensor([0.5000])
    """
    p_c, q_out_c = _target_pair(p_input, p_masked_out, target, "p_masked_out")
    return p_c - q_out_c


def input_fidelity(p_masked_in: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Input fidelity (Fid-In): whether the masked-in input keeps the class.

    ``Fid-In = 1[argmax q = c]`` as a float per example.

    Arguments
    ---------
    p_masked_in : torch.Tensor
        Softmax probabilities on the masked-in input, ``[B, C]``.
    target : torch.Tensor
        Class indices ``[B]`` (long).

    Returns
    -------
    torch.Tensor
        ``[B]``, each value 0.0 or 1.0.

    Example
    -------
    >>> q = torch.tensor([[0.1, 0.9], [0.6, 0.4]])
    >>> input_fidelity(q, torch.tensor([1, 1]))
    tensor([1., 0.])
    """
    _check_probs(p_masked_in, "p_masked_in")
    _check_target(target, p_masked_in)
    pred = p_masked_in.argmax(dim=1)
    return (pred == target.to(pred.device).long()).to(p_masked_in.dtype)


def sparseness(mask: torch.Tensor) -> torch.Tensor:
    """Sparseness (SPS): Gini index of ``|mask|`` flattened per example.

    With ``a_1 <= ... <= a_n`` the sorted absolute values,
    ``G = sum_i (2i - n - 1) a_i / (n * sum_i a_i)`` (Quantus ``Sparseness``).
    It is 0 for a constant mask and ``1 - 1/n`` for a one-hot mask (higher
    is sparser). An all-zero mask gives 0, not NaN. Unlike Quantus, no
    ``1e-7`` is added to the values, so the analytic values above are exact.

    Arguments
    ---------
    mask : torch.Tensor
        Masks ``[B, T, F]`` (any ``[B, ...]`` is flattened per example).

    Returns
    -------
    torch.Tensor
        ``[B]``, values in ``[0, 1 - 1/n]``.

    Example
    -------
    >>> m = torch.zeros(3, 2, 2)
    >>> m[0, 0, 0] = 1.0
    >>> m[1] = 0.5
    >>> sparseness(m)
    tensor([0.7500, 0.0000, 0.0000])
    """
    _check_batched(mask, "mask")
    a = _float(mask).abs().flatten(1)
    n = a.shape[1]
    a, _ = torch.sort(a, dim=1)
    i = torch.arange(1, n + 1, device=a.device, dtype=a.dtype)
    num = ((2 * i - n - 1) * a).sum(dim=1)
    total = a.sum(dim=1)
    gini = num / (n * total).clamp_min(EPS)
    return torch.where(total > 0, gini, torch.zeros_like(gini))


def complexity(mask: torch.Tensor) -> torch.Tensor:
    """Complexity (COMP): entropy of ``|mask| / sum |mask|`` per example.

    Natural logarithm, with ``0 * log 0 = 0`` (Quantus ``Complexity``). A
    uniform mask over ``n`` bins gives ``log n`` (the maximum), a one-hot mask
    gives 0 (lower is simpler). An all-zero mask has no distribution; it is
    reported as 0 (nothing is highlighted, so nothing is complex). ``mask``
    is ``[B, T, F]`` (any ``[B, ...]``, flattened per example); the result is
    ``[B]``, in ``[0, log n]``.

    >>> m = torch.ones(2, 2, 4)
    >>> m[1] = 0.0
    >>> m[1, 0, 0] = 1.0
    >>> complexity(m)
    tensor([2.0794, 0.0000])
    """
    _check_batched(mask, "mask")
    a = _float(mask).abs().flatten(1)
    total = a.sum(dim=1, keepdim=True)
    prob = a / total.clamp_min(EPS)
    plogp = torch.where(prob > 0, prob * torch.log(prob.clamp_min(EPS)), torch.zeros_like(prob))
    ent = -plogp.sum(dim=1) + 0.0  # + 0.0 turns -0.0 into 0.0
    return torch.where(total.squeeze(1) > 0, ent, torch.zeros_like(ent))


def faithfulness_metrics(
    p_input: torch.Tensor,
    p_masked_in: torch.Tensor,
    p_masked_out: torch.Tensor,
    target: torch.Tensor,
    mask: Optional[torch.Tensor] = None,
) -> Dict[str, torch.Tensor]:
    """All faithfulness metrics of the L-MAC paper at once.

    Arguments
    ---------
    p_input : torch.Tensor
        Softmax probabilities on the input, ``[B, C]``.
    p_masked_in : torch.Tensor
        Softmax probabilities on ``M * X``, ``[B, C]``.
    p_masked_out : torch.Tensor
        Softmax probabilities on ``(1 - M) * X``, ``[B, C]``.
    target : torch.Tensor
        Class indices ``[B]`` (long).
    mask : torch.Tensor, optional
        Masks ``[B, T, F]``; when given, ``"SPS"`` and ``"COMP"`` are added.

    Returns
    -------
    dict
        ``{"AI", "AD", "AG", "FF", "Fid-In"[, "SPS", "COMP"]}`` -> ``[B]``.

    Example
    -------
    >>> p = torch.tensor([[0.6, 0.4]])
    >>> q = torch.tensor([[0.8, 0.2]])
    >>> q_out = torch.tensor([[0.3, 0.7]])
    >>> out = faithfulness_metrics(p, q, q_out, torch.tensor([0]))
    >>> {k: round(float(v), 4) for k, v in out.items()}
    {'AI': 100.0, 'AD': 0.0, 'AG': 50.0, 'FF': 0.3, 'Fid-In': 1.0}
    """
    out = {
        "AI": average_increase(p_input, p_masked_in, target),
        "AD": average_drop(p_input, p_masked_in, target),
        "AG": average_gain(p_input, p_masked_in, target),
        "FF": faithfulness_on_spectra(p_input, p_masked_out, target),
        "Fid-In": input_fidelity(p_masked_in, target),
    }
    if mask is not None:
        _check_batched(mask, "mask")
        if mask.shape[0] != p_input.shape[0]:
            raise ValueError(
                f"mask has batch size {mask.shape[0]} but the probabilities have "
                f"{p_input.shape[0]}; pass one mask per example."
            )
        out["SPS"] = sparseness(mask)
        out["COMP"] = complexity(mask)
    return out


def summarize(metrics: Dict[str, torch.Tensor]) -> Dict[str, float]:
    """Batch means of per-example metrics, as python floats (for tables).

    NaN entries (examples where a metric is undefined, e.g. :func:`roc_auc`
    of an example with one label class) are left out of the mean; a metric
    that is NaN for every example stays NaN.

    Arguments
    ---------
    metrics : dict
        Name -> tensor ``[B]`` (or a scalar tensor / number).

    Returns
    -------
    dict
        Name -> mean over the batch.

    Example
    -------
    >>> summarize({"AI": torch.tensor([100.0, 0.0]), "AUC": torch.tensor([1.0, float("nan")])})
    {'AI': 50.0, 'AUC': 1.0}
    """
    if not isinstance(metrics, dict):
        raise ValueError("summarize expects a dict of name -> tensor [B].")
    out = {}
    for name, value in metrics.items():
        v = torch.as_tensor(value).detach()
        v = _float(v).to(torch.float64).flatten()
        if v.numel() == 0:
            raise ValueError(f"Metric {name!r} is empty; nothing to average.")
        out[name] = float(torch.nanmean(v))
    return out


# ---------------------------------------------------------------------------
# Deletion / insertion curves
# ---------------------------------------------------------------------------


def importance_curve(
    predict_fn: Callable[[torch.Tensor], torch.Tensor],
    importance: torch.Tensor,
    steps: int = 10,
    mode: str = "deletion",
) -> torch.Tensor:
    """Deletion or insertion curve of an importance map.

    Bins are ranked per example by a stable descending sort of the flattened
    importance, so ties keep index order and binary masks give deterministic
    curves. At step ``i`` (``i = 0..steps``) the ``round(i * n / steps)``
    top-ranked bins of the ``n`` are

    * ``"deletion"``: set to 0 in an all-ones mask (curve should fall fast);
    * ``"insertion"``: set to 1 in an all-zeros mask (curve should rise fast).

    ``predict_fn`` is called once per step, batched over ``B``.

    Arguments
    ---------
    predict_fn : callable
        ``masks [B, T, F] -> [B]``: the target-class probability of each
        example with its input masked by the given mask.
    importance : torch.Tensor
        Importance maps ``[B, T, F]`` (higher = more important).
    steps : int
        Number of steps; the curve has ``steps + 1`` points at fractions
        ``0, 1/steps, ..., 1``.
    mode : str
        ``"deletion"`` or ``"insertion"``.

    Returns
    -------
    torch.Tensor
        ``[B, steps + 1]`` values of ``predict_fn``.

    Example
    -------
    >>> imp = torch.tensor([[[4.0, 3.0], [2.0, 1.0]]])
    >>> kept_sum = lambda m: (m * imp).sum(dim=(1, 2)) / imp.sum()
    >>> importance_curve(kept_sum, imp, steps=4)
    tensor([[1.0000, 0.6000, 0.3000, 0.1000, 0.0000]])
    >>> importance_curve(kept_sum, imp, steps=4, mode="insertion")
    tensor([[0.0000, 0.4000, 0.7000, 0.9000, 1.0000]])
    """
    if mode not in ("deletion", "insertion"):
        raise ValueError(f"mode must be 'deletion' or 'insertion', got {mode!r}.")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}.")
    if not callable(predict_fn):
        raise ValueError("predict_fn must be callable: masks [B, T, F] -> probabilities [B].")
    _check_batched(importance, "importance")
    if importance.is_complex():
        raise ValueError("importance must be real; pass e.g. its magnitude.")
    batch = importance.shape[0]
    flat = importance.detach().flatten(1)
    n = flat.shape[1]
    order = torch.sort(flat, dim=1, descending=True, stable=True).indices
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(n, device=order.device).expand(batch, n))
    rank = rank.view(importance.shape)
    mask_dtype = importance.dtype if importance.is_floating_point() else torch.float32

    values = []
    for i in range(steps + 1):
        count = (2 * i * n + steps) // (2 * steps)  # round(i * n / steps), half up
        top = rank < count
        keep = ~top if mode == "deletion" else top
        out = predict_fn(keep.to(mask_dtype))
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (batch,):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(
                f"predict_fn must return a tensor [B] = [{batch}] (the target-class "
                f"probability per example), got {shape}; e.g. gather the target "
                "column of the softmax output."
            )
        values.append(out)
    curve = torch.stack(values, dim=1)
    _check_finite(curve, "predict_fn output")
    return curve


def curve_auc(curve: torch.Tensor) -> torch.Tensor:
    """Areas ``[B]`` under curves ``[B, S]`` (``S >= 2``) sampled at evenly
    spaced ``x`` in ``[0, 1]``: the trapezoid rule with ``dx = 1 / (S - 1)``.

    >>> curve_auc(torch.tensor([[1.0, 0.5, 0.0], [1.0, 1.0, 1.0]]))
    tensor([0.5000, 1.0000])
    """
    if not isinstance(curve, torch.Tensor) or curve.dim() != 2 or curve.shape[1] < 2:
        shape = tuple(curve.shape) if isinstance(curve, torch.Tensor) else type(curve).__name__
        raise ValueError(
            f"curve must be a tensor [B, S] with S >= 2 points, got {shape}; "
            "for a single curve use curve.unsqueeze(0)."
        )
    _check_finite(curve, "curve")
    curve = _float(curve)
    return torch.trapezoid(curve, dx=1.0 / (curve.shape[1] - 1), dim=1)


def deletion_auc(
    predict_fn: Callable[[torch.Tensor], torch.Tensor],
    importance: torch.Tensor,
    steps: int = 10,
) -> torch.Tensor:
    """Area under the deletion curve (lower is better).

    Arguments
    ---------
    predict_fn : callable
        ``masks [B, T, F] -> [B]`` target-class probabilities.
    importance : torch.Tensor
        Importance maps ``[B, T, F]``.
    steps : int
        Number of steps of the curve.

    Returns
    -------
    torch.Tensor
        ``[B]``.

    Example
    -------
    >>> imp = torch.ones(1, 2, 5)
    >>> deletion_auc(lambda m: m.mean(dim=(1, 2)), imp, steps=10)
    tensor([0.5000])
    """
    return curve_auc(importance_curve(predict_fn, importance, steps, mode="deletion"))


def insertion_auc(
    predict_fn: Callable[[torch.Tensor], torch.Tensor],
    importance: torch.Tensor,
    steps: int = 10,
) -> torch.Tensor:
    """Area ``[B]`` under the insertion curve (higher is better): the most
    important bins of ``importance`` ``[B, T, F]`` are put back first, in
    ``steps`` steps, into an empty input scored by ``predict_fn`` (as for
    :func:`deletion_auc`).

    >>> insertion_auc(lambda m: m.amax(dim=(1, 2)), torch.ones(1, 2, 5), steps=10)
    tensor([0.9500])
    """
    return curve_auc(importance_curve(predict_fn, importance, steps, mode="insertion"))


# ---------------------------------------------------------------------------
# Agreement with ground truth (oracle masks, separated sources)
# ---------------------------------------------------------------------------


def roc_auc(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-example ROC-AUC of scores against binary labels.

    Rank-based (Mann-Whitney U) with average ranks for tied scores, so a tie
    between a positive and a negative counts one half. Both inputs are
    flattened per example. An example whose labels are all 0 or all 1 has no
    ROC curve: its value is NaN (:func:`summarize` skips NaNs).

    Arguments
    ---------
    scores : torch.Tensor
        ``[B, ...]`` real scores (e.g. a mask).
    labels : torch.Tensor
        ``[B, ...]`` binary labels (bool, or values in {0, 1}), same shape.

    Returns
    -------
    torch.Tensor
        ``[B]`` in ``[0, 1]`` (or NaN), floating dtype of ``scores``.

    Example
    -------
    >>> s = torch.tensor([[0.1, 0.4, 0.4, 0.8], [0.2, 0.1, 0.9, 0.3]])
    >>> y = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]])
    >>> roc_auc(s, y)
    tensor([0.8750,    nan])
    """
    _check_batched(scores, "scores")
    if not isinstance(labels, torch.Tensor):
        raise ValueError("labels must be a torch.Tensor of 0/1 values.")
    _check_same_shape(scores, labels, "scores", "labels")
    _check_finite(labels, "labels")
    if scores.is_complex():
        raise ValueError("scores must be real.")
    if labels.dtype != torch.bool:
        if not bool(((labels == 0) | (labels == 1)).all()):
            raise ValueError(
                "labels must be binary (bool or 0/1); threshold them first, "
                "e.g. labels > 0.5."
            )
    out_dtype = scores.dtype if scores.is_floating_point() else torch.get_default_dtype()
    s = scores.detach().flatten(1).to(torch.float64)
    y = labels.flatten(1).to(s.device).bool()
    sorted_s = torch.sort(s, dim=1).values
    lo = torch.searchsorted(sorted_s, s, right=False).to(torch.float64)
    hi = torch.searchsorted(sorted_s, s, right=True).to(torch.float64)
    ranks = (lo + 1.0 + hi) / 2.0  # 1-based average rank of each tie group
    n_pos = y.sum(dim=1).to(torch.float64)
    n_neg = y.shape[1] - n_pos
    rank_sum = (ranks * y).sum(dim=1)
    u = rank_sum - n_pos * (n_pos + 1) / 2.0
    denom = n_pos * n_neg
    auc = torch.where(denom > 0, u / denom.clamp_min(1.0), torch.full_like(u, float("nan")))
    return auc.to(out_dtype)


def _energies(
    target_mag: torch.Tensor, interference_mag: torch.Tensor
) -> Tuple[torch.Tensor, torch.Tensor]:
    for name, x in (("target_mag", target_mag), ("interference_mag", interference_mag)):
        _check_batched(x, name)
    _check_same_shape(target_mag, interference_mag, "target_mag", "interference_mag")
    e_t = _float(target_mag.abs()) ** 2
    e_i = _float(interference_mag.abs()) ** 2
    return e_t, e_i


def ideal_ratio_mask(
    target_mag: torch.Tensor, interference_mag: torch.Tensor, binary: bool = False
) -> torch.Tensor:
    """Oracle mask of a source: ideal ratio (or binary) mask on the STFT grid.

    With energies ``E_t = |target|^2`` and ``E_i = |interference|^2``, the
    ratio mask is ``E_t / (E_t + E_i)`` (0 where both are 0) and the binary
    mask is ``1[E_t > E_i]``. Complex STFTs are accepted (their magnitude is
    used).

    Arguments
    ---------
    target_mag : torch.Tensor
        ``[B, T, F]`` STFT magnitudes of the target source.
    interference_mag : torch.Tensor
        ``[B, T, F]`` STFT magnitudes of everything else in the mixture.
    binary : bool
        Return the ideal binary mask instead of the ratio mask.

    Returns
    -------
    torch.Tensor
        ``[B, T, F]`` mask in ``[0, 1]``.

    Example
    -------
    >>> t = torch.tensor([[[2.0, 0.0, 1.0, 1.0]]])
    >>> i = torch.tensor([[[0.0, 1.0, 1.0, 3.0]]])
    >>> ideal_ratio_mask(t, i)
    tensor([[[1.0000, 0.0000, 0.5000, 0.1000]]])
    >>> ideal_ratio_mask(t, i, binary=True)
    tensor([[[1., 0., 0., 0.]]])
    """
    e_t, e_i = _energies(target_mag, interference_mag)
    if binary:
        return (e_t > e_i).to(e_t.dtype)
    return e_t / (e_t + e_i).clamp_min(EPS)


def mask_energy_precision_recall(
    mask: torch.Tensor, target_mag: torch.Tensor, interference_mag: torch.Tensor
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Energy precision and recall of a mask against a known target source.

    With ``E_t = |target|^2`` and ``E_i = |interference|^2``:

    * precision ``= sum(M E_t) / sum(M (E_t + E_i))``: the share of the
      masked-in energy that belongs to the target;
    * recall ``= sum(M E_t) / sum(E_t)``: the share of the target's energy
      the mask keeps.

    Denominators are clamped to a tiny positive value, so an all-zero mask
    (or a silent target) gives 0 rather than NaN.

    Arguments
    ---------
    mask : torch.Tensor
        ``[B, T, F]`` mask in ``[0, 1]``.
    target_mag : torch.Tensor
        ``[B, T, F]`` STFT magnitudes of the target source.
    interference_mag : torch.Tensor
        ``[B, T, F]`` STFT magnitudes of the rest of the mixture.

    Returns
    -------
    tuple of torch.Tensor
        ``(precision [B], recall [B])``.

    Example
    -------
    >>> t = torch.tensor([[[2.0, 0.0, 1.0, 1.0]]])
    >>> i = torch.tensor([[[0.0, 1.0, 1.0, 3.0]]])
    >>> m = torch.tensor([[[1.0, 1.0, 0.0, 0.0]]])
    >>> mask_energy_precision_recall(m, t, i)
    (tensor([0.8000]), tensor([0.6667]))
    """
    e_t, e_i = _energies(target_mag, interference_mag)
    _check_batched(mask, "mask")
    _check_same_shape(mask, target_mag, "mask", "target_mag")
    m = _float(mask).to(e_t.device)
    kept_t = (m * e_t).flatten(1).sum(dim=1)
    kept_all = (m * (e_t + e_i)).flatten(1).sum(dim=1)
    total_t = e_t.flatten(1).sum(dim=1)
    return kept_t / kept_all.clamp_min(EPS), kept_t / total_t.clamp_min(EPS)


def active_frames(target_mag: torch.Tensor, active_db: float = -30.0) -> torch.Tensor:
    """The frames ``[B, T]`` (bool) where a source sounds: its energy in the
    frame is within ``active_db`` of its loudest frame (none for a silent
    source). The frames :func:`mask_time_share` counts as the source's.

    >>> active_frames(torch.tensor([[[1.0, 1.0], [0.0, 0.01], [2.0, 0.0]]]))
    tensor([[ True, False,  True]])
    """
    _check_batched(target_mag, "target_mag")
    frame_energy = (_float(target_mag.abs()) ** 2).sum(dim=2)  # [B, T]
    loudest = frame_energy.amax(dim=1, keepdim=True)
    return (frame_energy > loudest * 10.0 ** (active_db / 10.0)) & (loudest > 0)


def mask_time_share(
    mask: torch.Tensor, target_mag: torch.Tensor, active_db: float = -30.0
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Share of a mask's mass in the frames where the target source sounds.

    A frame is active when the target's energy in it is within ``active_db``
    of the clip's loudest target frame. Returns ``(share, chance)``, both
    ``[B]``: ``share = sum_t active_t sum_f M[t, f] / sum M`` (0 for an
    all-zero mask) and ``chance``, the share of active frames, which any
    mask uniform over time scores.

    Arguments
    ---------
    mask : torch.Tensor
        ``[B, T, F]`` mask in ``[0, 1]``.
    target_mag : torch.Tensor
        ``[B, T, F]`` STFT magnitudes of the target source.
    active_db : float
        Frame activity threshold relative to the loudest frame (negative dB).

    Example
    -------
    >>> t = torch.tensor([[[1.0, 1.0], [0.0, 0.0], [2.0, 0.0], [0.0, 0.0]]])
    >>> m = torch.tensor([[[1.0, 1.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0]]])
    >>> mask_time_share(m, t)
    (tensor([0.6667]), tensor([0.5000]))
    """
    _check_batched(mask, "mask")
    _check_same_shape(mask, target_mag, "mask", "target_mag")
    active = active_frames(target_mag, active_db)  # [B, T]
    mass = _float(mask).to(active.device).sum(dim=2)  # [B, T]
    share = (mass * active).sum(dim=1) / mass.sum(dim=1).clamp_min(EPS)
    chance = active.to(mass.dtype).mean(dim=1)
    return share, chance


def oracle_agreement(
    mask: torch.Tensor, target_mag: torch.Tensor, interference_mag: torch.Tensor
) -> Dict[str, torch.Tensor]:
    """Agreement of an explanation mask with the oracle mask of the target.

    Keys (all ``[B]``):

    * ``"oracle_auc"``: :func:`roc_auc` of the mask against the binary oracle
      ``1[E_t > E_i]`` (NaN where the oracle is all 0 or all 1);
    * ``"energy_precision"``, ``"energy_recall"``: see
      :func:`mask_energy_precision_recall`;
    * ``"oracle_iou"``: intersection over union of ``mask > 0.5`` with the
      binary oracle; 1 when both are empty (perfect agreement on nothing).
    * ``"time_share"``, ``"time_share_chance"``: see :func:`mask_time_share`
      (the mask's mass in the target's active frames, and what a mask uniform
      over time gets).

    The arguments are those of :func:`mask_energy_precision_recall`: the mask
    ``[B, T, F]`` and the STFT magnitudes ``[B, T, F]`` of the target source
    (``target_mag``) and of the rest of the mixture (``interference_mag``).

    >>> t = torch.tensor([[[3.0, 2.0, 0.0, 0.0]]])
    >>> i = torch.tensor([[[1.0, 1.0, 1.0, 1.0]]])
    >>> m = torch.tensor([[[0.9, 0.6, 0.4, 0.1]]])
    >>> out = oracle_agreement(m, t, i)
    >>> float(out["oracle_auc"]), float(out["oracle_iou"])
    (1.0, 1.0)
    """
    oracle = ideal_ratio_mask(target_mag, interference_mag, binary=True)
    precision, recall = mask_energy_precision_recall(mask, target_mag, interference_mag)
    hard = (mask.to(oracle.device) > 0.5).flatten(1)
    truth = oracle.bool().flatten(1)
    inter = (hard & truth).sum(dim=1).to(oracle.dtype)
    union = (hard | truth).sum(dim=1).to(oracle.dtype)
    share, chance = mask_time_share(mask, target_mag)
    iou = torch.where(union > 0, inter / union.clamp_min(1.0), torch.ones_like(union))
    return {
        "oracle_auc": roc_auc(_float(mask), oracle),
        "energy_precision": precision,
        "energy_recall": recall,
        "oracle_iou": iou,
        "time_share": share,
        "time_share_chance": chance,
    }


def si_sdr(
    estimate: torch.Tensor,
    reference: torch.Tensor,
    lengths: Optional[torch.Tensor] = None,
    eps: float = 1e-8,
) -> torch.Tensor:
    """Scale-invariant signal-to-distortion ratio (SI-SDR) in dB.

    Both signals are made zero-mean over their valid samples; then
    ``s_t = (<e, s> / |s|^2) s`` and ``SI-SDR = 10 log10(|s_t|^2 / |e - s_t|^2)``
    with ``eps`` added to numerator and denominator. Computed in float64 and
    returned in the dtype of ``estimate``. A perfect (scaled) estimate gives
    a large finite value (~100 dB or more, limited by ``eps``).

    Arguments
    ---------
    estimate : torch.Tensor
        ``[B, N]`` estimated waveforms (e.g. the masked-in audio).
    reference : torch.Tensor
        ``[B, N]`` reference waveforms (e.g. the true source).
    lengths : torch.Tensor, optional
        ``[B]`` relative lengths in ``(0, 1]`` (SpeechBrain's ``wav_lens``);
        only the first ``round(lengths * N)`` samples of each example count.
    eps : float
        Guard added to energies.

    Returns
    -------
    torch.Tensor
        ``[B]`` SI-SDR in dB.

    Example
    -------
    >>> s = torch.tensor([[1.0, -1.0, 1.0, -1.0]])
    >>> n = torch.tensor([[0.5, 0.5, -0.5, -0.5]])
    >>> si_sdr(s + n, s)  # 10 log10(4 / 1)
    tensor([6.0206])
    """
    for name, x in (("estimate", estimate), ("reference", reference)):
        if not isinstance(x, torch.Tensor) or x.dim() != 2:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(
                f"{name} must be waveforms [B, N], got {shape}; squeeze a channel "
                "dimension or use x.unsqueeze(0) for a single waveform."
            )
        if x.is_complex():
            raise ValueError(f"{name} must be a real waveform.")
        _check_finite(x, name)
    _check_same_shape(estimate, reference, "estimate", "reference")
    batch, n = estimate.shape
    if n == 0:
        raise ValueError("Waveforms are empty (N = 0).")
    out_dtype = estimate.dtype if estimate.is_floating_point() else torch.get_default_dtype()
    e = estimate.to(torch.float64)
    s = reference.to(device=e.device, dtype=torch.float64)
    if lengths is None:
        valid = torch.ones_like(e)
    else:
        lengths = torch.as_tensor(lengths)
        if lengths.shape != (batch,):
            raise ValueError(
                f"lengths must have shape [B] = [{batch}], got {tuple(lengths.shape)}."
            )
        lengths = lengths.to(device=e.device, dtype=torch.float64)
        _check_finite(lengths, "lengths")
        if bool(((lengths <= 0) | (lengths > 1)).any()):
            raise ValueError(
                "lengths are relative lengths in (0, 1] (SpeechBrain's wav_lens), "
                "not sample counts; divide sample counts by N."
            )
        n_valid = torch.round(lengths * n).clamp(1, n)
        valid = (torch.arange(n, device=e.device, dtype=torch.float64) < n_valid[:, None])
        valid = valid.to(torch.float64)
    count = valid.sum(dim=1, keepdim=True)
    e = (e - (e * valid).sum(dim=1, keepdim=True) / count) * valid
    s = (s - (s * valid).sum(dim=1, keepdim=True) / count) * valid
    alpha = (e * s).sum(dim=1, keepdim=True) / ((s * s).sum(dim=1, keepdim=True) + eps)
    proj = alpha * s
    noise = e - proj
    ratio = ((proj * proj).sum(dim=1) + eps) / ((noise * noise).sum(dim=1) + eps)
    return (10.0 * torch.log10(ratio)).to(out_dtype)


# ---------------------------------------------------------------------------
# Fréchet distance between activation sets
# ---------------------------------------------------------------------------


def _as_float64(x: ArrayLike, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        t = x.detach()
    elif isinstance(x, (np.ndarray, list, tuple, float, int)):
        t = torch.as_tensor(np.asarray(x))
    else:
        raise ValueError(f"{name} must be a torch tensor or a numpy array.")
    if t.is_complex():
        raise ValueError(f"{name} must be real.")
    t = t.to(torch.float64)
    if not bool(torch.isfinite(t).all()):
        raise ValueError(
            f"{name} contains NaN or infinite values; drop those samples (e.g. "
            "x[torch.isfinite(x).all(dim=1)]) before computing the Fréchet distance."
        )
    return t


def _psd_sqrt(sigma: torch.Tensor) -> torch.Tensor:
    """Symmetric PSD square root through eigh (negative eigenvalues -> 0)."""
    w, v = torch.linalg.eigh(sigma)
    return (v * w.clamp_min(0.0).sqrt()) @ v.T


def _frechet_from_stats(
    mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor
) -> float:
    sigma1 = (sigma1 + sigma1.T) / 2
    sigma2 = (sigma2 + sigma2.T) / 2
    diff = mu1 - mu2
    root1 = _psd_sqrt(sigma1)
    inner = root1 @ sigma2 @ root1
    inner = (inner + inner.T) / 2
    tr_covmean = torch.linalg.eigvalsh(inner).clamp_min(0.0).sqrt().sum()
    dist = diff @ diff + torch.trace(sigma1) + torch.trace(sigma2) - 2.0 * tr_covmean
    return max(float(dist), 0.0)


def gaussian_frechet_distance(
    mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike
) -> float:
    """Fréchet distance between two Gaussians given by mean and covariance.

    ``d^2 = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1^1/2 S2 S1^1/2)^1/2)``,
    computed in float64 with square roots from a symmetric eigen-decomposition
    (tiny negative eigenvalues clamped to 0), so the result is never complex.
    ``sigma`` is a *covariance* (a variance in 1-D, not a standard deviation):
    two 1-D Gaussians with standard deviations ``s1, s2`` are at
    ``(mu1 - mu2)^2 + (s1 - s2)^2``.

    Arguments
    ---------
    mu1 : torch.Tensor or numpy.ndarray
        Mean ``[D]`` (or a scalar when ``D = 1``).
    sigma1 : torch.Tensor or numpy.ndarray
        Covariance ``[D, D]`` (or a scalar variance when ``D = 1``).
    mu2 : torch.Tensor or numpy.ndarray
        Mean of the second Gaussian.
    sigma2 : torch.Tensor or numpy.ndarray
        Covariance of the second Gaussian.

    Returns
    -------
    float
        The squared Fréchet distance, ``>= 0``.

    Example
    -------
    >>> round(gaussian_frechet_distance(0.0, 4.0, 1.0, 1.0), 6)  # (0-1)^2 + (2-1)^2
    2.0
    """
    mus, sigmas = [], []
    for k, (mu, sigma) in enumerate(((mu1, sigma1), (mu2, sigma2)), start=1):
        mu = _as_float64(mu, f"mu{k}").reshape(-1)
        sigma = _as_float64(sigma, f"sigma{k}")
        if sigma.dim() == 0 or sigma.numel() == 1:
            sigma = sigma.reshape(1, 1)
        if sigma.dim() != 2 or sigma.shape != (mu.numel(), mu.numel()):
            raise ValueError(
                f"sigma{k} must be a covariance matrix [D, D] matching mu{k} [D] "
                f"(D = {mu.numel()}), got shape {tuple(sigma.shape)}; for a "
                "diagonal Gaussian pass torch.diag(variances)."
            )
        mus.append(mu)
        sigmas.append(sigma)
    if mus[0].numel() != mus[1].numel():
        raise ValueError(
            f"The Gaussians have different dimensions ({mus[0].numel()} vs "
            f"{mus[1].numel()}); compare activations of the same layer."
        )
    device = mus[0].device
    return _frechet_from_stats(
        mus[0], sigmas[0].to(device), mus[1].to(device), sigmas[1].to(device)
    )


def frechet_distance(x: ArrayLike, y: ArrayLike, min_samples_per_dim: bool = True) -> float:
    """Fréchet distance between Gaussian fits of two activation sets.

    Means and unbiased covariances of ``x`` and ``y`` are computed in float64
    and passed to :func:`gaussian_frechet_distance` (symmetric eigen route:
    no complex numbers, even for ill-conditioned covariances). Works from one
    neuron (``[N]``, as in the GAN-based activation-maximisation paper's
    selection step) to thousands of dimensions (FID-style).

    Arguments
    ---------
    x : torch.Tensor or numpy.ndarray
        Activations ``[N, D]`` (or ``[N]`` for ``D = 1``).
    y : torch.Tensor or numpy.ndarray
        Activations ``[M, D]`` (or ``[M]``).
    min_samples_per_dim : bool
        If True (default), refuse a set with fewer than ``D + 1`` samples,
        whose covariance would be rank-deficient and the distance unreliable.

    Returns the squared Fréchet distance (a float ``>= 0``).

    >>> x = torch.tensor([-1.0, 1.0, -1.0, 1.0])   # mean 0, variance 4/3
    >>> y = x + 3.0
    >>> round(frechet_distance(x, y), 6)
    9.0
    """
    sets = []
    for name, a in (("x", x), ("y", y)):
        t = _as_float64(a, name)
        if t.dim() == 1:
            t = t[:, None]
        if t.dim() != 2:
            raise ValueError(
                f"{name} must be activations [N, D] (or [N] for one neuron), got "
                f"shape {tuple(t.shape)}; flatten the feature dimensions first."
            )
        if t.shape[0] < 2:
            raise ValueError(
                f"{name} has {t.shape[0]} sample(s); a covariance needs at least 2. "
                "Collect more samples."
            )
        sets.append(t)
    x, y = sets
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"x and y have different dimensions ({x.shape[1]} vs {y.shape[1]}); "
            "compare activations of the same layer/neurons."
        )
    dim = x.shape[1]
    if min_samples_per_dim:
        for name, t in (("x", x), ("y", y)):
            if t.shape[0] < dim + 1:
                raise ValueError(
                    f"{name} has {t.shape[0]} samples for {dim} dimensions: its "
                    "covariance would be rank-deficient and the Fréchet distance "
                    f"unreliable. Use fewer dimensions (e.g. pool or project the "
                    f"activations) or at least {dim + 1} samples, or pass "
                    "min_samples_per_dim=False to compute it anyway."
                )
    y = y.to(x.device)
    mu_x, mu_y = x.mean(dim=0), y.mean(dim=0)
    xc, yc = x - mu_x, y - mu_y
    sigma_x = xc.T @ xc / (x.shape[0] - 1)
    sigma_y = yc.T @ yc / (y.shape[0] - 1)
    return _frechet_from_stats(mu_x, sigma_x, mu_y, sigma_y)
