r"""Rendering speed of the synthetic HST galaxies: tfelg's settings against plain GalSim.

Three ways of drawing the same galaxies (same parameters, same three bands,
64x64 at 0.06"/pixel, Airy PSF per band), in one run on one machine:

* ``galsim_default``: what one writes first with GalSim: each band's
  galaxy as one ``galsim.Add`` of untruncated profiles (de Vaucouleurs,
  exponential, knots), convolved with the PSF and drawn with default
  GSParams, one process;
* ``tfelg_1core``: :func:`tfelg.synthetic.hst_galaxies.generate` with one
  worker (truncated de Vaucouleurs, loosened GSParams, components drawn
  separately, noise added, parameters drawn too);
* ``tfelg_2cores``: the same with a process pool of two workers, on
  ``--num_galaxies`` galaxies (default 2,000, the default config).

The goal (issue 12): 2,000 galaxies in under 2 minutes on 2 cores. Also
prints the largest pixel difference between the fast and the default
rendering, in units of each band's sky noise.

  python benchmarks/hst_rendering.py                       # ~2-5 min on 2 idle cores
  python benchmarks/hst_rendering.py --num_compare=60 --num_galaxies=500
"""

from __future__ import annotations

import json
import os
import platform
import time

import numpy as np
from absl import app, flags

from tfelg import atomic

_NUM_GALAXIES = flags.DEFINE_integer("num_galaxies", 2000, "Galaxies for the 2-core run.")
_NUM_COMPARE = flags.DEFINE_integer(
    "num_compare", 120, "Galaxies for the one-core comparison (GalSim defaults vs tfelg)."
)
_SEED = flags.DEFINE_integer("seed", 0, "Sample seed.")
_JSON = flags.DEFINE_string("json", None, "Also write the results to this JSON file.")


def draw_galsim_default(galaxy) -> np.ndarray:
    """The plain way: one Add of untruncated profiles per band, default GSParams."""
    import galsim

    from tfelg.synthetic import hst_galaxies as hst

    out = np.empty((hst.STAMP_SIZE, hst.STAMP_SIZE, 3), dtype=np.float32)
    for b, band in enumerate(hst.BANDS):
        psf = galsim.Airy(lam_over_diam=hst.PSF_FWHM_ARCSEC[band] / 1.028994)
        profiles = []
        for i, c in enumerate(galaxy.components):
            flux = float(c.band_flux[b])
            if c.kind == "bulge":
                p = galsim.DeVaucouleurs(half_light_radius=c.hlr, flux=flux)
            elif c.kind == "disk":
                p = galsim.Exponential(half_light_radius=c.hlr, flux=flux)
            else:
                p = galsim.RandomKnots(
                    c.n_knots, half_light_radius=c.hlr, flux=flux, rng=galsim.BaseDeviate(100 + i)
                )
            p = p.shear(q=c.q, beta=c.beta * galsim.degrees)
            if c.tidal_g:
                p = p.shear(g=c.tidal_g, beta=c.tidal_beta * galsim.degrees)
            profiles.append(p.shift(c.dx, c.dy))
        image = galsim.Convolve(galsim.Add(profiles), psf).drawImage(
            nx=hst.STAMP_SIZE, ny=hst.STAMP_SIZE, scale=hst.PIXEL_SCALE
        )
        out[:, :, b] = image.array
    return out


def main(argv):
    del argv
    from tfelg.process_pool import available_cpus
    from tfelg.synthetic import hst_galaxies as hst

    load_before = os.getloadavg()[0]
    n = _NUM_COMPARE.value
    types = hst.draw_types(n, _SEED.value)
    galaxies = [hst.draw_galaxy(_SEED.value, i, int(t)) for i, t in enumerate(types)]
    # Warm both paths (GalSim builds its Sersic tables once per profile shape).
    for g in galaxies[:6]:
        draw_galsim_default(g)
        hst.draw_noiseless(g)

    start = time.perf_counter()
    for g in galaxies:
        draw_galsim_default(g)
    default_s = time.perf_counter() - start

    start = time.perf_counter()
    hst.generate(n, _SEED.value, num_workers=1)
    one_core_s = time.perf_counter() - start

    worst = 0.0
    sigma = np.array([hst.sky_sigma_njy(b) for b in hst.BANDS])
    for g in galaxies[:30]:
        diff = np.abs(hst.draw_noiseless(g, fast=True) - hst.draw_noiseless(g, fast=False))
        worst = max(worst, float(np.max(diff / sigma)))

    m = _NUM_GALAXIES.value
    start = time.perf_counter()
    hst.generate(m, _SEED.value, num_workers=2)
    two_cores_s = time.perf_counter() - start
    load_after = os.getloadavg()[0]

    results = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": f"{platform.machine()}, {available_cpus()} CPUs available",
        "load_average_before": load_before,
        "load_average_after": load_after,
        "galsim_default_per_s": n / default_s,
        "tfelg_1core_per_s": n / one_core_s,
        "tfelg_2cores_per_s": m / two_cores_s,
        "tfelg_2cores_seconds": two_cores_s,
        "tfelg_2cores_galaxies": m,
        "speedup_1core_vs_default": default_s / one_core_s,
        "max_pixel_difference_in_sky_sigma": worst,
    }
    print(f"load average before {load_before:.1f}, after {load_after:.1f}")
    print(f"GalSim defaults, 1 core:   {n / default_s:6.1f} galaxies/s ({n} galaxies)")
    print(
        f"tfelg, 1 core:             {n / one_core_s:6.1f} galaxies/s ({default_s / one_core_s:.2f}x)"
    )
    print(
        f"tfelg, 2 cores:            {m / two_cores_s:6.1f} galaxies/s: {m} in {two_cores_s:.1f} s"
    )
    print(f"largest |fast - default| pixel: {worst:.4f} sky sigma")
    if _JSON.value:
        with atomic.atomic_open(_JSON.value, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    app.run(main)
