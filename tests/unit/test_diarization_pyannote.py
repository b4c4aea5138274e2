"""The pyannote engine against a real pyannote.audio pipeline loaded from a local directory.

pyannote's pretrained weights cannot be downloaded here, so the pipeline directory is built with
randomly initialised models in the layout pyannote writes (config.yaml, segmentation/, embedding/,
plda/), which exercises Budgie's real loading, in-memory audio hand-off and output conversion; the
turns themselves are meaningless. Runs wherever pyannote.audio imports (GPU hosts, or a venv set up
as in docs/diarization.md); skipped otherwise.
"""

import numpy as np
import pytest

from core.settings import get_settings
from workers.engines.diarization import SpeakerBounds, get_diarizer

pyannote_audio = pytest.importorskip("pyannote.audio", exc_type=ImportError)

CONFIG = """version: 4.0.0
pipeline:
  name: pyannote.audio.pipelines.SpeakerDiarization
  params:
    segmentation: $model/segmentation
    embedding: $model/embedding
    plda: $model/plda
    clustering: VBxClustering
    embedding_batch_size: 8
    segmentation_batch_size: 8
params:
  segmentation:
    min_duration_off: 0.0
  clustering:
    threshold: 0.6
    Fa: 0.07
    Fb: 0.8
"""


def _save(model, spec, path):
    import lightning
    import torch

    torch.save(
        {
            "state_dict": model.state_dict(),
            "hyper_parameters": dict(model.hparams),
            "pytorch-lightning_version": lightning.__version__,
            "pyannote.audio": {
                "versions": {"pyannote.audio": pyannote_audio.__version__, "torch": torch.__version__},
                "architecture": {"module": type(model).__module__, "class": type(model).__name__},
                "specifications": spec,
            },
        },
        path,
    )


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory):
    import torch
    from pyannote.audio.core.task import Problem, Resolution, Specifications
    from pyannote.audio.models.embedding import WeSpeakerResNet34
    from pyannote.audio.models.segmentation import PyanNet

    out = tmp_path_factory.mktemp("pyannote-pipeline")
    for sub in ("segmentation", "embedding", "plda"):
        (out / sub).mkdir()
    torch.manual_seed(0)
    seg = PyanNet(sample_rate=16000, num_channels=1)
    seg_spec = Specifications(
        problem=Problem.MONO_LABEL_CLASSIFICATION,
        resolution=Resolution.FRAME,
        duration=10.0,
        classes=[f"speaker#{i}" for i in range(3)],
        powerset_max_classes=2,
        permutation_invariant=True,
    )
    seg.specifications = seg_spec
    seg.build()
    _save(seg, seg_spec, out / "segmentation" / "pytorch_model.bin")
    emb = WeSpeakerResNet34(sample_rate=16000)
    emb_spec = Specifications(problem=Problem.REPRESENTATION, resolution=Resolution.CHUNK, duration=10.0)
    emb.specifications = emb_spec
    _save(emb, emb_spec, out / "embedding" / "pytorch_model.bin")
    rng = np.random.default_rng(0)
    np.savez(
        out / "plda" / "xvec_transform.npz",
        mean1=rng.normal(size=256),
        mean2=rng.normal(size=128),
        lda=rng.normal(size=(256, 128)),
    )
    np.savez(
        out / "plda" / "plda.npz",
        mu=rng.normal(size=128),
        tr=np.eye(128) + 0.01 * rng.normal(size=(128, 128)),
        psi=np.abs(rng.normal(size=128)) + 0.1,
    )
    (out / "config.yaml").write_text(CONFIG)
    return out


def test_local_pyannote_pipeline_runs_through_budgie(pipeline_dir, speech_dir):
    from bench.diarize import LINES, make_dialogue

    dialogue = make_dialogue(speech_dir, "pyannote_two", [("A", LINES[0]), ("B", LINES[1])], 0.5)
    diarizer = get_diarizer(get_settings().replace(diarizer="pyannote", pyannote_model=str(pipeline_dir)))
    assert diarizer.name == "pyannote"
    for bounds in (SpeakerBounds(), SpeakerBounds(num=2), SpeakerBounds(min=1, max=3)):
        turns = diarizer.diarize(dialogue.wav, bounds)
        assert turns, "random weights still mark speech somewhere"
        assert all(set(t) == {"speaker", "start", "end"} for t in turns)
        assert all(0.0 <= t["start"] < t["end"] <= dialogue.duration + 0.1 for t in turns)
        assert turns[0]["speaker"] == "SPEAKER_00"
        assert turns == sorted(turns, key=lambda t: (t["start"], t["end"]))
