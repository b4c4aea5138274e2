"""The DAG builder: (request, registry entry) -> stage plan -> Celery canvas.

    prepare -> transcribe -> [align] -> merge                    (no diarization)
    prepare -> group(transcribe -> [align], diarize) -> merge    (speaker_detection=diarize)

ALIGN is scheduled only when words were asked for and the model lacks native word timestamps;
every Parakeet entry has them, so Parakeet chains never contain it.
"""
from __future__ import annotations

from dataclasses import dataclass

from celery import chain, chord, group

from registry import ModelEntry


@dataclass(frozen=True)
class Plan:
    stages: tuple[str, ...]

    @property
    def diarize(self) -> bool:
        return "diarize" in self.stages


def plan_stages(request: dict, entry: ModelEntry) -> Plan:
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


def build_canvas(job_id: str, request: dict, entry: ModelEntry, plan: Plan):
    from workers.align import align
    from workers.diarize import diarize
    from workers.merge import merge
    from workers.prepare import prepare
    from workers.transcribe import transcribe

    def sig(task, stage, **kwargs):
        return task.si(job_id, **kwargs).set(task_id=task_id(job_id, stage))

    language = request.get("language") or "auto"
    asr = [sig(transcribe, "transcribe", model_id=entry.id, language="en" if language == "auto" else language)]
    if "align" in plan.stages:
        asr.append(sig(align, "align"))
    asr_branch = chain(*asr) if len(asr) > 1 else asr[0]
    finish = sig(merge, "merge", granularity=request.get("timestamps_granularity", "word"), diarize=plan.diarize)
    if plan.diarize:
        speakers = sig(diarize, "diarize", num_speakers=request.get("num_speakers"),
                       min_speakers=request.get("min_speakers"), max_speakers=request.get("max_speakers"))
        return chain(sig(prepare, "prepare"), chord(group(asr_branch, speakers), finish))
    return chain(sig(prepare, "prepare"), asr_branch, finish)
