"""Training-seed ensembles: mean, spread and significance of an agreement figure.

An autoencoder's agreement with a class scheme has two uncertainties:

* the **training spread**: retraining with another seed (initial weights,
  shuffles, sampling noise) moves the figure; over N seeds it is the
  standard deviation s (ddof = 1), and the mean over seeds has the standard
  error s / sqrt(N);
* the **test-sample error**: the bootstrap standard deviation b over the
  test galaxies (:func:`tfelg.analysis.matching.bootstrap_metrics`). The N
  members are scored on the same test galaxies, so averaging does not
  shrink it; the ensemble's b is the root mean square of the members' b.

A deterministic representation (PCA, line ratios) has no training spread
(s = 0) and only b.

A difference of means between a model and a reference (PCA) is called
significant when it exceeds ``n_sigma`` (2) times

    sigma = sqrt(s_model^2 / N_model + b_model^2 + s_ref^2 / N_ref + b_ref^2).

Both are scored on the same test galaxies, so their test-sample errors are
positively correlated and the paired difference varies less than this
sigma says: the test is conservative (it may miss a real difference, and
it does not call a difference real that is not). With one seed the training
spread is unknown and no significance is claimed (mark ``?``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

DEFAULT_N_SIGMA = 2.0
#: Distance between the trainer seeds of two members of a seed ensemble: the
#: per-epoch shuffle seeds (``seed + epoch``) of two members stay apart for any
#: run shorter than this many epochs.
SEED_STRIDE = 1000


def ensemble_seeds(base_seed: int, n: int) -> list[int]:
    """The trainer seeds of an N-member ensemble: ``base_seed + i * SEED_STRIDE``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"seeds must be an integer >= 1, got {n!r}")
    return [int(base_seed) + i * SEED_STRIDE for i in range(n)]


def aggregate(values: Sequence[float], bootstrap_errors: Sequence[float], *, deterministic=False):
    """Mean, seed spread and errors of one figure over an ensemble's members.

    Args:
      values: the figure of each member (one per seed).
      bootstrap_errors: each member's bootstrap std over the test galaxies.
      deterministic: the representation has no training seed (PCA, line
        ratios): the seed spread is 0 even for one member.

    Returns:
      dict with ``mean``, ``std`` (over seeds, ddof = 1; NaN for one
      non-deterministic member), ``sem`` (std / sqrt(n)), ``boot`` (RMS of
      the bootstrap errors), ``error`` (sqrt(sem^2 + boot^2): the error of
      the mean), ``n``, ``deterministic``.
    """
    values = np.asarray(values, np.float64)
    boots = np.asarray(bootstrap_errors, np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"values must be a non-empty 1-D sequence, got shape {values.shape}")
    if boots.shape != values.shape:
        raise ValueError(
            f"one bootstrap error per value expected: {boots.size} errors for {values.size} values"
        )
    if not np.all(np.isfinite(values)) or not np.all(np.isfinite(boots)) or np.any(boots < 0):
        raise ValueError(f"values and errors must be finite (errors >= 0): {values}, {boots}")
    n = values.size
    if deterministic:
        std = 0.0
    else:
        std = float(np.std(values, ddof=1)) if n > 1 else math.nan
    sem = std / math.sqrt(n)
    boot = float(np.sqrt(np.mean(boots**2)))
    return {
        "mean": float(values.mean()),
        "std": std,
        "sem": sem,
        "boot": boot,
        "error": math.sqrt(sem**2 + boot**2),
        "n": int(n),
        "deterministic": bool(deterministic),
    }


def compare(model: dict, reference: dict, n_sigma: float = DEFAULT_N_SIGMA) -> dict:
    """Is ``model``'s mean different from ``reference``'s? (outputs of :func:`aggregate`)

    Returns:
      dict with ``difference`` (model - reference), ``sigma`` (combined
      error, module docstring), ``significant`` (True/False, None when a
      training spread is unknown), ``mark``: ``+`` significantly higher,
      ``−`` significantly lower, empty when not significant, ``?`` unknown.
    """
    difference = model["mean"] - reference["mean"]
    sigma = math.sqrt(model["error"] ** 2 + reference["error"] ** 2)
    if math.isnan(sigma):
        return {"difference": difference, "sigma": sigma, "significant": None, "mark": "?"}
    significant = abs(difference) > n_sigma * sigma
    mark = ("+" if difference > 0 else "−") if significant else ""
    return {"difference": difference, "sigma": sigma, "significant": significant, "mark": mark}


def format_cell(stats: dict, mark: str = "") -> str:
    """``0.512 ± 0.034 [0.011]``: mean ± seed std [bootstrap error], then the mark.

    A deterministic representation shows ``0.512 [0.011]``.
    """
    text = f"{stats['mean']:.3f}"
    if not stats["deterministic"]:
        std = stats["std"]
        text += " ± –" if math.isnan(std) else f" ± {std:.3f}"
    text += f" [{stats['boot']:.3f}]"
    return f"{text} {mark}".rstrip()
