"""What benchmarks/mutation.py mutates, with which tests, and the mutants known equivalent.

The configuration of the mutation run (see ``benchmarks/mutation.py`` for how
it works): the targets, the cosmic-ray operators kept, the equivalent mutants
with their reasons, and the settings the test server needs. Standard library
only: it is imported by every process of the run, including cosmic-ray's
interpreter and the stdlib-only test client.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Target:
    """One module, the functions mutated in it (None: all) and its tests."""

    module: str
    functions: tuple[str, ...] | None
    tests: tuple[str, ...]
    exclude: tuple[str, ...] = ()  # with functions=None: left out (presentation)


TARGETS: dict[str, Target] = {
    # The WHAN/BPT/UVJ schemes (the image schemes in the same file have
    # their own tests, tests/schemes_images_test.py, and are not targets).
    "schemes": Target(
        "tfelg/schemes.py",
        (
            "kauffmann03",
            "kewley01_nii",
            "kewley01_sii",
            "kewley01_oi",
            "kewley06_sii",
            "kewley06_oi",
            "_as_float",
            "_measured",
            "_significant",
            "log_ratio",
            "whan_class",
            "_agn_subclass_votes",
            "bpt_class",
            "bpt_coarse",
            "uvj_intercept",
            "uvj_class",
            "classify_table",
            "class_counts",
        ),
        ("tests/schemes_test.py",),
    ),
    "matching": Target(
        "tfelg/analysis/matching.py",
        None,
        ("tests/analysis/matching_test.py", "tests/analysis/matching_edge_test.py"),
        exclude=("MatchResult.table_markdown", "MatchResult._name_map", "MatchResult.to_dict"),
    ),
    "catalogue": Target("tfelg/outputs/catalogue.py", None, ("tests/outputs/catalogue_test.py",)),
    "runner": Target(
        "components/runner.py",
        ("fingerprint", "cache_key", "read_artifact", "execute", "_complete_execution"),
        ("tests/components/runner_test.py",),
    ),
    "gmm_bic": Target(
        "tfelg/analysis/mixture.py",
        ("GMMResult.n_parameters", "GMMResult.bic", "GMMResult.aic", "n_parameters"),
        ("tests/analysis/gmm_test.py", "tests/analysis/mixture_count_test.py"),
    ),
}

# cosmic-ray operators kept (full names match these regular expressions).
OPERATORS = (
    r"core/NumberReplacer",
    r"core/ReplaceComparisonOperator_(Lt_LtE|LtE_Lt|Gt_GtE|GtE_Gt|Lt_Gt|Gt_Lt|LtE_GtE|GtE_LtE)",
    r"core/ReplaceComparisonOperator_(Eq_NotEq|NotEq_Eq|Is_IsNot|IsNot_Is|In_NotIn|NotIn_In)",
    r"core/ReplaceBinaryOperator_(Add_Sub|Sub_Add|Mul_Div|Div_Mul|BitAnd_BitOr|BitOr_BitAnd)",
    r"core/ReplaceBinaryOperator_(Pow_Mul|FloorDiv_Div)",
    r"core/ReplaceUnaryOperator_Delete_(USub|Invert|Not)",
    r"core/(AddNot|ReplaceTrueWithFalse|ReplaceFalseWithTrue|ReplaceAndWithOr|ReplaceOrWithAnd)",
    r"core/(ReplaceBreakWithContinue|ReplaceContinueWithBreak|ZeroIterationForLoop)",
    r"core/ExceptionReplacer",
)

# Mutants no test can kill: (target, function, line before, line after,
# why). Lines are compared stripped, so the list survives edits elsewhere.
_LATER_WINS = "both masks hold on the boundary and the class assigned after it wins"
EQUIVALENT: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "schemes",
        "uvj_class",
        "c = uvj_intercept(redshift) * np.ones_like(uv)",
        "c = uvj_intercept(redshift) / np.ones_like(uv)",
        "dividing by ones is multiplying by ones",
    ),
    (
        "schemes",
        "whan_class",
        "sf = classified & (x < WHAN_X_SPLIT)",
        "sf = classified & (x <= WHAN_X_SPLIT)",
        f"x = -0.4: {_LATER_WINS} (AGN)",
    ),
    (
        "schemes",
        "whan_class",
        "strong = agn & (w > WHAN_EW_STRONG_AGN)",
        "strong = agn & (w >= WHAN_EW_STRONG_AGN)",
        f"W = 6: {_LATER_WINS} (weak AGN)",
    ),
    (
        "schemes",
        "_agn_subclass_votes",
        "seyfert = usable & above_k01 & (y > k06(x_other))",
        "seyfert = usable & above_k01 & (y >= k06(x_other))",
        f"on the Kewley06 line: {_LATER_WINS} (the LINER vote)",
    ),
    (
        "schemes",
        "bpt_class",
        "sf = usable & (x < 0.05) & (y < kauffmann03(x))",
        "sf = usable & (x <= 0.05) & (y < kauffmann03(x))",
        "kauffmann03 is NaN from x = 0.05 on, and y < NaN is False",
    ),
    (
        "schemes",
        "bpt_class",
        "sf = usable & (x < 0.05) & (y < kauffmann03(x))",
        "sf = usable & (x < 1.05) & (y < kauffmann03(x))",
        "kauffmann03 is NaN from x = 0.05 on, and y < NaN is False",
    ),
    (
        "schemes",
        "uvj_intercept",
        "out[(z >= 0) & (z < 0.5)] = 0.69",
        "out[(z >= 0) & (z <= 0.5)] = 0.69",
        "the 0.5 <= z < 1 bin is assigned after and overwrites z = 0.5",
    ),
    (
        "schemes",
        "uvj_intercept",
        "out[(z >= 0) & (z < 0.5)] = 0.69",
        "out[(z >= 0) & (z < 1.5)] = 0.69",
        "the later bins are assigned after and overwrite 0.5 <= z < 1.5",
    ),
    (
        "schemes",
        "uvj_intercept",
        "out[(z >= 0.5) & (z < 1.0)] = 0.59",
        "out[(z >= 0.5) & (z <= 1.0)] = 0.59",
        "the 1 <= z < 2 bin is assigned after and overwrites z = 1",
    ),
    (
        "schemes",
        "uvj_intercept",
        "out[(z >= 0.5) & (z < 1.0)] = 0.59",
        "out[(z >= 0.5) & (z < 2.0)] = 0.59",
        "the 1 <= z < 2 bin is assigned after and overwrites it",
    ),
    (
        "catalogue",
        "_finite",
        "row = int(np.flatnonzero(~finite.reshape(len(array), -1).all(axis=1))[0])",
        "row = int(np.flatnonzero(~finite.reshape(len(array), - 2).all(axis=1))[0])",
        "NumPy reads any negative size in reshape as 'the rest'",
    ),
    (
        "catalogue",
        "write_catalogue",
        "unnormalised = np.abs(sums - 1.0) > _PROBA_SUM_TOLERANCE",
        "unnormalised = np.abs(sums - 1.0) >= _PROBA_SUM_TOLERANCE",
        "no float32/float64 sum lies exactly 1e-3 from 1 (near 1 they are multiples "
        "of 2^-53..2^-23, and 1e-3 is not)",
    ),
    *(
        (
            "runner",
            "fingerprint",
            "while chunk := f.read(1 << 20):",
            f"while chunk := f.read({after}):",
            "the read size changes the chunks, not the bytes hashed",
        )
        for after in (" 2 << 20", "1 << 21", "1 << 19")
    ),
    *(
        (
            "matching",
            "_hungarian",
            "weight = sub * (n + 1.0) + (sub - sub.max(axis=1, keepdims=True))",
            f"weight = sub * ({after}) + (sub - sub.max(axis=1, keepdims=True))",
            "any factor >= N - 1 ranks matchings by their matched galaxies first: one more "
            "galaxy on the pairs outweighs the tie-break part's difference (at most N - 2)",
        )
        for after in ("n - 1.0", "n + 2.0", "n + 0.0")
    ),
    *(
        (
            "matching",
            "_entropy",
            "if counts.size <= 1:",
            after,
            "one count's entropy is then computed, as -1 * log(1) = -0.0, which every "
            "caller reads as 0",
        )
        for after in ("if counts.size < 1:", "if counts.size <= 0:")
    ),
    (
        "matching",
        "table_metrics",
        "hit = many >= 0",
        "hit = many >= -1",
        "many is -1 only for an empty cluster, whose all-zero row adds table[r, -1] = 0",
    ),
    (
        "schemes",
        "whan_class",
        "n = w.shape[0]",
        "n = w.shape[ -1]",
        "the inputs are made 1-D (atleast_1d): the first axis is the last",
    ),
    (
        "schemes",
        "bpt_class",
        "n = nii.shape[0]",
        "n = nii.shape[ -1]",
        "the inputs are made 1-D (atleast_1d): the first axis is the last",
    ),
)

# setup.py installs these folders under other names (package_dir); the tests
# import them by those names, which the editable install would resolve to
# the checkout: the children find them in the snapshot through symlinks.
PACKAGE_ALIASES = {
    "tfelg_components": "components",
    "tfelg_pipelines": "pipelines",
    "tfelg_datasets": "datasets",
}

# pytest's internal error, usage error and "no tests collected", and the
# server's "tested the wrong file" and "child failed": not a kill.
BROKEN_RUN_CODES = (3, 4, 5, 97, 98)

# Third-party modules the server imports once, before forking (never tfelg:
# the children must import the snapshot's, mutated, code).
PRELOAD = (
    "numpy",
    "scipy.optimize",
    "sklearn.metrics",
    "sklearn.mixture",
    "astropy.io.fits",
    "astropy.table",
    "absl.testing.absltest",
    "absl.testing.parameterized",
    "tensorflow",
    "pytest",
)
