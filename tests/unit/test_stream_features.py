"""The incremental featurizer reproduces NeMo's offline log-mel features exactly, however audio is split."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import TEST_MODEL


@pytest.fixture(scope="module")
def model(test_model_paths):
    from nemo.collections.asr.models import ASRModel

    return ASRModel.restore_from(str(test_model_paths[TEST_MODEL]), map_location="cpu").eval()


@pytest.mark.parametrize("seed,n", [(0, 16000), (1, 12345), (2, 800)])
def test_streamed_features_equal_offline(model, seed, n):
    from workers.streaming.features import StreamingFeaturizer

    rng = np.random.default_rng(seed)
    audio = (0.1 * rng.standard_normal(n)).astype(np.float32)
    with torch.inference_mode():
        ref, ref_len = model.preprocessor(input_signal=torch.from_numpy(audio)[None], length=torch.tensor([n]))
    feat = StreamingFeaturizer(model.preprocessor)
    parts, i = [], 0
    while i < n:
        step = int(rng.integers(1, 2500))
        parts.append(feat.push(audio[i : i + step]))
        i += step
    parts.append(feat.finish())
    ours = torch.cat(parts, dim=1)
    assert ours.shape[1] == int(ref_len[0]) == n // 160
    assert torch.allclose(ours, ref[0, :, : ref_len[0]], atol=1e-4)
    assert feat._buf.size <= 512 + 160 + 512  # only the STFT tail is kept


def test_normalized_preprocessor_is_refused(model):
    import copy

    from workers.streaming.features import StreamingFeaturizer

    pre = copy.deepcopy(model.preprocessor)
    pre.featurizer.normalize = "per_feature"
    with pytest.raises(ValueError, match="per_feature"):
        StreamingFeaturizer(pre)
