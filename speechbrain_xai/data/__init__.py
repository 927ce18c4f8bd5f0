"""Data sets the project can always run on (no network needed)."""

from speechbrain_xai.data.real_recordings import prepare_real_recordings
from speechbrain_xai.data.vocalmix import prepare_vocalmix
from speechbrain_xai.data.vocalmix_synthesis import synthesize_clip
from speechbrain_xai.data.voice_scenes import prepare_voice_scenes

__all__ = ["prepare_real_recordings", "prepare_vocalmix", "prepare_voice_scenes",
           "synthesize_clip"]
