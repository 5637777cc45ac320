"""Supervised ceilings: how well can the classes be told apart from an input at all?

An unsupervised representation that reaches an ARI of 0.5 against WHAN may
be poor, or may be as good as the input allows: if the classes overlap in
the input itself, no clustering of any representation of it can separate
them. A *supervised* classifier trained on the training split with the
labels, and scored on the test split with the same metrics as the clusters
(:mod:`tfelg.analysis.matching`: Hungarian accuracy, many-to-one accuracy,
ARI, NMI, with bootstrap errors), gives a practical upper bound for that
input and scheme. Every unsupervised row of the results table is then also
shown as a fraction of the ceiling of its own input.

Two classifiers, so that the ceiling does not rest on one model family:

* ``gbm``: scikit-learn's :class:`~sklearn.ensemble.HistGradientBoostingClassifier`
  (missing values handled natively: a missing line is NaN, not a number);
* ``mlp``: a small Keras MLP (two hidden layers of 64, ReLU, softmax), given
  the standardised features with missing values at 0 and the 0/1 mask of
  measured values beside them (as the autoencoders' loss weights say which
  values are measured), early-stopped on the validation split.

Galaxies whose class is not a class (``low_sn``, ``unclassified``,
``unknown``) are left out of training and scoring, as in the matching.
The ceiling of an input and scheme is the better of the two classifiers.
Both are seeded; the numbers are reproducible on one machine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from tfelg.analysis import matching
from tfelg.analysis.views import IGNORED_CLASSES

METHODS = ("gbm", "mlp")
#: (input, line_features) pairs the ceilings are computed for by default.
DEFAULT_INPUTS = (("lines", "ew"), ("lines", "ew_and_ratios"), ("spectrum", "ew"))
METRICS = ("accuracy", "accuracy_many_to_one", "ari", "nmi")


def input_name(input: str, line_features: str) -> str:
    """``lines/ew``, ``lines/ew_and_ratios`` or ``spectrum`` (line_features is moot there)."""
    return input if input == "spectrum" else f"{input}/{line_features}"


def input_features(
    splits: Mapping[str, Mapping[str, np.ndarray]], input: str, line_features: str = "ew"
) -> dict[str, np.ndarray]:
    """Per split, (N, F) float32 model inputs with NaN where a value is missing.

    The same preprocessing the autoencoders get (:class:`tfelg.preprocessing.Preprocessor`,
    fitted on the training split), so a ceiling is the ceiling of what the
    models were given.
    """
    from tfelg.preprocessing import Preprocessor

    pre = Preprocessor.fit(splits["train"], input=input, line_features=line_features)
    out = {}
    for split, arrays in splits.items():
        x, w = pre.transform(arrays)
        out[split] = np.where(w > 0, x, np.nan).astype(np.float32)
    return out


def _kept(codes: np.ndarray, names: Sequence[str], ignore: Sequence[str]) -> np.ndarray:
    ignored = np.array([n in set(ignore) for n in names], bool)
    return ~ignored[np.asarray(codes, np.int64)]


def _fit_gbm(x_train, y_train, x_valid, y_valid, seed: int, n_classes: int):
    """Gradient-boosted trees; scikit-learn early-stops on 10 % of train it holds out."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    del x_valid, y_valid, n_classes  # early stopping on its own held-out 10 % of train
    model = HistGradientBoostingClassifier(
        max_iter=200, learning_rate=0.1, early_stopping=True, random_state=seed
    )
    model.fit(x_train, y_train)
    return model.predict


def _mlp_inputs(x: np.ndarray) -> np.ndarray:
    measured = np.isfinite(x)
    return np.concatenate([np.where(measured, x, 0.0), measured], axis=1).astype(np.float32)


