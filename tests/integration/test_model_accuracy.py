"""The embedded model says the right words, through every serving path.

Held-out sentences (``train/heldout_sentences.txt``, never trained on) spoken by trained espeak-ng voices go
through the real batch API (HTTP -> Redis -> Celery worker) and a real streaming worker (cache-aware, the
largest lookahead) over a real WebSocket. The WER bound sits a margin above what ``bench/model_wer.py``
measured for the shipped weights (``train/MODEL_CARD.md``): it catches a broken decode path, a wrong
tokenizer or a serving regression, not noise. Serving must also not change a single word: batch equals the
model's own ``transcribe()`` and streaming equals batch, clip for clip.
"""

from __future__ import annotations

import io
from pathlib import Path

import jiwer
import numpy as np
import pytest
import soundfile as sf

from tests.conftest import SHIPPED_MODEL, test_settings, wait_for
from tests.speech import synthesize
from train.data import EVAL_TRAINED_VOICES as TRAINED_VOICES
from train.data import heldout_sentences

N_CLIPS = 12
MAX_WER = 0.25  # bench/model_wer.py on 150 held-out clips: 0.111 (train/MODEL_CARD.md); 12 clips vary more
MAX_WORD_TIME_ERROR_S = 0.12  # mean |start| and |end| error; bench/model_wer.py: 83 ms start, 62 ms end
TERMINAL = {"completed", "failed", "cancelled"}


@pytest.fixture(scope="module")
def clips(speech_dir) -> list[tuple[Path, str]]:
    out = []
    for k, text in enumerate(heldout_sentences("test")[:N_CLIPS]):
        path = synthesize(
            text, speech_dir / f"heldout{k:02d}.wav", voice=TRAINED_VOICES[k % len(TRAINED_VOICES)], rate=160
        )
        out.append((path, text))
    return out


def submit_and_wait(client, paths: list[Path], **form) -> list[dict]:
    """Submit every file first (the worker drains the queue), then collect each finished job."""
    ids = []
    for path in paths:
        data = {
            "file": (io.BytesIO(path.read_bytes()), path.name),
            "model": SHIPPED_MODEL,
            **{k: str(v) for k, v in form.items()},
        }
        created = client.post("/v1/audio/transcriptions", data=data, content_type="multipart/form-data")
        assert created.status_code == 201, created.get_json()
        ids.append(created.get_json()["id"])
    jobs = []
    for job_id in ids:
        job = wait_for(
            lambda job_id=job_id: (
                (r := client.get(f"/v1/audio/transcriptions/{job_id}").get_json())["status"] in TERMINAL and r
            ),
            timeout=120,
            interval=0.2,
            what=f"job {job_id}",
        )
        assert job["status"] == "completed", job.get("error")
        jobs.append(job)
    return jobs


@pytest.fixture(scope="module")
def api(redis_client):
    from app import create_app

    return create_app(test_settings(default_model=SHIPPED_MODEL), testing=True).test_client()


@pytest.fixture(scope="module")
def batch_jobs(api, celery_worker, clips) -> list[dict]:
    return submit_and_wait(api, [p for p, _ in clips])


@pytest.fixture(scope="module")
def shipped_stream_worker(redis_client, test_registry, tmp_path_factory):
    """A real streaming worker serving the shipped model at its largest lookahead (1.04 s)."""
    from tests.integration.test_streaming import start_worker, stop_worker

    # two slots: the clips stream one after another, and a closed session's slot is freed asynchronously
    worker = start_worker(
        redis_client,
        tmp_path_factory.mktemp("accuracy") / "worker.log",
        "accuracy-stream-1",
        2,
        SHIPPED_MODEL,
        att_context=[70, 13],
    )
    yield worker
    stop_worker(worker)


def test_batch_api_wer_on_heldout_sentences(batch_jobs, clips):
    refs = [text for _, text in clips]
    hyps = [job["text"] for job in batch_jobs]
    wer = jiwer.wer(refs, hyps)
    assert wer <= MAX_WER, list(zip(refs, hyps, strict=False))
    assert sum(bool(h.strip()) for h in hyps) == len(hyps), "every held-out clip should get words"


def test_batch_api_equals_the_models_own_transcribe(batch_jobs, clips):
    from nemo.collections.asr.models import ASRModel

    from core.catalog import registry

    model = ASRModel.restore_from(registry().resolve(SHIPPED_MODEL).path, map_location="cpu").eval()
    model.change_decoding_strategy(decoder_type="rnnt", verbose=False)
    offline = [h.text.strip() for h in model.transcribe([str(p) for p, _ in clips], batch_size=4, verbose=False)]
    assert [job["text"] for job in batch_jobs] == offline


def test_streaming_equals_batch_at_the_largest_lookahead(shipped_stream_worker, batch_jobs, clips):
    from budgie.client import StreamClient

    url = f"{shipped_stream_worker['url']}?model={SHIPPED_MODEL}&word_timestamps=true"
    for (path, _), job in zip(clips, batch_jobs, strict=False):
        audio, _ = sf.read(path, dtype="int16")
        client = StreamClient(url, timeout=60)
        client.stream(np.ascontiguousarray(audio), chunk=1600)  # 100 ms frames
        client.finish(timeout=60)
        finals = client.of_type("transcript.final")
        assert " ".join(m["text"] for m in finals) == job["text"], path.name


def test_word_times_match_known_boundaries(api, celery_worker, speech_dir):
    """Words synthesised one by one and joined with known gaps: the API's word times (after the
    registry's measured shift) must land near the true boundaries."""
    rng = np.random.default_rng(7)
    paths, truths = [], []
    for k, text in enumerate(heldout_sentences("test")[N_CLIPS : N_CLIPS + 6]):
        pieces, words, t = [np.zeros(4800, np.float32)], [], 4800
        for j, word in enumerate(text.split()):
            audio, _ = sf.read(
                synthesize(
                    word, speech_dir / f"timing{k}_{j}.wav", voice=TRAINED_VOICES[k % len(TRAINED_VOICES)], rate=160
                ),
                dtype="float32",
            )
            voiced = np.flatnonzero(np.abs(audio) > 1e-3)
            audio = audio[voiced[0] : voiced[-1] + 1]
            words.append((word, t / 16000, (t + len(audio)) / 16000))
            gap = np.zeros(int(rng.uniform(0.08, 0.25) * 16000), np.float32)
            pieces += [audio, gap]
            t += len(audio) + len(gap)
        pieces.append(np.zeros(4800, np.float32))
        path = speech_dir / f"timing{k}.wav"
        sf.write(path, np.concatenate(pieces), 16000, subtype="PCM_16")
        paths.append(path)
        truths.append(words)
    errors: list[float] = []
    for job, truth in zip(submit_and_wait(api, paths), truths, strict=False):
        hyp = job["words"]
        out = jiwer.process_words(" ".join(w for w, _, _ in truth), " ".join(w["text"] for w in hyp))
        for chunk in out.alignments[0]:
            if chunk.type == "equal":  # only words the model got right have a comparable time
                for i, j in zip(
                    range(chunk.ref_start_idx, chunk.ref_end_idx),
                    range(chunk.hyp_start_idx, chunk.hyp_end_idx),
                    strict=False,
                ):
                    errors += [abs(hyp[j]["start"] - truth[i][1]), abs(hyp[j]["end"] - truth[i][2])]
    assert len(errors) >= 2 * 15, "too few correctly recognised words to judge timing"
    assert float(np.mean(errors)) <= MAX_WORD_TIME_ERROR_S, np.round(errors, 3).tolist()
