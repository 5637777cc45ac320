"""The autoencoder family (AE, CAE, VAE, CVAE, AAE) and the PCA baseline.

Every model shares one interface (:class:`Autoencoder`), which is what the
distributed training loop relies on; :func:`build_model` makes one by name so
configs and command lines can say ``"cvae"`` instead of importing a class.
"""

from __future__ import annotations

import numbers

from tfelg.models.aae import AAE
from tfelg.models.base import Autoencoder, positive_int, weighted_squared_error
from tfelg.models.conv import CAE
from tfelg.models.dense import AE
from tfelg.models.gan import GAN
from tfelg.models.pca import PCA
from tfelg.models.simclr import SimCLR
from tfelg.models.vae import CVAE, VAE, GaussianSampling, MixturePrior, NormalPrior

MODEL_REGISTRY = {
    "ae": AE,
    "cae": CAE,
    "vae": VAE,
    "cvae": CVAE,
    "aae": AAE,
    "simclr": SimCLR,
    "gan": GAN,
}


def model_names(input_kind: str | None = None) -> tuple[str, ...]:
    """Registered model names, sorted; ``input_kind`` ``"vector"`` (the autoencoders
    of line or spectrum vectors) or ``"image"`` (classes with ``INPUT_KIND = "image"``)."""
    return tuple(
        sorted(
            name
            for name, cls in MODEL_REGISTRY.items()
            if input_kind is None or getattr(cls, "INPUT_KIND", "vector") == input_kind
        )
    )


__all__ = [
    "AAE",
    "AE",
    "CAE",
    "CVAE",
    "GAN",
    "MODEL_REGISTRY",
    "PCA",
    "SimCLR",
    "VAE",
    "Autoencoder",
    "GaussianSampling",
    "MixturePrior",
    "NormalPrior",
    "build_model",
    "model_names",
    "weighted_squared_error",
]


def _num_features(num_features) -> int:
    """F from an int or an input shape such as ``(F,)`` or ``(None, F)``."""
    if isinstance(num_features, numbers.Integral) and not isinstance(num_features, bool):
        return int(num_features)
    try:
        dims = [d for d in tuple(num_features)]
    except TypeError:
        raise ValueError(
            f"num_features must be an int or an input shape (F,) / (None, F), got {num_features!r}"
        ) from None
    if len(dims) == 2 and dims[0] is None:
        dims = dims[1:]
    if len(dims) != 1 or not isinstance(dims[0], numbers.Integral):
        raise ValueError(
            "tfelg's autoencoders take flat feature vectors: input shape must be (F,) or "
            f"(None, F), got {tuple(num_features)!r}"
        )
    return int(dims[0])


def build_model(name: str, num_features=None, latent_dim=None, *, input_shape=None, **kwargs):
    """Makes the model called ``name`` (one of ``MODEL_REGISTRY``).

    Args:
      name: ``"ae"``, ``"cae"``, ``"vae"``, ``"cvae"`` or ``"aae"`` (any case).
      num_features: F, or an input shape ``(F,)`` / ``(None, F)``.
      latent_dim: d >= 1.
      input_shape: alternative keyword for ``num_features`` as a shape.
      **kwargs: the model's own arguments (``hidden_units``, ``beta``,
        ``noise_std``, ``prior``, ``seed``, ...).

    Raises:
      ValueError: unknown name, or bad num_features / latent_dim.
    """
    known = ", ".join(sorted(MODEL_REGISTRY))
    key = name.lower() if isinstance(name, str) else name
    if key not in MODEL_REGISTRY:
        raise ValueError(f"unknown model {name!r}; known models: {known}")
    if num_features is None and input_shape is None:
        raise ValueError("build_model needs num_features (or input_shape)")
    if num_features is not None and input_shape is not None:
        raise ValueError("give num_features or input_shape, not both")
    features = _num_features(num_features if num_features is not None else input_shape)
    try:
        latent_dim = positive_int(latent_dim, "latent_dim")
    except ValueError:
        raise ValueError(
            f"latent_dim must be an integer >= 1 for model {key!r} (known models: {known}); "
            f"got {latent_dim!r}"
        ) from None
    return MODEL_REGISTRY[key](num_features=features, latent_dim=latent_dim, **kwargs)
