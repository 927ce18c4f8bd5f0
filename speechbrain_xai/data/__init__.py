"""Data sets the project can always run on (no network needed)."""

from speechbrain_xai.data.vocalmix import prepare_vocalmix, synthesize_clip

__all__ = ["prepare_vocalmix", "synthesize_clip"]
