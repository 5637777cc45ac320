"""Latent-space analysis: mixtures, model selection, matching, t-SNE."""
