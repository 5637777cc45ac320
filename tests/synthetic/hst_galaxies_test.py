"""The synthetic HST galaxies: real bandpasses and SEDs, dust, colours, determinism."""

import numpy as np
from absl.testing import absltest

from tfelg import schemes
from tfelg.synthetic import hst_galaxies as hst
from tfelg.synthetic import restframe_filters

T = hst.TRUE_TYPE


class SpectraTest(absltest.TestCase):
    def test_band_colours_agree_with_galsim(self):
        """NumPy band integration = GalSim's own SED.calculateMagnitude (AB)."""
        import galsim

        lib = hst.spectral_library()
        bandpasses = [
            galsim.Bandpass(hst.BANDPASS_FILES[b], wave_type="nm").withZeropoint("AB")
            for b in hst.BANDS
        ]
        for template in ("E", "Sbc", "Im"):
            sed = galsim.SED(f"CWW_{template}_ext.sed", wave_type="Ang", flux_type="flambda")
            weights = np.array([t == template for t in hst.TEMPLATES], float)
            for z in (0.1, 0.6, 0.95):
                theirs = [sed.atRedshift(z).calculateMagnitude(bp) for bp in bandpasses]
                ours = -2.5 * np.log10(lib.observed_fnu(lib.spectrum(weights, 0.0), z))
                # GalSim integrates its own thinned tables: 3 mmag apart at most
                # (E in F435W, where the flux falls steeply), far below the noise.
                np.testing.assert_allclose(np.diff(ours), np.diff(theirs), atol=5e-3)

    def test_templates_alone_never_reach_dusty_colours_and_dust_does(self):
        lib = hst.spectral_library()
        v_minus_j = []
        for i in range(len(hst.TEMPLATES)):
            rest = lib.rest_frame_fnu(lib.spectrum(np.eye(len(hst.TEMPLATES))[i], 0.0))
            v_minus_j.append(-2.5 * np.log10(rest["V"] / rest["J"]))
        self.assertLess(max(v_minus_j), 1.32)  # E: 1.31, the measurement
        rest = lib.rest_frame_fnu(lib.spectrum(np.eye(4)[2], 2.0))  # Scd behind A_V = 2
        self.assertGreater(-2.5 * np.log10(rest["V"] / rest["J"]), 1.6)

    def test_calzetti_curve(self):
        # Calzetti et al. 2000: k(V) ~ R_V = 4.05 by construction of the blue branch
        # at 0.55 micron; red branch at 2.2 micron = 2.659 (-1.857 + 1.040/2.2) + 4.05.
        self.assertAlmostEqual(float(hst.calzetti_k(5500.0)), 4.05, delta=0.01)
        self.assertAlmostEqual(
            float(hst.calzetti_k(22000.0)), 2.659 * (-1.857 + 1.040 / 2.2) + 4.05, places=6
        )
        k = hst.calzetti_k(np.geomspace(1000, 30000, 50))
        self.assertTrue(np.all(np.diff(k) <= 0) and np.all(k >= 0))

    def test_restframe_curves_are_published_passbands(self):
        for band, (lo, hi, peak) in {
            "U": (3000, 4200, 3700),
            "V": (4700, 7000, 5300),
            "J": (10620, 14500, None),
        }.items():
            w, r = restframe_filters.curve(band)
            self.assertEqual((w[0], w[-1]), (lo, hi))
            self.assertAlmostEqual(r.max(), 1.0)
            if peak is not None:
                self.assertEqual(w[np.argmax(r)], peak)


