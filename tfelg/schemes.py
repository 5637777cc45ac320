"""The classical classification schemes: WHAN, BPT, UVJ, Gini-M20 and CAS, vectorised.

These are the schemes every unsupervised result of tfelg is compared with,
implemented exactly as published (definitions in DESIGN.md), and with an
explicit outcome for every galaxy: when the measurements needed are missing,
non-positive or non-finite the galaxy is ``unclassified``; when they are
measured but below the S/N threshold it is ``low_sn``. A scheme never guesses.

Each classifier returns int8 codes; ``*_NAMES[code]`` is the class name.
Boundary conventions (where a published inequality is strict on both sides)
are stated in each docstring.

References:
  Baldwin, Phillips & Terlevich 1981 (BPT); Kauffmann et al. 2003, MNRAS 346,
  1055; Kewley et al. 2001, ApJ 556, 121; Kewley et al. 2006, MNRAS 372, 961;
  Brinchmann et al. 2004, MNRAS 351, 1151 (S/N >= 3); Cid Fernandes et al.
  2011, MNRAS 413, 1687 (WHAN); Williams et al. 2009, ApJ 691, 1879 (UVJ);
  Lotz et al. 2008, ApJ 672, 177 (Gini-M20); Conselice 2003, ApJS 147, 1 (CAS).
"""

from __future__ import annotations

import numpy as np

WHAN_NAMES: tuple[str, ...] = (
    "star_forming",
    "strong_agn",
    "weak_agn",
    "retired",
    "passive",
    "low_sn",
    "unclassified",
)
BPT_NAMES: tuple[str, ...] = (
    "star_forming",
    "composite",
    "seyfert",
    "liner",
    "agn",  # above Kewley 2001, Seyfert/LINER undecided (low S/N or ambiguous)
    "low_sn",
    "unclassified",
)
UVJ_NAMES: tuple[str, ...] = ("star_forming", "quiescent", "unclassified")

WHAN = {name: np.int8(i) for i, name in enumerate(WHAN_NAMES)}
BPT = {name: np.int8(i) for i, name in enumerate(BPT_NAMES)}
UVJ = {name: np.int8(i) for i, name in enumerate(UVJ_NAMES)}

# The three-class BPT view (star-forming, composite, AGN) used by the
# reference work; Seyfert, LINER and undecided AGN all map to "agn".
BPT_COARSE_NAMES: tuple[str, ...] = ("star_forming", "composite", "agn", "low_sn", "unclassified")
_BPT_TO_COARSE = np.array([0, 1, 2, 2, 2, 3, 4], dtype=np.int8)

WHAN_X_SPLIT = -0.4  # log([NII]/Halpha) between star formation and AGN
WHAN_EW_RETIRED = 3.0  # Angstrom; below: retired galaxies
WHAN_EW_STRONG_AGN = 6.0  # Angstrom; above: strong AGN
WHAN_EW_PASSIVE = 0.5  # Angstrom; Halpha and [NII] below: passive


# --- Boundary curves (x, y are log10 line ratios) --------------------------


def kauffmann03(x):
    """Kauffmann et al. 2003 upper envelope of star formation, [NII] diagram.

    Defined for x < 0.05 (NaN elsewhere)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x < 0.05, 0.61 / (x - 0.05) + 1.3, np.nan)


def kewley01_nii(x):
    """Kewley et al. 2001 maximum starburst line, [NII] diagram (x < 0.47)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x < 0.47, 0.61 / (x - 0.47) + 1.19, np.nan)


def kewley01_sii(x):
    """Kewley et al. 2001 maximum starburst line, [SII] diagram (x < 0.32)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x < 0.32, 0.72 / (x - 0.32) + 1.30, np.nan)


def kewley01_oi(x):
    """Kewley et al. 2001 maximum starburst line, [OI] diagram (x < -0.59)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x < -0.59, 0.73 / (x + 0.59) + 1.33, np.nan)


def kewley06_sii(x):
    """Kewley et al. 2006 Seyfert/LINER line in the [SII] diagram."""
    return 1.89 * np.asarray(x, dtype=np.float64) + 0.76


def kewley06_oi(x):
    """Kewley et al. 2006 Seyfert/LINER line in the [OI] diagram."""
    return 1.18 * np.asarray(x, dtype=np.float64) + 1.30


# --- Helpers ----------------------------------------------------------------


def _as_float(a, n=None):
    if a is None:
        return None if n is None else np.full(n, np.nan)
    return np.atleast_1d(np.asarray(a, dtype=np.float64))


