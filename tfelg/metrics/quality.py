"""The quality table of a generated galaxy sample against a real one, overall and per class.

Why one function: a GAN is only judged fairly next to the same numbers for
a second real sample (the floor: what two real samples of this size differ
by) and for a trivial baseline, computed with the same features, the same
sample sizes and the same measurement code. :func:`summarize` measures a
sample once (features and physics), :func:`compare` turns two summaries
into rows, :func:`quality_table` does both for one pair, and
:func:`markdown_tables` writes rows of several comparisons side by side.

The feature function is an argument: ``feature_fn(images) -> (N, d)``.
tfelg's extractors go there (``tfelg.models.features``); so does the
documented stand-in :func:`pixel_pca_features`, PCA of asinh-stretched
pixels, which needs no training. FIDs on any of these are not comparable
with published Inception FIDs.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tfelg import morphology
from tfelg.metrics import distances, physics


@dataclasses.dataclass
class SampleSummary:
    """What :func:`compare` needs of one sample: features, labels, physics."""

    name: str
    features: np.ndarray
    labels: np.ndarray
    physics: dict | None


def check_labels(labels, n: int, num_classes: int, name: str) -> np.ndarray:
    array = np.asarray(labels)
    if array.ndim != 1 or len(array) != n:
        raise ValueError(f"{name}: expected {n} labels (one per image), got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name}: labels must be integer class codes, got dtype {array.dtype}")
    bad = (array < 0) | (array >= num_classes)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name}: label {int(array[i])} of image {i} is not a class code 0..{num_classes - 1}"
        )
    return array.astype(np.int64)


def summarize(
    images,
    labels,
    feature_fn,
    *,
    num_classes: int,
    name: str,
    measure_physics: bool = True,
    num_workers: int | None = None,
) -> SampleSummary:
    """Features (``feature_fn(images)``) and physics of one labelled sample of images."""
    images = physics.check_images(images, name)
    labels = check_labels(labels, len(images), num_classes, name)
    features = np.asarray(feature_fn(images), np.float64)
    if features.ndim != 2 or len(features) != len(images):
        raise ValueError(
            f"{name}: feature_fn returned shape {features.shape} for {len(images)} images; "
            "expected (images, features)"
        )
    features = distances.check_features(features, f"{name} features", min_samples=1)
    measured = (
        physics.measure_images(images, num_workers=num_workers, name=name)
        if measure_physics
        else None
    )
    return SampleSummary(name=name, features=features, labels=labels, physics=measured)


def _feature_metrics(real, fake, *, kid_subsets, kid_subset_size, k, seed):
    row, notes = {}, []
    d = real.shape[1]
    if min(len(real), len(fake)) > d:
        row["fid"] = distances.frechet_distance(real, fake)
    else:
        row["fid"] = np.nan
        notes.append(f"no FID: {min(len(real), len(fake))} samples for {d} features")
    if min(len(real), len(fake)) >= 2:
        # Subsets of at most half the smaller sample: subsets of the whole sample would all
        # be equal (standard error 0, which says nothing about the sampling error).
        size = max(2, min(int(kid_subset_size or 1000), min(len(real), len(fake)) // 2))
        kid = distances.kernel_distance(
            real, fake, subsets=kid_subsets, subset_size=size, seed=seed
        )
        row.update(kid=kid.mean, kid_stderr=kid.stderr, kid_subset_size=kid.subset_size)
    else:
        row.update(kid=np.nan, kid_stderr=np.nan, kid_subset_size=0)
        notes.append("no KID: fewer than 2 samples")
    if min(len(real), len(fake)) > k:
        pr = distances.precision_recall(real, fake, k=k)
        row.update(precision=pr.precision, recall=pr.recall)
    else:
        row.update(precision=np.nan, recall=np.nan)
        notes.append(f"no precision/recall: needs more than k = {k} samples")
    row["notes"] = notes
    return row


def compare(
    real: SampleSummary,
    fake: SampleSummary,
    *,
    class_names,
    kid_subsets: int = 100,
    kid_subset_size: int | None = 1000,
    k: int = 3,
    seed: int = 0,
    trusted_only: bool = False,
) -> list[dict]:
    """Rows of the quality table: scope ``"all"`` then one per class.

    KID subsets hold ``min(kid_subset_size, n // 2)`` samples (n: the
    smaller sample of the scope), so that they differ and its standard error
    means something; it is still the error of the mean over overlapping
    subsets, smaller than the sampling error of KID itself: read it next to
    the floor row (two real samples), whose KID scatters by that error.

    Each row: ``scope``, ``n_real``, ``n_fake``, ``fid``, ``kid``,
    ``kid_stderr``, ``precision``, ``recall``, ``notes`` (why a value is
    NaN) and ``physics`` (:func:`physics.physics_distances`, None when a
    summary has no physics). A class present in one sample and absent from
    the other is an error: a comparison would silently leave it out.
    """
    if real.features.shape[1] != fake.features.shape[1]:
        raise ValueError(
            f"{real.name} has {real.features.shape[1]} features, {fake.name} "
            f"{fake.features.shape[1]}: use one feature function for both"
        )
    present_real, present_fake = set(np.unique(real.labels)), set(np.unique(fake.labels))
    for code in sorted(present_real ^ present_fake):
        has, lacks = (real, fake) if code in present_real else (fake, real)
        raise ValueError(
            f"class {class_names[code]!r} (code {code}) has examples in {has.name} but none "
            f"in {lacks.name}; compare only classes both samples have"
        )
    scopes = [("all", None)] + [(class_names[c], c) for c in sorted(present_real)]
    rows = []
    for scope, code in scopes:
        in_real = np.ones(len(real.labels), bool) if code is None else real.labels == code
        in_fake = np.ones(len(fake.labels), bool) if code is None else fake.labels == code
        row = {"scope": scope, "n_real": int(in_real.sum()), "n_fake": int(in_fake.sum())}
        row.update(
            _feature_metrics(
                real.features[in_real],
                fake.features[in_fake],
                kid_subsets=kid_subsets,
                kid_subset_size=kid_subset_size,
                k=k,
                seed=seed,
            )
        )
        row["physics"] = None
        if real.physics is not None and fake.physics is not None:
            row["physics"] = physics.physics_distances(
                physics.subset(real.physics, in_real),
                physics.subset(fake.physics, in_fake),
                trusted_only=trusted_only,
            )
        rows.append(row)
    return rows


def quality_table(
    real_images,
    real_labels,
    fake_images,
    fake_labels,
    feature_fn,
    *,
    class_names,
    num_workers: int | None = None,
    **compare_kwargs,
) -> list[dict]:
    """The whole quality table for one generated sample against one real sample.

    Args:
      real_images, fake_images: (N, H, W, 3) images in the same units
        (nJy per pixel for ``hst_galaxies``), bands F435W, F850LP, F160W.
      real_labels, fake_labels: (N,) integer class codes into ``class_names``.
      feature_fn: images -> (N, d) features, the same for both samples.
      class_names: names of the class codes.
      num_workers: processes for the morphology measurements.
      **compare_kwargs: passed to :func:`compare` (kid_subsets,
        kid_subset_size, k, seed, trusted_only).
    """
    num_classes = len(class_names)
    real = summarize(
        real_images,
        real_labels,
        feature_fn,
        num_classes=num_classes,
        name="real",
        num_workers=num_workers,
    )
    fake = summarize(
        fake_images,
        fake_labels,
        feature_fn,
        num_classes=num_classes,
        name="generated",
        num_workers=num_workers,
    )
    return compare(real, fake, class_names=class_names, **compare_kwargs)


def rms_scale(features) -> float:
    """sqrt(mean(x^2)) of reference features: dividing by it makes ``E|x|^2 / d = 1``.

    KID's kernel ``(x.y / d + 1)^3`` assumes features of order 1, as
    Inception's pooled features are; tfelg's extractors give features of
    order 10-100 (random ResNets, PCA scores of 12,288 pixels), for which the
    cubic kernel is dominated by a few samples (measured: KID values of 10^3
    with errors as large). One global scale keeps the geometry: FID scales
    by its square, precision/recall do not change.
    """
    value = float(np.sqrt(np.mean(np.square(np.asarray(features, np.float64)))))
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"reference features have no scale (rms {value})")
    return value


def scaled_features(feature_fn, reference_images, *, description=None):
    """``feature_fn`` divided by :func:`rms_scale` of its features of ``reference_images``."""
    scale = rms_scale(feature_fn(reference_images))

    def scaled(images):
        return np.asarray(feature_fn(images), np.float64) / scale

    scaled.description = description or getattr(feature_fn, "description", "features")
    scaled.scale = scale
    return scaled


def pixel_pca_features(reference_images, *, n_components: int = 16, seed: int = 0):
    """A feature function that needs no training: PCA of asinh-stretched pixels.

    The stand-in for a learned extractor. Each band is divided by three
    times its pixel noise (the median over ``reference_images`` of
    :func:`tfelg.morphology.pixel_noise`) and passed through ``asinh``, so
    faint outskirts count and bright cores do not dominate; the flattened
    images are projected on the ``n_components`` leading principal
    components of the reference images (scikit-learn PCA, seeded) and
    divided by :func:`rms_scale` of the reference's scores. Fit it on real images only, never on the sample being judged.

    Returns:
      ``feature_fn(images) -> (N, n_components)`` float64.
    """
    from sklearn.decomposition import PCA

    reference = physics.check_images(reference_images, "reference_images")
    if len(reference) <= n_components:
        raise ValueError(
            f"reference_images: {len(reference)} images for {n_components} PCA components; "
            "need more images than components"
        )
    scale = np.empty(reference.shape[-1], np.float64)
    for b in range(reference.shape[-1]):
        noise = [
            morphology.pixel_noise(im[:, :, b], np.ones(im.shape[:2], bool)) for im in reference
        ]
        scale[b] = 3.0 * np.nanmedian(noise)
    if not np.all(np.isfinite(scale) & (scale > 0)):
        raise ValueError(f"reference_images: no pixel noise measured in some band ({scale / 3})")
    shape = reference.shape[1:]

    def stretch(images):
        images = physics.check_images(images, "images")
        if images.shape[1:] != shape:
            raise ValueError(f"images of shape {images.shape[1:]}; the PCA was fitted on {shape}")
        return np.arcsinh(images / scale).reshape(len(images), -1)

    pca = PCA(n_components=n_components, random_state=seed).fit(stretch(reference))
    feature_scale = rms_scale(pca.transform(stretch(reference)))

    def feature_fn(images):
        return pca.transform(stretch(images)).astype(np.float64) / feature_scale

    feature_fn.description = (
        f"pixel PCA ({n_components} components of asinh(flux / 3 sigma_band), "
        f"fitted on {len(reference)} real images)"
    )
    return feature_fn


def _fmt(value, spec=".3g"):
    return "n/a" if value is None or not np.isfinite(value) else format(value, spec)


def _by_scope(results):
    scopes = list(dict.fromkeys(r["scope"] for rows in results.values() for r in rows))
    by = {(label, r["scope"]): r for label, rows in results.items() for r in rows}
    return scopes, by


def feature_table(results: dict[str, list[dict]]) -> str:
    """Markdown: FID, KID ± s.e., precision, recall per scope for {label: rows of compare}."""
    lines = [
        "| scope | comparison | n real | n other | FID | KID (± s.e.) | precision | recall |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    scopes, by = _by_scope(results)
    for scope in scopes:
        for label in results:
            r = by.get((label, scope))
            if r is None:
                continue
            kid = f"{_fmt(r['kid'], '.3f')} ± {_fmt(r['kid_stderr'], '.3f')}"
            lines.append(
                f"| {scope} | {label} | {r['n_real']} | {r['n_fake']} | {_fmt(r['fid'], '.2f')} "
                f"| {kid} | {_fmt(r['precision'], '.2f')} | {_fmt(r['recall'], '.2f')} |"
            )
    return "\n".join(lines)


def physics_table(results: dict[str, list[dict]]) -> str:
    """Markdown: per scope, ``W/std, KS`` per quantity and the untrusted fractions."""
    lines = [
        f"| scope | comparison | {' | '.join(physics.QUANTITIES)} | untrusted real / other |",
        "|---|---|" + "---:|" * (len(physics.QUANTITIES) + 1),
    ]
    scopes, by = _by_scope(results)
    for scope in scopes:
        for label in results:
            r = by.get((label, scope))
            if r is None or r["physics"] is None:
                continue
            p = r["physics"]
            cells = [
                f"{_fmt(p[q]['wasserstein_over_std'], '.2f')}, {_fmt(p[q]['ks'], '.2f')}"
                for q in physics.QUANTITIES
            ]
            u = p["untrusted_fraction"]
            lines.append(
                f"| {scope} | {label} | " + " | ".join(cells) + f" | {_fmt(u['real'], '.0%')} / "
                f"{_fmt(u['fake'], '.0%')} |"
            )
    return "\n".join(lines)


def markdown_tables(results: dict[str, list[dict]]) -> str:
    """Both tables of several comparisons: {label: rows of :func:`compare`}."""
    return "\n".join(
        [
            feature_table(results),
            "",
            "Physics distances: Wasserstein distance / real std, KS statistic.",
            "",
            physics_table(results),
        ]
    )