class TruthTest(absltest.TestCase):
    """Parameters only (no drawing): cheap enough for a few hundred galaxies."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        types = np.arange(300) % len(hst.TRUE_TYPE_NAMES)
        cls.galaxies = [hst.draw_galaxy(3, i, int(t)) for i, t in enumerate(types)]
        cls.types = types
        cls.uv = np.array([g.truth["u_minus_v"] for g in cls.galaxies])
        cls.vj = np.array([g.truth["v_minus_j"] for g in cls.galaxies])
        cls.z = np.array([g.redshift for g in cls.galaxies])
        cls.uvj = schemes.uvj_class(cls.uv, cls.vj, cls.z)

    def _quiescent_fraction(self, kind):
        sel = self.types == T[kind]
        return np.mean(self.uvj[sel] == schemes.UVJ["quiescent"])

    def test_uvj_direction_of_types(self):
        """Quiescent ellipticals in the Williams box, disks and irregulars outside."""
        self.assertGreater(self._quiescent_fraction("elliptical"), 0.9)
        self.assertGreater(self._quiescent_fraction("lenticular"), 0.7)
        self.assertLess(self._quiescent_fraction("late_spiral"), 0.1)
        self.assertLess(self._quiescent_fraction("irregular"), 0.05)

    def test_dusty_star_formers_exist(self):
        """Dust populates the red-in-V-J, star-forming corner that bare templates leave empty."""
        dusty = (self.vj > 1.6) & (self.uvj == schemes.UVJ["star_forming"])
        self.assertGreater(int(dusty.sum()), 3)

    def test_redshifts_and_magnitudes_in_range(self):
        self.assertTrue(np.all((self.z >= 0.01) & (self.z <= 1.0)))
        h = np.array([g.truth["mag_F160W"] for g in self.galaxies])
        np.testing.assert_allclose(
            np.clip(h, *hst.H_MAG_RANGE), h, atol=1e-9, err_msg="H magnitude out of range"
        )
        # Volume-weighted: more galaxies above z = 0.5 than below.
        self.assertGreater(np.mean(self.z > 0.5), 0.5)

    def test_mergers_have_two_galaxies(self):
        for g in self.galaxies:
            if g.true_type == T["merger"]:
                offsets = {(round(c.dx, 6), round(c.dy, 6)) for c in g.components}
                self.assertGreaterEqual(len(offsets), 2)
                self.assertGreater(g.truth["merger_separation_arcsec"], 0.2)


class RenderTest(absltest.TestCase):
    def test_fluxes_psf_and_determinism(self):
        sample = hst.generate(12, seed=5, num_workers=2)
        again = hst.generate(12, seed=5, num_workers=1)
        np.testing.assert_array_equal(sample.image, again.image)  # any number of workers
        self.assertEqual(sample.image.shape, (12, 64, 64, 3))
        self.assertEqual(sample.image.dtype, np.float32)
        self.assertLen(set(sample.object_id), 12)
        # Noiseless drawing keeps the flux (truncation and stamp edges lose < 10 %).
        galaxy = hst.draw_galaxy(5, 0, int(sample.true_type[0]))
        noiseless = hst.draw_noiseless(galaxy)
        expected = 10.0 ** (-0.4 * (galaxy.truth["mag_F160W"] - hst.AB_NJY_ZEROPOINT))
        self.assertAlmostEqual(noiseless[:, :, 2].sum() / expected, 1.0, delta=0.1)
        # The noise is the band's sky sigma.
        noise = sample.image[0] - noiseless
        np.testing.assert_allclose(
            noise.std(axis=(0, 1)), [hst.sky_sigma_njy(b) for b in hst.BANDS], rtol=0.1
        )

    def test_f160w_psf_is_about_twice_as_broad(self):
        fwhm = [psf.calculateFWHM() for psf in hst._psfs(True)]
        self.assertAlmostEqual(fwhm[0], 0.084, delta=0.005)
        self.assertAlmostEqual(fwhm[2] / fwhm[1], 1.85, delta=0.1)

    def test_fast_rendering_close_to_galsim_defaults(self):
        """The loosened GSParams change no pixel by more than 2 % of the sky noise."""
        for i, t in enumerate((T["elliptical"], T["late_spiral"], T["merger"])):
            galaxy = hst.draw_galaxy(9, i, int(t))
            diff = hst.draw_noiseless(galaxy, fast=True) - hst.draw_noiseless(galaxy, fast=False)
            sigma = np.array([hst.sky_sigma_njy(b) for b in hst.BANDS])
            self.assertLess(float(np.max(np.abs(diff) / sigma)), 0.02)

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "num_galaxies"):
            hst.generate(0)
        with self.assertRaisesRegex(ValueError, "unknown galaxy types"):
            hst.draw_types(5, 0, {"spiral": 1.0})


if __name__ == "__main__":
    absltest.main()
