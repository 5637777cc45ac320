"""tfelg.morphology on GalSim galaxies: classes, flags, and failures that never raise."""

from unittest import mock

import numpy as np
from absl.testing import absltest

from tfelg import morphology, schemes

F = morphology.FLAG_BITS
SIGMA = 3.0  # sky noise per pixel (nJy), about GOODS F850LP


def _render(kind: str, *, size=64, shift=(0.0, 0.0), hlr=0.3, flux=20000.0, seed=0, sky=0.0):
    """A noisy F850LP-like GalSim stamp (0.06"/px, Airy FWHM 0.1") plus a sky level."""
    import galsim

    if kind == "elliptical":
        galaxy = galsim.DeVaucouleurs(half_light_radius=hlr, flux=flux).shear(
            q=0.8, beta=0.3 * galsim.radians
        )
    elif kind == "late_disk":
        disk = galsim.Exponential(half_light_radius=hlr, flux=0.6 * flux).shear(
            q=0.7, beta=1.0 * galsim.radians
        )
        knots = galsim.RandomKnots(
            15, half_light_radius=hlr, flux=0.4 * flux, rng=galsim.BaseDeviate(seed + 1)
        )
        galaxy = disk + knots
    else:
        raise ValueError(kind)
    psf = galsim.Airy(lam_over_diam=0.1 / 1.028994)
    final = galsim.Convolve(galaxy.shift(*shift), psf)
    image = final.drawImage(nx=size, ny=size, scale=0.06).array.astype(np.float64)
    rng = np.random.default_rng(seed)
    return image + sky + rng.normal(0.0, SIGMA, image.shape)


class ClassesTest(absltest.TestCase):
    def test_elliptical_is_e_s0_sa_and_trusted(self):
        for seed in range(3):
            result = morphology.measure(_render("elliptical", seed=seed, sky=5.0), sersic=False)
            self.assertEqual(schemes.GINI_M20_NAMES[result.gini_m20_class], "e_s0_sa", result)
            self.assertTrue(result.trust_nonparametric, morphology.describe_flags(result.flags))

    def test_sky_level_is_measured_and_subtracted(self):
        # A faint galaxy: a bright one's de Vaucouleurs wings are still
        # ~1 nJy/px at the stamp edge, real light that no stamp can tell from sky.
        result = morphology.measure(_render("elliptical", flux=3000.0, sky=5.0), sersic=False)
        self.assertAlmostEqual(result.sky_median, 5.0, delta=0.4)
        self.assertAlmostEqual(result.sky_sigma, SIGMA, delta=0.3)
        self.assertFalse(result.flags & F["NO_SKY"])

    def test_late_disk_is_not_early_type(self):
        names = []
        for seed in range(3):
            result = morphology.measure(_render("late_disk", hlr=0.5, seed=seed), sersic=False)
            names.append(schemes.GINI_M20_NAMES[result.gini_m20_class])
        self.assertNotIn("e_s0_sa", names)

    def test_elliptical_more_concentrated_than_disk(self):
        e = morphology.measure(_render("elliptical"), sersic=False)
        d = morphology.measure(_render("late_disk", hlr=0.5), sersic=False)
        self.assertGreater(e.concentration, d.concentration)
        self.assertGreater(e.gini, d.gini)
        self.assertLess(e.m20, d.m20)


class FlagsTest(absltest.TestCase):
    def test_segment_touching_edge_is_flagged_and_untrusted(self):
        # A galaxy near the frame edge, with empty sky on the other side.
        result = morphology.measure(
            _render("elliptical", shift=(1.5, 0.0), hlr=0.4, flux=4e4), x=56, y=31.5, sersic=False
        )
        self.assertTrue(result.flags & F["EDGE"], morphology.describe_flags(result.flags))
        self.assertFalse(result.trust_nonparametric)
        self.assertIn("EDGE", morphology.describe_flags(result.flags))

    def test_galaxy_overfilling_the_frame_is_untrusted(self):
        # A nearby elliptical larger than the stamp: its outskirts pass for sky,
        # so the segment shrinks off the edges; NO_SKY says so.
        result = morphology.measure(_render("elliptical", hlr=1.2, flux=4e5), sersic=False)
        self.assertTrue(result.flags & F["NO_SKY"], morphology.describe_flags(result.flags))
        self.assertFalse(result.trust_nonparametric)

    def test_blank_and_nan_images_are_flagged_not_raised(self):
        self.assertTrue(morphology.measure(np.zeros((64, 64))).flags & F["BLANK"])
        self.assertTrue(morphology.measure(np.full((64, 64), np.nan)).flags & F["BLANK"])
        image = _render("elliptical")
        image[:5, :5] = np.nan
        result = morphology.measure(image, sersic=False)
        self.assertTrue(result.flags & F["NON_FINITE"])
        self.assertTrue(np.isfinite(result.gini))

    def test_pure_noise_has_no_source(self):
        noise = np.random.default_rng(1).normal(0.0, SIGMA, (64, 64))
        result = morphology.measure(noise, sersic=False)
        self.assertTrue(result.flags & F["NO_SOURCE"])
        self.assertTrue(np.isnan(result.gini))
        self.assertEqual(schemes.GINI_M20_NAMES[result.gini_m20_class], "unclassified")

    def test_target_position_picks_the_segment(self):
        image = _render("elliptical", shift=(-0.9, 0.0), flux=8000.0, seed=2)
        image += _render("elliptical", shift=(0.9, 0.0), flux=8000.0, seed=3) - 0.0
        left = morphology.measure(image, x=32 - 15, y=31.5, sersic=False)
        right = morphology.measure(image, x=32 + 15, y=31.5, sersic=False)
        self.assertLess(left.x_centroid, 31.5)
        self.assertGreater(right.x_centroid, 31.5)
        far = morphology.measure(image, x=2, y=2, sersic=False)
        self.assertTrue(far.flags & F["NO_SOURCE"])

    def test_statmorph_exception_becomes_a_flag(self):
        import statmorph

        with mock.patch.object(statmorph, "SourceMorphology", side_effect=RuntimeError("boom")):
            result = morphology.measure(_render("elliptical"), sersic=False)
        self.assertTrue(result.flags & F["STATMORPH_FAILED"])
        self.assertIn("boom", result.error)
        self.assertFalse(result.trust_nonparametric)

    def test_statmorph_flags_are_propagated(self):
        import statmorph

        real = statmorph.SourceMorphology

        def flagged(*args, **kwargs):
            morph = real(*args, **kwargs)
            morph.flag, morph.flag_sersic = 2, 1
            return morph

        with mock.patch.object(statmorph, "SourceMorphology", side_effect=flagged):
            result = morphology.measure(_render("elliptical"), sersic=False)
        self.assertEqual(result.statmorph_flag, 2)
        self.assertTrue(result.flags & F["STATMORPH_BAD"])
        self.assertFalse(result.trust_nonparametric)

    def test_sersic_index_measured_with_psf(self):
        import galsim

        psf = galsim.Airy(lam_over_diam=0.1 / 1.028994).drawImage(nx=21, ny=21, scale=0.06).array
        result = morphology.measure(_render("elliptical", flux=1e5), psf=psf)
        self.assertTrue(np.isfinite(result.sersic_n))
        self.assertGreater(result.sersic_n, 2.0)

    def test_not_an_image_is_a_value_error(self):
        with self.assertRaisesRegex(ValueError, "2-D"):
            morphology.measure(np.zeros(10))


