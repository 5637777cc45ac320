"""The value-added catalogue: one FITS row per galaxy with everything a run found.

Astronomers cross-match tables, not checkpoints: the catalogue carries the
object id and redshift with the latent coordinates, the t-SNE map position,
the cluster and its membership probabilities, and the classical WHAN and
BPT classes (as names, readable in TOPCAT, and as integer codes, easy to
select on), plus the true class for synthetic data. The table header (and
the primary header) records where the numbers came from (model, run,
seeds, versions, as passed by the caller) and a DATE, so a table found on a
disk can be traced to its run; TOPCAT and STILTS show the table header's
cards as table parameters, not the primary header's.

Every column has a TCOMMn comment; the code columns' comments list the
code -> name mapping, so the integers can be read without this module.
No column carries a TUNITn: redshift, latent and t-SNE coordinates,
probabilities (fractions in [0, 1], not percent) and codes are all
dimensionless, and FITS writes a dimensionless quantity as an absent unit.

Columns:
  OBJID            object id (string or integer, as given)
  Z                redshift (if given)
  LATENT           (d,) vector: latent coordinates (posterior means)
  LATENT_IMPUTED   (d,) vector: True where a coordinate was not measured but
                   filled in (the line-ratio baseline's missing ratios), if given
  TSNE_1, TSNE_2   t-SNE map (if given)
  TSNE_MAPPED      True where the galaxy has map coordinates
  TSNE_PLACED      True where its position was placed on a map fitted on a
                   subsample (openTSNE transform) rather than fitted (if given)
  CLUSTER          cluster index (0-based)
  CLUSTER_PROB     (K,) vector: posterior probability of each cluster
  WHAN, WHAN_CODE  WHAN class name and code (``tfelg.schemes.WHAN_NAMES``), if given
  BPT, BPT_CODE    BPT class name and code (``tfelg.schemes.BPT_NAMES``), if given
  TRUE_CLASS, TRUE_CLASS_CODE   the true class (synthetic data, if given)
  <SCHEME>, <SCHEME>_CODE       further schemes (``classes``: images' TRUE_TYPE,
                                UVJ, GINI_M20), when given

Vector columns (``LATENT``, ``CLUSTER_PROB``) are kept as FITS vector
columns (TFORM ``dE``), which astropy, fitsio and TOPCAT read as arrays; pass
``latent_as_columns=True`` for scalar ``LATENT_1..LATENT_d`` columns instead.
The table is written atomically by :func:`tfelg.outputs.fits_table.write_fits_table`,
in chunks of rows: the class names are made from the codes chunk by chunk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

import tfelg
from tfelg import schemes
from tfelg.errors import InputError
from tfelg.outputs.fits_table import CodedNames, write_fits_table
from tfelg.synthetic.emission_lines import TRUE_CLASS_NAMES

EXTNAME = "VACAT"


def _array(
    values, name: str, path, *, ndim: int, n: int | None, dtype_kind: str = ""
) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != ndim:
        raise InputError(
            f"expected a {ndim}-D array, got shape {array.shape}", path=path, column=name
        )
    if n is not None and array.shape[0] != n:
        raise InputError(
            f"has {array.shape[0]} rows, expected {n} (one per object)", path=path, column=name
        )
    if dtype_kind and array.size and array.dtype.kind not in dtype_kind:
        raise InputError(f"has dtype {array.dtype}, expected numbers", path=path, column=name)
    return array


def _finite(array: np.ndarray, name: str, path) -> np.ndarray:
    finite = np.isfinite(array)
    if not finite.all():
        row = int(np.flatnonzero(~finite.reshape(len(array), -1).all(axis=1))[0])
        raise InputError("has NaN or infinite values", path=path, column=name, row=row)
    return array


def _code_comment(what: str, names: Sequence[str]) -> str:
    """``"<what> code: 0=a, 1=b, ..."``, the mapping a reader needs for the integers."""
    return f"{what} code: " + ", ".join(f"{i}={name}" for i, name in enumerate(names))


# A posterior row sums to 1 up to float32 rounding over at most a few dozen
# components; percentages (sum 100) or unnormalised weights are far outside.
_PROBA_SUM_TOLERANCE = 1e-3


def _codes(values, names: Sequence[str], name: str, path, n: int) -> np.ndarray:
    codes = _array(values, name, path, ndim=1, n=n, dtype_kind="iu")
    if codes.size and (codes.min() < 0 or codes.max() >= len(names)):
        row = int(np.flatnonzero((codes < 0) | (codes >= len(names)))[0])
        raise InputError(
            f"codes must lie in [0, {len(names)}) ({', '.join(names)}), got {codes[row]}",
            path=path,
            column=name,
            row=row,
        )
    return codes.astype(np.int16)


def write_catalogue(
    path,
    *,
    object_id,
    latent,
    tsne,
    cluster,
    cluster_proba,
    tsne_placed=None,
    latent_imputed=None,
    whan=None,
    bpt=None,
    redshift=None,
    true_class=None,
    class_names: Sequence[str] = TRUE_CLASS_NAMES,
    classes: Mapping[str, tuple[Sequence[int], Sequence[str]]] | None = None,
    extra_header: Mapping[str, object] | None = None,
    latent_as_columns: bool = False,
    overwrite: bool = False,
) -> str:
    """Writes the value-added catalogue as a FITS binary table.

    Args:
      path: the FITS file to write.
      object_id: (N,) object ids (strings or integers).
      latent: (N, d) latent coordinates.
      tsne: (N, 2) t-SNE map coordinates, or None; a row of two NaN marks a
        galaxy left out of a subsampled map (column TSNE_MAPPED says which).
      tsne_placed: (N,) bools, or None (no column): True where the map
        position was placed on a map fitted on a subsample
        (:func:`tfelg.analysis.tsne.place_points`), written as TSNE_PLACED.
      latent_imputed: (N, d) bools, or None (no column): True where a latent
        coordinate was filled in rather than measured, written as
        LATENT_IMPUTED (or LATENT_i_IMPUTED with ``latent_as_columns``).
      cluster: (N,) cluster indices in [0, K).
      cluster_proba: (N, K) cluster membership probabilities: fractions in
        [0, 1], each row summing to 1.
      whan: (N,) codes into ``tfelg.schemes.WHAN_NAMES`` (None: no WHAN
        columns, e.g. for images).
      bpt: (N,) codes into ``tfelg.schemes.BPT_NAMES`` (None: no BPT columns).
      redshift: (N,) redshifts, or None.
      true_class: (N,) codes into ``class_names``, or None.
      class_names: names of the true-class codes (default: the synthetic
        generator's ``TRUE_CLASS_NAMES``).
      classes: further schemes, ``{name: (codes, class names)}`` (images:
        ``true_type``, ``uvj``, ``gini_m20``), written as ``NAME`` and
        ``NAME_CODE`` columns like WHAN's.
      extra_header: provenance cards (model, run id, seeds, ...) for the
        table header and the primary header; keys longer than 8 characters
        become HIERARCH cards.
      latent_as_columns: write LATENT_1..LATENT_d instead of one vector column.
      overwrite: replace an existing file.

    Returns:
      The path written.

    Raises:
      tfelg.errors.InputError (a ValueError): an array of the wrong shape,
        length or dtype, NaN/inf coordinates, a code out of range (a cluster
        code must be below K), probabilities outside [0, 1] (percent) or not
        summing to 1; the message names the column (and row).
      FileExistsError: ``path`` exists and ``overwrite`` is False.
    """
    object_id = _array(object_id, "OBJID", path, ndim=1, n=None)
    n = len(object_id)
    if n == 0:
        raise InputError("no objects", path=path, column="OBJID")
    if object_id.dtype.kind not in "iuUS":
        if object_id.dtype.kind == "O":
            object_id = object_id.astype(str)
        else:
            raise InputError(
                f"ids must be strings or integers, got dtype {object_id.dtype}",
                path=path,
                column="OBJID",
            )
    latent = _finite(_array(latent, "LATENT", path, ndim=2, n=n, dtype_kind="iuf"), "LATENT", path)
    if latent.shape[1] == 0:
        raise InputError("has no dimensions", path=path, column="LATENT")
    if latent_imputed is not None:
        latent_imputed = _array(latent_imputed, "LATENT_IMPUTED", path, ndim=2, n=n, dtype_kind="b")
        if latent_imputed.shape != latent.shape:
            raise InputError(
                f"has shape {latent_imputed.shape}, expected {latent.shape} (LATENT's)",
                path=path,
                column="LATENT_IMPUTED",
            )
    cluster_proba = _finite(
        _array(cluster_proba, "CLUSTER_PROB", path, ndim=2, n=n, dtype_kind="iuf"),
        "CLUSTER_PROB",
        path,
    )
    k = cluster_proba.shape[1]
    if k == 0:
        raise InputError("has no clusters", path=path, column="CLUSTER_PROB")
    outside = (cluster_proba < -1e-6) | (cluster_proba > 1 + 1e-6)
    if outside.any():
        row = int(np.flatnonzero(outside.any(axis=1))[0])
        raise InputError(
            f"probabilities must be fractions in [0, 1] (not percent), got "
            f"{cluster_proba[row].tolist()}",
            path=path,
            column="CLUSTER_PROB",
            row=row,
        )
    sums = cluster_proba.sum(axis=1)
    unnormalised = np.abs(sums - 1.0) > _PROBA_SUM_TOLERANCE
    if unnormalised.any():
        row = int(np.flatnonzero(unnormalised)[0])
        raise InputError(
            f"probabilities of the {k} clusters must sum to 1, got {sums[row]:.6g}",
            path=path,
            column="CLUSTER_PROB",
            row=row,
        )
    cluster_names = tuple(str(i) for i in range(k))
    cluster = _codes(cluster, cluster_names, "CLUSTER", path, n)
    whan = None if whan is None else _codes(whan, schemes.WHAN_NAMES, "WHAN", path, n)
    bpt = None if bpt is None else _codes(bpt, schemes.BPT_NAMES, "BPT", path, n)

    columns: dict[str, np.ndarray | CodedNames] = {"OBJID": object_id}
    descriptions = {"OBJID": "object identifier"}
    if redshift is not None:
        columns["Z"] = _array(redshift, "Z", path, ndim=1, n=n, dtype_kind="iuf").astype(np.float64)
        descriptions["Z"] = "redshift"
    if latent_as_columns:
        for i in range(latent.shape[1]):
            columns[f"LATENT_{i + 1}"] = latent[:, i].astype(np.float32)
            descriptions[f"LATENT_{i + 1}"] = f"latent coordinate {i + 1} (posterior mean)"
    else:
        columns["LATENT"] = latent.astype(np.float32)
        descriptions["LATENT"] = "latent coordinates (posterior mean)"
    if latent_imputed is not None:
        what = "True: not measured, drawn given the measured ones"
        if latent_as_columns:
            for i in range(latent.shape[1]):
                columns[f"LATENT_{i + 1}_IMPUTED"] = latent_imputed[:, i]
                descriptions[f"LATENT_{i + 1}_IMPUTED"] = f"latent coordinate {i + 1}: {what}"
        else:
            columns["LATENT_IMPUTED"] = latent_imputed
            descriptions["LATENT_IMPUTED"] = f"per latent coordinate, {what}"
    if tsne is not None:
        # NaN marks a galaxy outside a subsampled map (both coordinates);
        # infinities and half-NaN pairs are errors.
        tsne = _array(tsne, "TSNE", path, ndim=2, n=n, dtype_kind="iuf")
        if tsne.shape[1] != 2:
            raise InputError(f"must be (N, 2), got shape {tsne.shape}", path=path, column="TSNE")
        unmapped = np.all(np.isnan(tsne), axis=1)
        bad = ~unmapped & ~np.all(np.isfinite(tsne), axis=1)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(
                "has infinite values or only one NaN coordinate (NaN, NaN marks a galaxy "
                "outside the map)",
                path=path,
                column="TSNE",
                row=row,
            )
        columns["TSNE_1"] = tsne[:, 0].astype(np.float32)
        columns["TSNE_2"] = tsne[:, 1].astype(np.float32)
        columns["TSNE_MAPPED"] = ~unmapped
        descriptions["TSNE_1"] = "t-SNE map x (NaN where TSNE_MAPPED is False)"
        descriptions["TSNE_2"] = "t-SNE map y (NaN where TSNE_MAPPED is False)"
        descriptions["TSNE_MAPPED"] = (
            "True if the galaxy is on the t-SNE map; False: left out of a subsampled map"
        )
        if tsne_placed is not None:
            placed = _array(tsne_placed, "TSNE_PLACED", path, ndim=1, n=n, dtype_kind="b")
            if (placed & unmapped).any():
                raise InputError(
                    "marks a galaxy without map coordinates as placed",
                    path=path,
                    column="TSNE_PLACED",
                    row=int(np.flatnonzero(placed & unmapped)[0]),
                )
            columns["TSNE_PLACED"] = placed
            descriptions["TSNE_PLACED"] = (
                "True: placed on a map fitted on a subsample (openTSNE transform); "
                "False: fitted in the map (or not on it)"
            )
    elif tsne_placed is not None:
        raise InputError("given without t-SNE coordinates", path=path, column="TSNE_PLACED")
    columns["CLUSTER"] = cluster
    columns["CLUSTER_PROB"] = cluster_proba.astype(np.float32)
    descriptions["CLUSTER"] = f"most probable mixture component, 0-based, of {k}"
    descriptions["CLUSTER_PROB"] = (
        "posterior probability of each component (fraction in [0, 1], sums to 1)"
    )
    if whan is not None:
        columns["WHAN"] = CodedNames(whan, schemes.WHAN_NAMES)
        columns["WHAN_CODE"] = whan
        descriptions["WHAN"] = "WHAN class (Cid Fernandes et al. 2011)"
        descriptions["WHAN_CODE"] = _code_comment("WHAN class", schemes.WHAN_NAMES)
    if bpt is not None:
        columns["BPT"] = CodedNames(bpt, schemes.BPT_NAMES)
        columns["BPT_CODE"] = bpt
        descriptions["BPT"] = "BPT class (Kauffmann+03, Kewley+01, Kewley+06)"
        descriptions["BPT_CODE"] = _code_comment("BPT class", schemes.BPT_NAMES)
    for scheme, (codes, names) in (classes or {}).items():
        column = str(scheme).upper()
        if column in columns:
            raise InputError("given twice (as a scheme of classes too)", path=path, column=column)
        names = tuple(str(c) for c in names)
        codes = _codes(codes, names, column, path, n)
        columns[column] = CodedNames(codes, names)
        columns[f"{column}_CODE"] = codes
        descriptions[column] = f"{scheme} class"
        descriptions[f"{column}_CODE"] = _code_comment(f"{scheme} class", names)
    if true_class is not None:
        names = tuple(class_names)
        true_codes = _codes(true_class, names, "TRUE_CLASS", path, n)
        columns["TRUE_CLASS"] = CodedNames(true_codes, names)
        columns["TRUE_CLASS_CODE"] = true_codes
        descriptions["TRUE_CLASS"] = "true class (synthetic data)"
        descriptions["TRUE_CLASS_CODE"] = _code_comment("true class", names)

    header: dict[str, object] = {
        "CREATOR": f"tfelg {tfelg.__version__}",
        "NOBJ": n,
        "NLATENT": int(latent.shape[1]),
        "NCLUSTER": int(k),
        "HASTSNE": tsne is not None,
    }
    for key, value in (extra_header or {}).items():
        header[str(key)] = value if isinstance(value, bool | int | float | str) else str(value)
    return write_fits_table(
        path,
        columns,
        header=header,
        descriptions=descriptions,
        extname=EXTNAME,
        overwrite=overwrite,
    )
