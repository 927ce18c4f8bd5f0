"""Shared fixtures: tiny seeded classifiers in each layout the adapter knows."""

import pytest
import torch


@pytest.fixture
def tiny_modules():
    """Fbank + sentence norm + SmallCNN + head: the recipe's layout, tiny."""
    from speechbrain.lobes.features import Fbank
    from speechbrain.processing.features import InputNormalization

    from speechbrain_xai.lobes.classifiers import ClassifierHead, SmallCNN

    torch.manual_seed(0)
    return dict(
        compute_features=Fbank(n_mels=24),
        mean_var_norm=InputNormalization(norm_type="sentence", std_norm=False),
        embedding_model=SmallCNN(n_mels=24, channels=(4, 8), emb_dim=16).eval(),
        classifier=ClassifierHead(16, 3),
    )


@pytest.fixture
def tiny_adapter(tiny_modules):
    from speechbrain_xai.adapter import ClassifierAdapter

    return ClassifierAdapter.from_modules(
        sample_rate=16000, class_names=["a", "b", "c"], **tiny_modules
    )
