"""Feature extractors (tfelg/models/features.py): pooled features, weights files, preprocessing."""

import os

import h5py
import numpy as np
import tensorflow as tf
from keras.applications import resnet50 as keras_resnet50

from tfelg.errors import InputError
from tfelg.models import features
from tfelg.testing.toy_images import toy_stamps


class PreprocessingTest(tf.test.TestCase):
    def test_band_scaling_is_the_training_loops_stretch(self):
        from tfelg.training import images as images_lib

        rng = np.random.default_rng(0)
        sigma = np.array([0.5, 2.0, 8.0], np.float32)
        images = rng.normal(size=(20, 64, 64, 3)).astype(np.float32) * sigma
        scaling = features.band_scaling(images)
        np.testing.assert_allclose(scaling.scale, sigma, rtol=0.03)
        expected = images_lib.ImagePreprocessor.fit({"image": images}).scale_images(images[:3])
        np.testing.assert_array_equal(features.apply_preprocessing(scaling, images[:3]), expected)
        self.assertEqual(features.describe_preprocessing(scaling)["kind"], "bands")

    def test_rgb_display_keeps_colour_and_is_caffe_preprocessed(self):
        images, kind = toy_stamps(8, seed=1, noise=0.0)
        display = features.RgbDisplay.fit(images)
        rgb = display.rgb(images)
        self.assertAllInRange(rgb, 0.0, 255.0)
        centre = rgb[:, 30:34, 30:34].mean(axis=(1, 2))  # (N, 3) R, G, B
        red, blue = centre[kind == 0], centre[kind == 1]
        self.assertTrue(np.all(red[:, 0] > red[:, 2]), red)  # red galaxies: R > B
        self.assertTrue(np.all(blue[:, 2] > blue[:, 0]), blue)  # blue galaxies: B > R
        # caffe: RGB -> BGR, ImageNet means subtracted, no scaling.
        mean_bgr = np.array([103.939, 116.779, 123.68], np.float32)
        np.testing.assert_allclose(display(images), rgb[..., ::-1] - mean_bgr, atol=1e-4)
        self.assertEqual(features.describe_preprocessing(display)["stretch"], display.stretch)

    def test_nan_image_is_named_by_row(self):
        images, _ = toy_stamps(4)
        images[2, 5, 5, 1] = np.nan
        with self.assertRaisesRegex(InputError, r"row 2.*NaN"):
            features.band_scaling(images)
        with self.assertRaisesRegex(InputError, r"three bands"):
            features.check_images(np.zeros((2, 64, 64, 4)))


class SmallResnetTest(tf.test.TestCase):
    def test_pooled_features_seeded(self):
        images, _ = toy_stamps(6)
        a = features.make_extractor("small_resnet", fit_images=images, seed=3)
        b = features.make_extractor("small_resnet", fit_images=images, seed=3)
        c = features.make_extractor("small_resnet", fit_images=images, seed=4)
        fa, fb, fc = a(images, batch_size=4), b(images), c(images)
        self.assertEqual(fa.shape, (6, 256))
        self.assertEqual(a.name, "small_resnet_random")
        np.testing.assert_allclose(fa, fb, rtol=1e-5, atol=1e-6)
        self.assertGreater(np.abs(fa - fc).max(), 1e-3)
        # Pooled ReLU activations, not probabilities: non-negative, rows do not sum to 1.
        self.assertAllGreaterEqual(fa, 0.0)
        self.assertNotAllClose(fa.sum(axis=1), np.ones(6))
        self.assertEqual(a.info["preprocessing"]["kind"], "bands")

    def test_weights_file_of_the_same_architecture_roundtrips(self):
        images, _ = toy_stamps(4)
        path = os.path.join(self.get_temp_dir(), "small.weights.h5")
        source = features.make_extractor("small_resnet", fit_images=images, seed=7)
        source.network.save_weights(path)
        loaded = features.make_extractor("small_resnet", path, fit_images=images, seed=0)
        self.assertEqual(loaded.info["weights"], path)
        np.testing.assert_allclose(loaded(images), source(images), rtol=1e-5, atol=1e-6)


