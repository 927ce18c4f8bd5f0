"""Data sets the project can always run on (no network needed)."""

from speechbrain_xai.data.vocalmix import prepare_vocalmix
from speechbrain_xai.data.vocalmix_synthesis import synthesize_clip

__all__ = ["prepare_vocalmix", "synthesize_clip"]
