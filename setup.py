"""tfelg: unsupervised classes of galaxies, on TensorFlow.

The repository keeps DESIGN.md's top-level folders (`datasets/`,
`components/`, `pipelines/`) but installs them as `tfelg_datasets`,
`tfelg_components` and `tfelg_pipelines`: bare top-level names such as
`datasets` would shadow Hugging Face's `datasets` package in the same
environment.

Exact versions for a reproducible install are in constraints.txt
(`pip install -c constraints.txt -e .[dev]`, which is what `make` does).
"""

import setuptools

INSTALL_REQUIRES = [
    "tensorflow>=2.21,<2.22",
    "keras>=3.12,<4",
    "tensorflow-probability>=0.25,<0.26",
    # Only so that TensorFlow Probability imports under Keras 3; tfelg never
    # builds a tf_keras object.
    "tf-keras>=2.21,<2.22",
    "tensorflow-datasets>=4.9.10,<4.10",
    "tensorboard>=2.21,<2.22",
    "astropy>=7",
    "scikit-learn>=1.5",
    "scipy>=1.13",
    # tfelg/analysis/threads.py caps the BLAS/OpenMP pools of the scikit-learn
    # and NumPy steps with it (scikit-learn pulls it in too, but tfelg imports
    # it directly; tests/dependencies_test.py checks every such import).
    "threadpoolctl>=3.1",
    "openTSNE>=1.0",
    "absl-py>=2.1",
    "matplotlib>=3.9",
    "numpy>=1.26",
    "tqdm>=4.66",
    # Imported directly, though Keras and matplotlib bring them too:
    # tfelg/models/features.py reads Keras HDF5 weight files with h5py,
    # tfelg/outputs/projector.py writes the projector's sprite with Pillow.
    "h5py>=3.10",
    "pillow>=10",
    "etils[epath]>=1.9",
    # tensorflow-datasets 4.9.10 imports it but does not declare it.
    "importlib_resources>=6",
    # The image branch: GalSim renders the synthetic HST galaxies through the
    # real ACS/WFC3 bandpasses, photutils detects and segments sources,
    # statmorph measures non-parametric morphology, scikit-image ships the
    # Hubble Deep Field image.
    "galsim>=2.8,<2.9",
    "photutils>=3.0,<3.1",
    "statmorph>=0.7.2,<0.8",
    "scikit-image>=0.24",
]

EXTRAS = {
    # Beam-generated TFDS datasets; mlcroissant because TFDS 4.9.10's `tfds`
    # command line imports it (and apache_beam) before doing anything.
    "beam": ["apache-beam>=2.77,<2.78", "mlcroissant>=1.1"],
    # Compiling pipelines to Kubeflow Pipelines (KFP v2) specs.
    "kfp": ["kfp>=2.17,<2.18", "pyyaml>=6"],  # pyyaml: kfp_export reads the compiled spec
    "gpu": ["tensorflow[and-cuda]>=2.21,<2.22"],
    "dev": ["pytest>=8", "pytest-xdist>=3.6", "ruff>=0.8", "dill>=0.3"],  # dill: tfds.testing
}

# Every dataset folder under datasets/ (tfds-new layout) is a package.
DATASET_PACKAGES = [f"tfelg_datasets.{name}" for name in setuptools.find_packages("datasets")]

# What a plain (non-editable) `pip install .` must carry besides Python
# files: each dataset's TFDS metadata and the dummy_data/ its shipped test
# reads, the demo's flag file, the component model's documentation.
# tests/packaging_test.py builds the sdist and a wheel from it and checks
# these are in both. MANIFEST.in adds the files only the sdist needs.
PACKAGE_DATA = {
    **{
        package: ["*.bib", "*.txt", "*.tsv", "*.md", "dummy_data/**/*"]
        for package in DATASET_PACKAGES
    },
    "tfelg_pipelines": ["*.flags"],
    "tfelg_components": ["*.md"],
}

setuptools.setup(
    name="tfelg",
    version="0.1.0",
    description="Unsupervised classes of galaxies (emission-line spectra, HST images) on TensorFlow",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10,<3.13",
    packages=(
        setuptools.find_packages(include=["tfelg", "tfelg.*"])
        + ["tfelg_datasets"]
        + DATASET_PACKAGES
        + ["tfelg_components", "tfelg_pipelines"]
    ),
    package_dir={
        "tfelg_datasets": "datasets",
        "tfelg_components": "components",
        "tfelg_pipelines": "pipelines",
    },
    package_data=PACKAGE_DATA,
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS,
    entry_points={
        "console_scripts": [
            "tfelg-classify=tfelg.cli.classify:run",
            "tfelg-dataset=tfelg.cli.dataset:run",
            "tfelg-pipeline=tfelg.cli.pipeline:run",
            "tfelg-analyze=tfelg.cli.analyze:run",
            "tfelg-train=tfelg.cli.train:run",
            "tfelg-latent-sweep=tfelg.cli.latent_sweep:run",
            "tfelg-morphology=tfelg.cli.morphology:run",
            "tfelg-generate=tfelg.cli.generate:run",
            "tfelg-embed=tfelg.cli.embed:run",
        ],
    },
    classifiers=[
        "Programming Language :: Python :: 3.11",
        "Topic :: Scientific/Engineering :: Astronomy",
    ],
)
