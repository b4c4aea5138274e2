"""The DAG builder: (request, registry entry) -> stage plan -> Celery canvas.

    prepare -> transcribe -> [align] -> merge                    (no diarization)
    prepare -> group(transcribe -> [align], diarize) -> merge    (speaker_detection=diarize)

ALIGN is scheduled only when words were asked for and the model lacks native word timestamps;
every Parakeet entry has them, so Parakeet chains never contain it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from celery import Celery, Signature, chain, chord, group

from registry import ModelEntry


@dataclass(frozen=True)
class Plan:
    stages: tuple[str, ...]

    @property
    def diarize(self) -> bool:
        return "diarize" in self.stages


def plan_stages(request: dict[str, Any], entry: ModelEntry) -> Plan:
    stages = ["prepare", "transcribe"]
    if request.get("timestamps_granularity", "word") == "word" and not entry.word_timestamps:
        stages.append("align")
    if request.get("speaker_detection") == "diarize":
        stages.append("diarize")
    stages.append("merge")
    return Plan(tuple(stages))


def task_id(job_id: str, stage: str) -> str:
    """Deterministic task ids, so a job's tasks can be revoked without extra bookkeeping."""
    return f"{job_id}.{stage}"


def build_canvas(celery: Celery, job_id: str, request: dict[str, Any], entry: ModelEntry, plan: Plan) -> Signature:
    """The job's Celery canvas, with tasks named rather than imported (the API never loads a stage)."""

    def sig(stage: str, **kwargs: Any) -> Signature:
        return celery.signature(
            f"budgie.{stage}", args=(job_id,), kwargs=kwargs, immutable=True, task_id=task_id(job_id, stage)
        )

    language = request.get("language") or "auto"
    asr = [sig("transcribe", model_id=entry.id, language="en" if language == "auto" else language)]
    if "align" in plan.stages:
        asr.append(sig("align"))
    asr_branch = chain(*asr) if len(asr) > 1 else asr[0]
    finish = sig("merge", granularity=request.get("timestamps_granularity", "word"), diarize=plan.diarize)
    if plan.diarize:
        speakers = sig(
            "diarize",
            num_speakers=request.get("num_speakers"),
            min_speakers=request.get("min_speakers"),
            max_speakers=request.get("max_speakers"),
        )
        return chain(sig("prepare"), chord(group(asr_branch, speakers), finish))
    return chain(sig("prepare"), asr_branch, finish)
