"""The pipeline registry: names to modules, clear errors for unknown names."""

from absl.testing import absltest

from tfelg_components.pipeline import PipelineError
from tfelg_pipelines import registry


class RegistryTest(absltest.TestCase):
    def test_known_pipeline_is_imported_on_demand(self):
        pipeline = registry.get_pipeline("toy")
        self.assertEqual(pipeline.name, "toy")
        self.assertIn("factor", pipeline.params)
        self.assertIn("toy", registry.known_pipelines())

    def test_unknown_pipeline_lists_the_known_ones(self):
        with self.assertRaisesRegex(
            PipelineError, "unknown pipeline 'nope'; known pipelines: .*toy"
        ):
            registry.get_pipeline("nope")

    def test_a_name_is_registered_once(self):
        registry.register_pipeline("registry_test_a", lambda params: [], {"k": 1})
        self.assertEqual(registry.get_pipeline("registry_test_a").params["k"].default, 1)
        with self.assertRaisesRegex(PipelineError, "already registered"):
            registry.register_pipeline("registry_test_a", registry.known_pipelines)


if __name__ == "__main__":
    absltest.main()