def _fit_mlp(x_train, y_train, x_valid, y_valid, seed: int, n_classes: int, epochs: int = 60):
    """A 64-64 ReLU MLP with softmax, Adam 1e-3, early-stopped on validation loss."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = _mlp_inputs(x_train)
    model = keras.Sequential(
        [
            keras.Input((inputs.shape[1],)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(n_classes, activation="softmax"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    stop = keras.callbacks.EarlyStopping(patience=8, restore_best_weights=True)
    model.fit(
        inputs,
        y_train,
        validation_data=(_mlp_inputs(x_valid), y_valid),
        epochs=epochs,
        batch_size=256,
        shuffle=True,
        verbose=0,
        callbacks=[stop],
    )

    def predict(x):
        return np.argmax(model.predict(_mlp_inputs(x), batch_size=4096, verbose=0), axis=1)

    return predict


_FITTERS: dict[str, Callable] = {"gbm": _fit_gbm, "mlp": _fit_mlp}


def supervised_scores(
    x: Mapping[str, np.ndarray],
    codes: Mapping[str, np.ndarray],
    names: Sequence[str],
    method: str,
    *,
    ignore: Sequence[str] = IGNORED_CLASSES,
    seed: int = 0,
    n_bootstrap: int = 100,
) -> dict:
    """Trains ``method`` on train (early stopping on validation), scores it on test.

    Args:
      x: split -> (N, F) inputs, NaN where missing (``train``, ``validation``,
        ``test``).
      codes: split -> (N,) class codes indexing ``names``.
      names: the class names.
      method: ``gbm`` or ``mlp``.
      ignore: class names left out of training and scoring.
      seed: seeds the classifier and the bootstrap.
      n_bootstrap: bootstrap resamples of the test galaxies for the errors.

    Returns:
      {metric: value, metric + "_err": bootstrap std} for :data:`METRICS`,
      plus ``accuracy_plain`` (predicted class == class, no matching),
      ``n_train`` and ``n_test``.

    Raises:
      ValueError: unknown method, or fewer than two classes to learn.
    """
    if method not in _FITTERS:
        raise ValueError(f"unknown ceiling method {method!r}; expected one of {', '.join(METHODS)}")
    kept = {s: _kept(codes[s], names, ignore) for s in ("train", "validation", "test")}
    y = {s: np.asarray(codes[s], np.int64)[kept[s]] for s in kept}
    if np.unique(y["train"]).size < 2:
        raise ValueError(
            f"fewer than two classes to learn among {list(names)} in the training split"
        )
    feats = {s: np.asarray(x[s], np.float32)[kept[s]] for s in kept}
    predict = _FITTERS[method](
        feats["train"], y["train"], feats["validation"], y["validation"], seed, len(names)
    )
    predicted = np.asarray(predict(feats["test"]), np.int64)
    n_clusters = len(names)
    boot = matching.bootstrap_metrics(
        predicted,
        y["test"],
        names,
        ignore=ignore,
        n_boot=n_bootstrap,
        seed=seed,
        n_clusters=n_clusters,
    )
    out = {}
    for m in METRICS:
        out[m] = boot[m]["estimate"]
        out[f"{m}_err"] = boot[m]["std"]
    out["accuracy_plain"] = float(np.mean(predicted == y["test"]))
    out["n_train"] = int(y["train"].size)
    out["n_test"] = int(y["test"].size)
    return out


def scheme_targets(splits: Mapping[str, Mapping[str, np.ndarray]], true_class_names=None) -> dict:
    """scheme -> (split -> codes, names): WHAN, coarse BPT, and the true class if known.

    The same views the clusters are compared with (:func:`tfelg.analysis.views.scheme_views`).
    """
    from tfelg import schemes

    targets = {
        "whan": ({s: a["whan"] for s, a in splits.items()}, list(schemes.WHAN_NAMES)),
        "bpt": (
            {s: schemes.bpt_coarse(a["bpt"]) for s, a in splits.items()},
            list(schemes.BPT_COARSE_NAMES),
        ),
    }
    if true_class_names is not None and "true_class" in splits["train"]:
        targets["true_class"] = (
            {s: a["true_class"] for s, a in splits.items()},
            list(true_class_names),
        )
    return targets


def compute_ceilings(
    splits: Mapping[str, Mapping[str, np.ndarray]],
    *,
    inputs: Sequence[tuple[str, str]] = DEFAULT_INPUTS,
    methods: Sequence[str] = METHODS,
    true_class_names: Sequence[str] | None = None,
    seed: int = 0,
    n_bootstrap: int = 100,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Every (input, method, scheme): one row of :func:`supervised_scores` figures.

    Inputs whose arrays the data lack (no spectra) are skipped with a log line.
    """
    from tfelg.errors import InputError

    targets = scheme_targets(splits, true_class_names)
    rows = []
    for input, line_features in inputs:
        name = input_name(input, line_features)
        try:
            x = input_features(splits, input, line_features)
        except InputError as e:
            log(f"ceiling {name}: skipped ({e})")
            continue
        for method in methods:
            for scheme, (codes, names) in targets.items():
                scores = supervised_scores(
                    x, codes, names, method, seed=seed, n_bootstrap=n_bootstrap
                )
                log(
                    f"ceiling {name} {method} {scheme}: ARI {scores['ari']:.3f}, "
                    f"accuracy {scores['accuracy']:.3f}"
                )
                rows.append({"input": name, "method": method, "scheme": scheme, **scores})
    return rows


def best_ceiling(rows: Sequence[dict], input: str, scheme: str, metric: str = "ari") -> float:
    """The better classifier's ``metric`` for ``input`` and ``scheme`` (NaN if none)."""
    values = [r[metric] for r in rows if r["input"] == input and r["scheme"] == scheme]
    return max(values) if values else float("nan")
