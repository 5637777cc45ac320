"""Tests for tfelg.training.config: defaults, JSON round trip, validation."""

import dataclasses
import json

from absl.testing import absltest, parameterized

from tfelg.training.config import (
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    RuntimeConfig,
    TrainerConfig,
)


class ExperimentConfigTest(parameterized.TestCase):
    def test_defaults_follow_the_reference(self):
        config = ExperimentConfig()
        self.assertEqual(config.data.dataset, "emission_lines/synthetic")
        self.assertEqual(config.data.input, "lines")
        self.assertEqual(config.trainer.batch_size, 200)
        self.assertEqual(config.trainer.learning_rate, 1e-3)
        self.assertEqual(config.runtime.strategy, "default")
        config.validate()

    def test_json_round_trip(self):
        config = ExperimentConfig(
            data=DataConfig(num_galaxies=300, dataset_seed=3, input="spectrum"),
            model=ModelConfig(name="vae", latent_dim=4, options={"beta": 0.01}),
            trainer=TrainerConfig(epochs=3, seed=7),
            runtime=RuntimeConfig(strategy="mirrored", jit_compile=True),
        )
        text = config.to_json()
        self.assertEqual(json.loads(text)["model"]["options"], {"beta": 0.01})
        self.assertEqual(ExperimentConfig.from_json(text), config)

    def test_missing_keys_default_and_unknown_keys_fail(self):
        self.assertEqual(ExperimentConfig.from_dict({}), ExperimentConfig())
        with self.assertRaisesRegex(ValueError, "unknown keys in config section 'trainer'"):
            ExperimentConfig.from_dict({"trainer": {"epoch": 3}})
        with self.assertRaisesRegex(ValueError, "unknown config sections: optimiser"):
            ExperimentConfig.from_dict({"optimiser": {}})

    def test_result_dict_leaves_out_the_runtime(self):
        a = ExperimentConfig()
        b = dataclasses.replace(a, runtime=RuntimeConfig(strategy="mirrored"))
        self.assertEqual(a.result_dict(), b.result_dict())
        self.assertNotIn("runtime", a.result_dict())

    @parameterized.named_parameters(
        ("unknown_model", {"model": ModelConfig(name="wgan")}, "unknown model.name 'wgan'"),
        (
            "image_model_on_lines",
            {"model": ModelConfig(name="gan")},
            "model 'gan' trains on images",
        ),
        ("zero_latent", {"model": ModelConfig(latent_dim=0)}, "latent_dim must be >= 1"),
        ("float_latent", {"model": ModelConfig(latent_dim=2.5)}, "latent_dim must be an integer"),
        ("dataset", {"data": DataConfig(dataset="galaxy_zoo")}, "unknown dataset 'galaxy_zoo'"),
        ("input", {"data": DataConfig(input="pixels")}, "unknown data.input 'pixels'"),
        (
            "image_input_on_lines",
            {"data": DataConfig(input="image")},
            r"data.input 'image' does not fit dataset 'emission_lines/synthetic'",
        ),
        (
            "lines_input_on_images",
            {"data": DataConfig(dataset="hst_galaxies/synthetic")},
            r"hst_galaxies holds images, use input 'image'",
        ),
        ("tiny_sample", {"data": DataConfig(num_galaxies=3)}, "num_galaxies must be >= 10"),
        ("epochs", {"trainer": TrainerConfig(epochs=0)}, "epochs must be >= 1"),
        ("batch", {"trainer": TrainerConfig(batch_size=0)}, "batch_size must be >= 1"),
        ("lr", {"trainer": TrainerConfig(learning_rate=0.0)}, "learning_rate must be"),
        ("lr_inf", {"trainer": TrainerConfig(learning_rate=float("inf"))}, "finite number in"),
        ("lr_nan", {"trainer": TrainerConfig(learning_rate=float("nan"))}, "finite number in"),
        ("lr_1e300", {"trainer": TrainerConfig(learning_rate=1e300)}, r"in \(0, 1\], got 1e\+300"),
        ("lr_2", {"trainer": TrainerConfig(learning_rate=2.0)}, "learning_rate must be"),
        ("strategy", {"runtime": RuntimeConfig(strategy="horovod")}, "unknown runtime.strategy"),
    )
    def test_validate_names_the_bad_setting(self, change, message):
        config = dataclasses.replace(ExperimentConfig(), **change)
        with self.assertRaisesRegex(ValueError, message):
            config.validate()

    def test_learning_rates_in_range_accepted(self):
        for rate in (1e-6, 1e-3, 0.5, 1.0):
            config = dataclasses.replace(
                ExperimentConfig(), trainer=TrainerConfig(learning_rate=rate)
            )
            config.validate()


if __name__ == "__main__":
    absltest.main()