class AsymmetryCentreTest(absltest.TestCase):
    def test_coarser_centre_search_gives_statmorphs_numbers(self):
        """The 0.01-px asymmetry-centre search changes A by < 0.005 and no flag."""
        images = [_render("elliptical", seed=4), _render("late_disk", hlr=0.5, seed=5)]
        fast = [morphology.measure(im, sersic=False) for im in images]
        with mock.patch.object(
            morphology, "_source_morphology", side_effect=lambda base, skip=(): base
        ):
            exact = [morphology.measure(im, sersic=False) for im in images]
        for a, b in zip(fast, exact, strict=True):
            self.assertAlmostEqual(a.asymmetry, b.asymmetry, delta=0.005)
            self.assertAlmostEqual(a.gini, b.gini, delta=0.005)
            self.assertEqual(a.flags, b.flags)
        import statmorph

        self.assertTrue(
            issubclass(
                morphology._source_morphology(statmorph.SourceMorphology),
                statmorph.SourceMorphology,
            )
        )


class SkippedQuantitiesTest(absltest.TestCase):
    """What tfelg does not read is not computed (the catalogue's cost per galaxy)."""

    def _raising(self, name):
        import statmorph
        from astropy.utils import lazyproperty

        def boom(self):
            raise AssertionError(f"{name} was computed")

        return mock.patch.object(statmorph.SourceMorphology, name, lazyproperty(boom))

    def test_sersic_false_does_not_fit(self):
        image = _render("elliptical", seed=2)
        reference = morphology.measure(image, sersic=False)
        with self._raising("_sersic_model"):
            result = morphology.measure(image, sersic=False)
        self.assertFalse(result.flags & F["STATMORPH_FAILED"], result.error)
        self.assertTrue(np.isnan(result.sersic_n))
        self.assertTrue(result.flags & F["SERSIC_BAD"])
        self.assertFalse(result.trust_sersic)
        self.assertTrue(result.trust_nonparametric)
        self.assertEqual(result.gini, reference.gini)
        with self._raising("_sersic_model"):  # the fit when asked for: statmorph fails
            fitted = morphology.measure(image, sersic=True)
        self.assertTrue(fitted.flags & F["STATMORPH_FAILED"])

    def test_multimode_is_never_computed_and_changes_nothing(self):
        image = _render("late_disk", hlr=0.5, seed=3)
        with self._raising("multimode"):
            result = morphology.measure(image, sersic=False)
        self.assertFalse(result.flags & F["STATMORPH_FAILED"], result.error)
        with mock.patch.object(
            morphology, "_source_morphology", side_effect=lambda base, skip=(): base
        ):
            everything = morphology.measure(image, sersic=False)
        self.assertEqual(result.values.keys(), everything.values.keys())
        for name, value in everything.values.items():
            if name != "asymmetry" and not name.endswith("_centroid"):
                self.assertEqual(np.isnan(value), np.isnan(result.values[name]), name)
        self.assertEqual(result.gini, everything.gini)
        self.assertEqual(result.m20, everything.m20)
        self.assertEqual(result.statmorph_flag, everything.statmorph_flag)


class ColumnsTest(absltest.TestCase):
    def test_measure_many_matches_measure(self):
        images = [_render("elliptical", seed=s) for s in range(2)] + [np.zeros((64, 64))]
        results = morphology.measure_many(images, num_workers=1, sersic=False)
        columns = morphology.as_columns(results)
        self.assertEqual(columns["gini"].shape, (3,))
        self.assertEqual(list(columns["trust_nonparametric"]), [True, True, False])
        self.assertEqual(
            [schemes.GINI_M20_NAMES[c] for c in columns["gini_m20_class"]],
            ["e_s0_sa", "e_s0_sa", "unclassified"],
        )


if __name__ == "__main__":
    absltest.main()