class Resnet50Test(tf.test.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.images, cls.kind = toy_stamps(4, seed=2)
        cls.tmp = tf.compat.v1.test.get_temp_dir()
        cls.source = features.resnet50((64, 64, 3), seed=11)
        cls.path = os.path.join(cls.tmp, "r50.weights.h5")
        cls.source.save_weights(cls.path)

    def test_imagenet_file_loads_with_caffe_preprocessing(self):
        extractor = features.make_extractor("resnet50", self.path, fit_images=self.images)
        self.assertEqual(extractor.name, "resnet50_imagenet")
        self.assertEqual(extractor.feature_dim, 2048)
        got = extractor(self.images)
        display = features.RgbDisplay.fit(self.images)
        expected = self.source(keras_resnet50.preprocess_input(display.rgb(self.images))).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)

    def test_legacy_h5_file_as_keras_distributes_imagenet_weights(self):
        from keras.src.legacy.saving import legacy_h5_format

        path = os.path.join(self.get_temp_dir(), "resnet50_notop.h5")
        with h5py.File(path, "w") as f:
            legacy_h5_format.save_weights_to_hdf5_group(f, self.source)
        extractor = features.make_extractor("resnet50", path, fit_images=self.images)
        display = features.RgbDisplay.fit(self.images)
        expected = self.source(keras_resnet50.preprocess_input(display.rgb(self.images))).numpy()
        np.testing.assert_allclose(extractor(self.images), expected, rtol=1e-4, atol=1e-5)
        # A legacy file with one layer's kernel of the wrong shape.
        with h5py.File(path, "r+") as f:
            group = f["conv1_conv"]
            name = str(np.char.decode(np.asarray(group.attrs["weight_names"], "S"))[0])
            del group[name]
            group.create_dataset(name, data=np.zeros((3, 3, 3, 64), np.float32))
        with self.assertRaisesRegex(
            InputError, r"layer 'conv1_conv' expects kernel \(7, 7, 3, 64\).*\(3, 3, 3, 64\)"
        ):
            features.make_extractor("resnet50", path, fit_images=self.images)

    def test_wrong_architecture_names_the_layer_and_shapes(self):
        path = os.path.join(self.get_temp_dir(), "small.weights.h5")
        features.small_resnet((64, 64, 3)).save_weights(path)
        with self.assertRaisesRegex(
            InputError,
            r"small.weights.h5: weights of another architecture or shape: layer 'conv1_conv' "
            r"\(Conv2D, file entry layers/conv2d\) expects kernel \(7, 7, 3, 64\), bias \(64,\); "
            r"the file holds \(3, 3, 3, 32\) there",
        ):
            features.make_extractor("resnet50", path, fit_images=self.images)

    def test_wrong_input_channels_names_the_layer(self):
        path = os.path.join(self.get_temp_dir(), "four_band.weights.h5")
        features.resnet50((64, 64, 4)).save_weights(path)
        with self.assertRaisesRegex(InputError, r"'conv1_conv'.*\(7, 7, 3, 64\).*\(7, 7, 4, 64\)"):
            features.make_extractor("resnet50", path, fit_images=self.images)

    def test_missing_file_and_upsampled_input(self):
        with self.assertRaisesRegex(InputError, "nowhere.h5: weights file not found"):
            features.make_extractor("resnet50", "/nowhere.h5", fit_images=self.images)
        extractor = features.make_extractor("resnet50", fit_images=self.images, input_size=96)
        self.assertEqual(extractor.network.input_shape, (None, 64, 64, 3))
        self.assertEqual(extractor.info["input_size"], 96)
        self.assertEqual(extractor(self.images[:2]).shape, (2, 2048))
        with self.assertRaisesRegex(ValueError, "at least 32 pixels"):
            features.make_extractor("resnet50", fit_images=self.images, input_size=16)


if __name__ == "__main__":
    tf.test.main()
