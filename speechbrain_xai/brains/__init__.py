"""SpeechBrain ``Brain`` subclasses: training L-MAC decoders and GANs, the
activation-maximisation search, and the evaluation harness that scores any set
of registered explainers on a data set.

Names are imported lazily (see ``speechbrain_xai/__init__.py``).
"""
