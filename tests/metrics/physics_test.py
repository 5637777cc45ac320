"""Physics of galaxy images: aperture colours, and distances between classes on GalSim galaxies."""

import numpy as np
from absl.testing import absltest

from tfelg.metrics import physics
from tfelg.synthetic import hst_galaxies as synthetic


def _blob_image(band_factors, sky, seed=0, size=64, sigma_px=4.0):
    """A Gaussian blob with per-band flux factors, a per-band sky level and white noise."""
    y, x = np.mgrid[:size, :size]
    blob = 1000.0 * np.exp(-((x - 31.5) ** 2 + (y - 31.5) ** 2) / (2 * sigma_px**2))
    rng = np.random.default_rng(seed)
    planes = [
        f * blob + s + rng.normal(0.0, 0.5, blob.shape)
        for f, s in zip(band_factors, sky, strict=True)
    ]
    return np.stack(planes, axis=-1)


class ApertureColourTest(absltest.TestCase):
    def test_known_flux_ratios_despite_sky(self):
        image = _blob_image([0.5, 1.0, 2.0], sky=[3.0, 50.0, -7.0])
        colours = physics.aperture_colours(image, 31.5, 31.5, rhalf=4.7)
        expected = -2.5 * np.log10(0.5)  # F435W/F850LP = 0.5 and F850LP/F160W = 0.5
        self.assertAlmostEqual(colours["F435W-F850LP"], expected, delta=0.01)
        self.assertAlmostEqual(colours["F850LP-F160W"], expected, delta=0.01)

    def test_undetected_band_gives_nan(self):
        image = _blob_image([0.0, 1.0, 1.0], sky=[0.0, 0.0, 0.0])
        image[:, :, 0] = -np.abs(image[:, :, 0]) - 1.0  # no positive flux at all in F435W
        colours = physics.aperture_colours(image, np.nan, np.nan, rhalf=np.nan)
        self.assertTrue(np.isnan(colours["F435W-F850LP"]))
        self.assertAlmostEqual(colours["F850LP-F160W"], 0.0, delta=0.01)


class PhysicsDistancesTest(absltest.TestCase):
    def test_wasserstein_ks_and_counts_by_hand(self):
        a = np.arange(20.0)
        nan = np.full(20, np.nan)
        real = {q: a for q in physics.QUANTITIES} | {"trusted": np.ones(20)}
        fake = {q: a + 2.0 for q in physics.QUANTITIES} | {"trusted": np.zeros(20)}
        fake["gini"] = np.r_[a[:4], nan[:16]]  # only 4 measured: below min_values
        out = physics.physics_distances(real, fake)
        self.assertAlmostEqual(out["m20"]["wasserstein"], 2.0)
        self.assertAlmostEqual(out["m20"]["wasserstein_over_std"], 2.0 / np.std(a, ddof=1))
        self.assertAlmostEqual(out["m20"]["ks"], 0.1)  # the CDFs differ by 2 of 20 steps
        self.assertEqual((out["gini"]["n_real"], out["gini"]["n_fake"]), (20, 4))
        self.assertTrue(np.isnan(out["gini"]["ks"]))
        self.assertEqual(out["untrusted_fraction"], {"real": 0.0, "fake": 1.0})
        trusted = physics.physics_distances(real, fake, trusted_only=True)
        self.assertEqual(trusted["m20"]["n_fake"], 0)
        self.assertTrue(np.isnan(trusted["m20"]["wasserstein"]))

    def test_bad_images(self):
        images = np.zeros((3, 64, 64, 3), np.float32)
        images[2, 5, 5, 1] = np.nan
        with self.assertRaisesRegex(ValueError, r"generated: 1 images have NaN/inf.*image 2"):
            physics.check_images(images, "generated")
        with self.assertRaisesRegex(ValueError, r"shape \(N, height, width, 3\).*\(3, 64, 64\)"):
            physics.check_images(images[..., 0], "generated")


class GalaxyClassesTest(absltest.TestCase):
    """Two samples of ellipticals are close; ellipticals and late spirals are far apart."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()

        def sample(seed, kind):
            s = synthetic.generate(12, seed, num_workers=1, type_fractions={kind: 1.0})
            return s, physics.measure_images(s.image, num_workers=1)

        cls.ell_a, cls.m_ell_a = sample(31, "elliptical")
        cls.ell_b, cls.m_ell_b = sample(32, "elliptical")
        cls.late, cls.m_late = sample(33, "late_spiral")

    def test_colours_follow_the_rendered_magnitudes(self):
        # Aperture colours against the noiseless total magnitudes of the rendering. Many
        # ellipticals are fainter than 27 in F435W, below its noise: judge F435W - F850LP
        # on those brighter than 26.5 only.
        truth = self.ell_a.truth
        blue_error = self.m_ell_a["F435W-F850LP"] - (truth["mag_F435W"] - truth["mag_F850LP"])
        bright = truth["mag_F435W"] < 26.5
        self.assertGreaterEqual(bright.sum(), 4)
        self.assertLess(np.nanmedian(np.abs(blue_error[bright])), 0.3, blue_error)
        red_error = self.m_ell_a["F850LP-F160W"] - (truth["mag_F850LP"] - truth["mag_F160W"])
        self.assertLess(np.nanmedian(np.abs(red_error)), 0.1, red_error)

    def test_same_class_close_different_classes_far(self):
        same = physics.physics_distances(self.m_ell_a, self.m_ell_b)
        different = physics.physics_distances(self.m_ell_a, self.m_late)
        for quantity in ("concentration", "m20", "rhalf_circ", "F435W-F850LP"):
            s, d = same[quantity], different[quantity]
            self.assertLess(s["ks"], 0.5, quantity)
            self.assertGreater(d["ks"], 0.7, quantity)
            self.assertLess(s["wasserstein_over_std"], 0.6 * d["wasserstein_over_std"], quantity)


if __name__ == "__main__":
    absltest.main()
