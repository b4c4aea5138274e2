"""The DAG builder: stage plans and the Celery canvas they become."""

from dataclasses import replace

from core.catalog import registry
from core.pipeline import build_canvas, plan_stages
from core.queue import make_celery, route_task
from core.settings import get_settings

CELERY = make_celery(get_settings())
PARAKEET = registry().resolve("parakeet-0.6b")
NO_WORD_TIMES = replace(PARAKEET, id="ctc-like", word_timestamps=False)


def test_parakeet_never_gets_align():
    for granularity in ("word", "segment", "none"):
        for speakers in ("none", "diarize"):
            plan = plan_stages({"timestamps_granularity": granularity, "speaker_detection": speakers}, PARAKEET)
            assert "align" not in plan.stages
    assert plan_stages({}, PARAKEET).stages == ("prepare", "transcribe", "merge")


def test_align_only_when_words_are_wanted_from_a_model_without_them():
    assert plan_stages({"timestamps_granularity": "word"}, NO_WORD_TIMES).stages == (
        "prepare",
        "transcribe",
        "align",
        "merge",
    )
    assert "align" not in plan_stages({"timestamps_granularity": "segment"}, NO_WORD_TIMES).stages


def test_diarize_runs_in_parallel_with_transcription():
    request = {"speaker_detection": "diarize", "num_speakers": 2}
    canvas = build_canvas(CELERY, "job_x", request, PARAKEET, plan_stages(request, PARAKEET))
    prepare, body = canvas.tasks
    assert prepare.task == "budgie.prepare" and prepare.id == "job_x.prepare"
    assert type(body).__name__ == "_chord"
    assert sorted(t.task for t in body.tasks) == ["budgie.diarize", "budgie.transcribe"]
    assert body.body.task == "budgie.merge" and body.body.kwargs["diarize"] is True
    assert next(t for t in body.tasks if t.task == "budgie.diarize").kwargs["num_speakers"] == 2


def test_plain_chain_and_queue_routing():
    canvas = build_canvas(CELERY, "job_y", {}, PARAKEET, plan_stages({}, PARAKEET))
    names = [t.task for t in canvas.tasks]
    assert names == ["budgie.prepare", "budgie.transcribe", "budgie.merge"]
    transcribe = canvas.tasks[1]
    assert transcribe.kwargs == {"model_id": "parakeet-0.6b", "language": "en"}
    assert route_task("budgie.transcribe", (), transcribe.kwargs, {}) == {"queue": "transcribe.parakeet-0.6b"}
    assert route_task("budgie.diarize", (), {}, {}) == {"queue": "diarize"}
    assert route_task("budgie.prepare", (), {}, {}) == {"queue": "prepare"}