def _measured(flux):
    """Finite and positive: a flux a ratio can be taken of."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(flux) & (flux > 0)


def _significant(flux, err, snr_min):
    """S/N >= snr_min; True where no error is given (nothing to test)."""
    if err is None:
        return np.ones(flux.shape, dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = np.isfinite(err) & (err > 0) & (flux / err >= snr_min)
    return ok


def log_ratio(numerator, denominator):
    """log10(numerator / denominator), NaN unless both are finite and > 0."""
    numerator = _as_float(numerator)
    denominator = _as_float(denominator)
    ok = _measured(numerator) & _measured(denominator)
    out = np.full(np.broadcast(numerator, denominator).shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        np.copyto(out, np.log10(numerator / denominator), where=ok)
    return out


# --- WHAN ---------------------------------------------------------------------


def whan_class(ha_ew, nii_ew, nii_flux, ha_flux, nii_err=None, ha_err=None, snr_min=3.0):
    """WHAN class (Cid Fernandes et al. 2011) of each galaxy.

    With W = EW(Halpha) emission-positive in Angstrom and
    x = log([NII]6584 / Halpha):

      passive       W < 0.5 and EW([NII]) < 0.5
      retired       W < 3 (and not passive)
      star_forming  W >= 3 and x < -0.4
      strong_agn    W > 6 and x >= -0.4
      weak_agn      3 <= W <= 6 and x >= -0.4

    The paper leaves W = 3, W = 6 and x = -0.4 exactly unassigned; the
    inequalities above close them (W = 3 is not retired, W = 6 is weak AGN,
    x = -0.4 is AGN).

    Outcomes when data are missing: W not finite -> ``unclassified``;
    W < 0.5 without a finite EW([NII]) (passive and retired cannot be told
    apart) -> ``unclassified``; W >= 3 needs x: either flux missing or
    non-positive -> ``unclassified``, either flux below ``snr_min`` (when
    errors are given) -> ``low_sn``. Retired and passive need no line ratio
    (they are defined by weak lines), so no S/N cut applies to them.

    Returns:
      int8 codes into ``WHAN_NAMES``.
    """
    w = _as_float(ha_ew)
    n = w.shape[0]
    w_nii = _as_float(nii_ew, n)
    nii = _as_float(nii_flux, n)
    ha = _as_float(ha_flux, n)
    nii_e = _as_float(nii_err) if nii_err is not None else None
    ha_e = _as_float(ha_err) if ha_err is not None else None
    x = log_ratio(nii, ha)

    out = np.full(n, WHAN["unclassified"], dtype=np.int8)
    finite_w = np.isfinite(w)
    with np.errstate(invalid="ignore"):
        weak = finite_w & (w < WHAN_EW_PASSIVE)
        passive = weak & np.isfinite(w_nii) & (w_nii < WHAN_EW_PASSIVE)
        retired = finite_w & (w < WHAN_EW_RETIRED) & ~passive & ~(weak & ~np.isfinite(w_nii))
        active = finite_w & (w >= WHAN_EW_RETIRED)
        has_x = active & np.isfinite(x)
        significant = _significant(nii, nii_e, snr_min) & _significant(ha, ha_e, snr_min)
        classified = has_x & significant
        sf = classified & (x < WHAN_X_SPLIT)
        agn = classified & (x >= WHAN_X_SPLIT)
        strong = agn & (w > WHAN_EW_STRONG_AGN)
        weak_agn = agn & (w <= WHAN_EW_STRONG_AGN)

    out[passive] = WHAN["passive"]
    out[retired] = WHAN["retired"]
    out[has_x & ~significant] = WHAN["low_sn"]
    out[sf] = WHAN["star_forming"]
    out[strong] = WHAN["strong_agn"]
    out[weak_agn] = WHAN["weak_agn"]
    return out


# --- BPT ------------------------------------------------------------------------


def _agn_subclass_votes(y, x_other, k01, k06, usable):
    """Per diagram: +1 Seyfert, -1 LINER, 0 below Kewley 2001 or unusable."""
    with np.errstate(invalid="ignore"):
        above_k01 = np.isnan(k01(x_other)) | (y > k01(x_other))
        seyfert = usable & above_k01 & (y > k06(x_other))
        liner = usable & above_k01 & (y <= k06(x_other))
    vote = np.zeros(y.shape, dtype=np.int8)
    vote[seyfert] = 1
    vote[liner] = -1
    return vote, usable


def bpt_class(
    nii,
    nii_err,
    ha,
    ha_err,
    oiii,
    oiii_err,
    hb,
    hb_err,
    sii=None,
    sii_err=None,
    oi=None,
    oi_err=None,
    snr_min=3.0,
):
    """BPT class from the [NII] diagram, Seyfert/LINER from [SII] and [OI].

    With x = log([NII]6584/Halpha), y = log([OIII]5007/Hbeta):

      star_forming  x < 0.05 and y < 0.61/(x - 0.05) + 1.3 (Kauffmann 2003)
      agn           otherwise, if x >= 0.47 or y > 0.61/(x - 0.47) + 1.19
                    (Kewley 2001)
      composite     between the two curves

    Star formation is tested first: at x < -1.3 the Kewley curve dips below
    the Kauffmann curve, and points there below Kauffmann stay star-forming.
    An AGN is split with Kewley et al. 2006 in each usable diagram ([SII]
    with ``sii`` = [SII]6717+6731, [OI]6300; usable means S/N >= snr_min in
    that line): Seyfert above y = 1.89 x_SII + 0.76 (resp. 1.18 x_OI + 1.30),
    LINER below, provided the point is also above that diagram's Kewley 2001
    line. If every usable diagram says Seyfert it is ``seyfert``, if every one
    says LINER it is ``liner``; otherwise (none usable, or disagreement, or
    star-forming in a secondary diagram) it stays ``agn``.

    Any of the four [NII]-diagram lines missing or non-positive ->
    ``unclassified``; all measured but one with S/N < snr_min -> ``low_sn``
    (Brinchmann et al. 2004). Errors are required: S/N cannot be skipped.

    Returns:
      int8 codes into ``BPT_NAMES``.
    """
    nii, ha, oiii, hb = (_as_float(a) for a in (nii, ha, oiii, hb))
    n = nii.shape[0]
    nii_e, ha_e, oiii_e, hb_e = (_as_float(a, n) for a in (nii_err, ha_err, oiii_err, hb_err))
    sii_f, sii_e, oi_f, oi_e = (_as_float(a, n) for a in (sii, sii_err, oi, oi_err))

    x = log_ratio(nii, ha)
    y = log_ratio(oiii, hb)
    measured = np.isfinite(x) & np.isfinite(y)
    significant = (
        _significant(nii, nii_e, snr_min)
        & _significant(ha, ha_e, snr_min)
        & _significant(oiii, oiii_e, snr_min)
        & _significant(hb, hb_e, snr_min)
    )
    usable = measured & significant

    out = np.full(n, BPT["unclassified"], dtype=np.int8)
    out[measured & ~significant] = BPT["low_sn"]
    with np.errstate(invalid="ignore"):
        sf = usable & (x < 0.05) & (y < kauffmann03(x))
        agn = usable & ~sf & ((x >= 0.47) | (y > kewley01_nii(x)))
        composite = usable & ~sf & ~agn
    out[sf] = BPT["star_forming"]
    out[composite] = BPT["composite"]
    out[agn] = BPT["agn"]

    x_sii = log_ratio(sii_f, ha)
    x_oi = log_ratio(oi_f, ha)
    sii_ok = np.isfinite(x_sii) & _significant(sii_f, sii_e, snr_min)
    oi_ok = np.isfinite(x_oi) & _significant(oi_f, oi_e, snr_min)
    vote_sii, use_sii = _agn_subclass_votes(y, x_sii, kewley01_sii, kewley06_sii, sii_ok)
    vote_oi, use_oi = _agn_subclass_votes(y, x_oi, kewley01_oi, kewley06_oi, oi_ok)
    n_usable = use_sii.astype(int) + use_oi.astype(int)
    total = vote_sii.astype(int) + vote_oi.astype(int)
    seyfert = agn & (n_usable > 0) & (total == n_usable)
    liner = agn & (n_usable > 0) & (total == -n_usable)
    out[seyfert] = BPT["seyfert"]
    out[liner] = BPT["liner"]
    return out


def bpt_coarse(codes):
    """Maps ``BPT_NAMES`` codes to ``BPT_COARSE_NAMES`` (SF, composite, AGN)."""
    return _BPT_TO_COARSE[np.asarray(codes, dtype=np.int64)]


# --- UVJ --------------------------------------------------------------------------


def uvj_intercept(redshift):
    """Williams et al. 2009 intercept of the diagonal cut; NaN outside 0 <= z < 2."""
    z = _as_float(redshift)
    out = np.full(z.shape, np.nan)
    with np.errstate(invalid="ignore"):
        out[(z >= 0) & (z < 0.5)] = 0.69
        out[(z >= 0.5) & (z < 1.0)] = 0.59
        out[(z >= 1.0) & (z < 2.0)] = 0.49
    return out


def uvj_class(u_minus_v, v_minus_j, redshift):
    """UVJ class (Williams et al. 2009).

    Quiescent if U-V > 1.3, V-J < 1.6 and U-V > 0.88 (V-J) + c(z), with
    c = 0.69 at z < 0.5, 0.59 at 0.5 <= z < 1, 0.49 at 1 <= z < 2; all strict,
    so a point on a line is star-forming. Outside 0 <= z < 2 (where the
    paper gives no cut) or with non-finite colours: ``unclassified``.

    Returns:
      int8 codes into ``UVJ_NAMES``.
    """
    uv = _as_float(u_minus_v)
    vj = _as_float(v_minus_j)
    c = uvj_intercept(redshift) * np.ones_like(uv)
    ok = np.isfinite(uv) & np.isfinite(vj) & np.isfinite(c)
    out = np.full(uv.shape, UVJ["unclassified"], dtype=np.int8)
    with np.errstate(invalid="ignore"):
        quiescent = ok & (uv > 1.3) & (vj < 1.6) & (uv > 0.88 * vj + c)
    out[ok] = UVJ["star_forming"]
    out[quiescent] = UVJ["quiescent"]
    return out


# --- Gini-M20 (Lotz et al. 2008) ---------------------------------------------------------

GINI_M20_NAMES: tuple[str, ...] = ("merger", "e_s0_sa", "sb_ir", "unclassified")
GINI_M20 = {name: np.int8(i) for i, name in enumerate(GINI_M20_NAMES)}


def lotz08_merger_line(m20):
    """Lotz et al. 2008 merger line in the Gini-M20 plane: G = -0.14 M20 + 0.33."""
    return -0.14 * np.asarray(m20, dtype=np.float64) + 0.33


def lotz08_early_late_line(m20):
    """Lotz et al. 2008 E/S0/Sa vs Sb/Ir line: G = 0.14 M20 + 0.80."""
    return 0.14 * np.asarray(m20, dtype=np.float64) + 0.80


def gini_m20_class(gini, m20):
    """Gini-M20 class (Lotz et al. 2008, ApJ 672, 177, Sect. 3, AEGIS at 0.2 < z < 1.2).

    G is the Gini coefficient of the pixel fluxes inside the segmentation
    region and M20 the normalised second-order moment of the brightest 20 % of
    the flux (Lotz, Primack & Madau 2004, AJ 128, 163), both as statmorph
    measures them:

      merger   G > -0.14 M20 + 0.33
      e_s0_sa  G <= -0.14 M20 + 0.33 and G > 0.14 M20 + 0.80
      sb_ir    G <= -0.14 M20 + 0.33 and G <= 0.14 M20 + 0.80

    A point exactly on a line goes to the class below it (the inequalities of
    the paper are strict above each line). Non-finite G or M20 ->
    ``unclassified``. The lines were calibrated on rest-frame B-band HST
    images of 0.2 < z < 1.2 galaxies; on images that are too small, too
    noisy or cut by the frame edge they misplace early types (see
    :mod:`tfelg.morphology`).

    Returns:
      int8 codes into ``GINI_M20_NAMES``.
    """
    g = _as_float(gini)
    m = _as_float(m20)
    g, m = np.broadcast_arrays(g, m)
    ok = np.isfinite(g) & np.isfinite(m)
    out = np.full(g.shape, GINI_M20["unclassified"], dtype=np.int8)
    with np.errstate(invalid="ignore"):
        merger = ok & (g > lotz08_merger_line(m))
        early = ok & ~merger & (g > lotz08_early_late_line(m))
    out[ok] = GINI_M20["sb_ir"]
    out[early] = GINI_M20["e_s0_sa"]
    out[merger] = GINI_M20["merger"]
    return out


# --- CAS (Conselice 2003) ------------------------------------------------------------------

CAS_NAMES: tuple[str, ...] = ("merger", "bulge_dominated", "disk_dominated", "unclassified")
CAS = {name: np.int8(i) for i, name in enumerate(CAS_NAMES)}

CAS_MERGER_ASYMMETRY = 0.35  # Conselice 2003, Sect. 5.2: A > 0.35 and A > S
CAS_BULGE_CONCENTRATION = 3.5  # between early (C ~ 3.9-4.4) and late (~2.9-3.1) types


def cas_class(concentration, asymmetry, smoothness):
    """CAS region (Conselice 2003, ApJS 147, 1) of each galaxy.

    With C = 5 log10(r80/r20) (concentration), A the rotational asymmetry
    (Conselice, Bershady & Jangren 2000, background-corrected) and S the
    clumpiness (smoothness), as statmorph measures them:

      merger           A > 0.35 and A > S   (Conselice 2003, Sect. 5.2)
      bulge_dominated  not a merger and C >= 3.5
      disk_dominated   not a merger and C < 3.5

    The merger criterion is the paper's. The paper separates bulge- and
    disk-dominated galaxies by their concentration (C rises with the
    bulge-to-total ratio, its Fig. 9) and gives class averages, not a line:
    ellipticals C ~ 4.4, early disks ~ 3.9, late disks ~ 3.1, irregulars
    ~ 2.9 (its Table 1). C = 3.5, between early and late types, is the
    boundary used by tfelg (and by much of the later literature); it is a
    convention, stated here so nobody mistakes it for a fitted line.
    Non-finite C, A or S -> ``unclassified`` (S is needed for the merger
    test, and a galaxy that may be a merger is not given a bulge class).

    Returns:
      int8 codes into ``CAS_NAMES``.
    """
    c = _as_float(concentration)
    a = _as_float(asymmetry)
    s = _as_float(smoothness)
    c, a, s = np.broadcast_arrays(c, a, s)
    ok = np.isfinite(c) & np.isfinite(a) & np.isfinite(s)
    out = np.full(c.shape, CAS["unclassified"], dtype=np.int8)
    with np.errstate(invalid="ignore"):
        merger = ok & (a > CAS_MERGER_ASYMMETRY) & (a > s)
        bulge = ok & ~merger & (c >= CAS_BULGE_CONCENTRATION)
    out[ok] = CAS["disk_dominated"]
    out[bulge] = CAS["bulge_dominated"]
    out[merger] = CAS["merger"]
    return out


# --- Whole tables ---------------------------------------------------------------------


def classify_table(table, snr_min=3.0):
    """WHAN and BPT classes and the line ratios used, for a ``LineTable``.

    Returns:
      dict of (N,) arrays: ``whan``, ``bpt`` (int8 codes), ``log_nii_ha``,
      ``log_oiii_hb``, ``log_sii_ha`` ([SII]6717+6731), ``log_oi_ha``,
      ``ew_ha``, ``ew_nii``.
    """

    def flux(name):
        return table.line(name, "flux")

    def err(name):
        return table.line(name, "flux_err")

    sii = flux("SII_6717") + flux("SII_6731")
    sii_err = np.hypot(err("SII_6717"), err("SII_6731"))
    ew_ha = table.line("H_ALPHA", "ew")
    ew_nii = table.line("NII_6584", "ew")
    whan = whan_class(
        ew_ha,
        ew_nii,
        flux("NII_6584"),
        flux("H_ALPHA"),
        nii_err=err("NII_6584"),
        ha_err=err("H_ALPHA"),
        snr_min=snr_min,
    )
    bpt = bpt_class(
        flux("NII_6584"),
        err("NII_6584"),
        flux("H_ALPHA"),
        err("H_ALPHA"),
        flux("OIII_5007"),
        err("OIII_5007"),
        flux("H_BETA"),
        err("H_BETA"),
        sii=sii,
        sii_err=sii_err,
        oi=flux("OI_6300"),
        oi_err=err("OI_6300"),
        snr_min=snr_min,
    )
    return {
        "whan": whan,
        "bpt": bpt,
        "log_nii_ha": log_ratio(flux("NII_6584"), flux("H_ALPHA")),
        "log_oiii_hb": log_ratio(flux("OIII_5007"), flux("H_BETA")),
        "log_sii_ha": log_ratio(sii, flux("H_ALPHA")),
        "log_oi_ha": log_ratio(flux("OI_6300"), flux("H_ALPHA")),
        "ew_ha": ew_ha,
        "ew_nii": ew_nii,
    }


def class_counts(codes, names) -> dict[str, int]:
    """{class name: count} in the order of ``names``, zeros included."""
    counts = np.bincount(np.asarray(codes, dtype=np.int64), minlength=len(names))
    return {name: int(c) for name, c in zip(names, counts, strict=True)}
