"""What the shared components need to know about one kind of galaxy data: a Domain.

The shared components (training.py, analysis.py, outputs.py) do the same for
spectra as for images; what differs is gathered in a Domain, declared by the
module of that domain's dataset component (emission_lines.py for now):

* `class_names`: the label names of a built dataset, stored with every
  representation (tfelg.analysis.embeddings.Embeddings.class_names);
* `baselines`: the classical representations the model is compared with,
  by name (for emission lines: PCA at the model's latent dimension and the
  line ratios);
* `thumbnails`: one small picture per galaxy for the projector's sprite
  (rendered spectra, three-band stamps);
* `schemes`: the label keys that clusters are compared with (for emission
  lines WHAN, BPT and the synthetic true class), in the order a summary lists
  them.

A Dataset artifact names its domain: the NAME of NAME/CONFIG in its
`dataset.json` (common.DATASET_JSON). So a pipeline for another kind of data
is its own dataset component, a Domain, and the same shared components wired
with its parameters. A new domain is one module that calls `register_domain`
and one line in `DOMAIN_MODULES`.

The domain's functions are called inside components, not hashed with them:
bump the version of the components that call one when it changes what they
write.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping

from tfelg_components.base import Dataset, ParameterError

#: Dataset NAME -> the module that registers its Domain (imported when asked for).
DOMAIN_MODULES = {
    "emission_lines": "tfelg_components.emission_lines",
    "hst_galaxies": "tfelg_components.images",
}

_DOMAINS: dict[str, Domain] = {}


@dataclasses.dataclass(frozen=True)
class Domain:
    """One kind of data, as the shared components see it (see the module's docstring).

    Attributes:
      name: the TFDS dataset NAME (of NAME/CONFIG).
      class_names: builder -> {label key: class names}.
      baselines: name -> fn(splits, model_config, class_names) -> Embeddings,
        where splits are {split: arrays} (common.load_dataset) and
        model_config the trained model's config.json as a dict. Listed in the
        order the exporter writes them.
      thumbnails: (builder, splits) -> (N, h, w[, 3]) images, rows in the
        order train, validation, test.
      schemes: label keys clusters are compared with.
      thumbnail_features: builder -> the feature names `thumbnails` reads
        (None: all); the projector parses only these, and only for the
        galaxies it shows (a million spectra do not fit in memory).
      thumbnail_drawer: builder -> None, or a function drawing the
        thumbnails of one batch of rows ({feature: arrays} -> images, the
        same as `thumbnails` gives those rows) where a galaxy's thumbnail
        depends on that galaxy alone: the projector then draws them as it
        reads (common.load_thumbnails). None (the default): `thumbnails`
        draws them all at once (a display shared by all stamps, or
        statistics of the training split).
      batch_baselines: name -> fn(model_config, trained model) ->
        tfelg.analysis.embeddings.BatchEncoder: the same baseline computed
        batch by batch. When every chosen baseline has one, the exporter
        streams the data set through them and the model (memory does not
        grow with the number of galaxies); otherwise it reads the splits
        whole and calls `baselines`.
    """

    name: str
    class_names: Callable
    baselines: Mapping[str, Callable]
    thumbnails: Callable
    schemes: tuple[str, ...]
    thumbnail_features: Callable = lambda builder: None
    thumbnail_drawer: Callable = lambda builder: None
    batch_baselines: Mapping[str, Callable] = dataclasses.field(default_factory=dict)

    def chosen_baselines(self, names: list[str] | None) -> list[str]:
        """`names` in this domain's order (None: all of them).

        The exporter's `baselines` parameter can only be checked against the
        union of every domain's names when a pipeline is built (the domain
        is known once the dataset is): here it is checked against this
        domain's, before any data are read.

        Raises:
          ParameterError: naming the parameter, the first name that is not
            this domain's, and this domain's names.
        """
        if names is None:
            return list(self.baselines)
        for i, name in enumerate(names):
            if name not in self.baselines:
                raise ParameterError(
                    f"'baselines' item {i} must be one of the {self.name} baselines: "
                    f"{', '.join(self.baselines) or '(none)'}, got {name!r}"
                )
        return [n for n in self.baselines if n in names]


def register_domain(domain: Domain) -> Domain:
    """Registers (and returns) `domain`; its module may register it again (run as __main__)."""
    known = _DOMAINS.get(domain.name)
    if known is not None and known.class_names.__qualname__ != domain.class_names.__qualname__:
        raise ValueError(f"domain {domain.name!r} is already registered")
    _DOMAINS[domain.name] = domain
    return domain


def get_domain(name: str) -> Domain:
    """The Domain of dataset NAME (or NAME/CONFIG), importing its module; ValueError if none."""
    name = name.partition("/")[0]
    if name not in _DOMAINS and name in DOMAIN_MODULES:
        importlib.import_module(DOMAIN_MODULES[name])
    if name not in _DOMAINS:
        raise ValueError(
            f"no domain for dataset {name!r}; known: {', '.join(sorted(DOMAIN_MODULES))}"
        )
    return _DOMAINS[name]


def domain_of(dataset: Dataset) -> Domain:
    """The Domain of a Dataset artifact, from the dataset name in its dataset.json."""
    from tfelg_components import common

    return get_domain(common.read_json(dataset.path(common.DATASET_JSON))["dataset"])


def known_baselines() -> tuple[str, ...]:
    """Every domain's baseline names (each once, in domain order): the exporter's choices."""
    names: list[str] = []
    for module in DOMAIN_MODULES:
        names += [b for b in get_domain(module).baselines if b not in names]
    return tuple(names)
