"""Domains: how the shared components find what differs between kinds of galaxy data."""

from absl.testing import absltest

from tfelg_components import domains, images, training
from tfelg_components import emission_lines as el
from tfelg_components.base import ParameterError


def _domain(name="toy_galaxies", baselines=("b", "a")):
    return domains.Domain(
        name=name,
        class_names=lambda builder: {},
        baselines={b: (lambda splits, config, names: None) for b in baselines},
        thumbnails=lambda builder, splits: None,
        schemes=("kind",),
    )


class DomainTest(absltest.TestCase):
    def test_chosen_baselines_keep_the_domain_order(self):
        domain = _domain(baselines=("pixels", "morphology", "colours"))
        self.assertEqual(domain.chosen_baselines(None), ["pixels", "morphology", "colours"])
        self.assertEqual(domain.chosen_baselines(["colours", "pixels"]), ["pixels", "colours"])
        self.assertEqual(domain.chosen_baselines([]), [])
        with self.assertRaisesRegex(
            ParameterError,
            r"^'baselines' item 1 must be one of the toy_galaxies baselines: "
            r"pixels, morphology, colours, got 'line_ratios'$",
        ):
            domain.chosen_baselines(["pixels", "line_ratios"])

    def test_each_domain_refuses_the_other_domain_s_baselines(self):
        # The exporter's parameter takes every domain's names (training.BASELINES);
        # the domain of the dataset is what refuses the others'.
        with self.assertRaisesRegex(
            ParameterError,
            r"'baselines' item 0 must be one of the emission_lines baselines: "
            r"pca, line_ratios, got 'pixel_pca'",
        ):
            el.DOMAIN.chosen_baselines(["pixel_pca", "pca"])
        with self.assertRaisesRegex(
            ParameterError,
            r"'baselines' item 1 must be one of the hst_galaxies baselines: "
            r"pixel_pca, morphology, got 'line_ratios'",
        ):
            images.DOMAIN.chosen_baselines(["morphology", "line_ratios"])

    def test_a_dataset_name_finds_its_domain(self):
        self.assertIs(domains.get_domain("emission_lines/synthetic_n300_s2"), el.DOMAIN)
        self.assertIs(domains.get_domain("emission_lines"), el.DOMAIN)
        with self.assertRaisesRegex(ValueError, "no domain for dataset 'sdss'; known: emission"):
            domains.get_domain("sdss/dr17")

    def test_a_name_is_registered_once(self):
        with self.assertRaisesRegex(ValueError, "'emission_lines' is already registered"):
            domains.register_domain(_domain(name="emission_lines"))
        self.assertIs(domains.register_domain(el.DOMAIN), el.DOMAIN)  # itself again: fine

    def test_the_exporter_offers_every_domain_s_baselines(self):
        every = el.BASELINES + images.BASELINES  # the emission lines', then the images'
        self.assertEqual(domains.known_baselines(), every)
        self.assertEqual(training.BASELINES, every)
        self.assertEqual(tuple(images.DOMAIN.baselines), images.BASELINES)
        self.assertEqual(tuple(el.DOMAIN.baselines), el.BASELINES)


if __name__ == "__main__":
    absltest.main()
