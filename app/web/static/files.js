// Files tab: upload -> follow the job's stages -> transcript with speakers, playback and downloads.
"use strict";
(() => {
  const $ = id => document.getElementById(id);
  const drop = $("drop"), input = $("files-input"), jobs = $("jobs");
  const COLOURS = ["#1f6feb", "#d1495b", "#2a9d8f", "#8a5cf6", "#e07a00", "#6b8e23", "#c2185b", "#00838f"];
  const FORMATS = ["txt", "srt", "vtt", "json"];
  const POLL_MS = 500;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  function renderStages(card, job) {
    const stages = card.querySelector(".stages");
    stages.innerHTML = "";
    for (const stage of job.stages || []) {
      const done = stage.chunks_total ? ` ${stage.chunks_done}/${stage.chunks_total}` : "";
      stages.appendChild(el("span", "stage " + stage.status, stage.stage + done));
    }
    card.querySelector("progress").value = job.progress || 0;
    const state = job.status === "running" && job.current_stage ? `running: ${job.current_stage}` : job.status;
    card.querySelector(".state").textContent = state + (job.error ? ` — ${job.error}` : "");
  }

  function renderTranscript(card, job, file) {
    const audio = el("audio");
    audio.controls = true;
    audio.src = URL.createObjectURL(file);
    const text = el("div", "transcript");
    const speakers = {};
    const colour = speaker => {
      if (!(speaker in speakers)) speakers[speaker] = COLOURS[Object.keys(speakers).length % COLOURS.length];
      return speakers[speaker];
    };
    const spans = [];
    for (const segment of job.segments || []) {
      const line = el("p", "segment");
      if (segment.speaker) {
        const who = el("span", "speaker", segment.speaker);
        who.style.color = colour(segment.speaker);
        line.appendChild(who);
        line.style.borderLeft = `3px solid ${colour(segment.speaker)}`;
        line.style.paddingLeft = ".5rem";
      }
      const words = segment.words && segment.words.length ? segment.words : [{ text: segment.text, start: segment.start, end: segment.end }];
      for (const word of words) {
        const span = Budgie.wordSpan(word);
        span.addEventListener("click", () => { audio.currentTime = word.start; audio.play(); });
        spans.push(span);
        line.appendChild(span);
        line.appendChild(document.createTextNode(" "));
      }
      text.appendChild(line);
    }
    if (!spans.length) text.textContent = job.text || "(no speech found)";
    audio.addEventListener("timeupdate", () => {
      const t = audio.currentTime;
      for (const span of spans) {
        span.classList.toggle("current", t >= Number(span.dataset.start) && t < Number(span.dataset.end));
      }
    });
    const downloads = el("div", "downloads", "Download: ");
    for (const fmt of FORMATS) {
      const link = el("a", "download", fmt);
      link.href = Budgie.withKey(`/v1/audio/transcriptions/${job.id}/export/${fmt}`);
      link.download = `${file.name.replace(/\.[^.]+$/, "")}.${fmt}`;
      downloads.appendChild(link);
    }
    card.append(audio, text, downloads);
  }

  async function follow(card, id, file) {
    for (;;) {
      const job = await Budgie.api(`/v1/audio/transcriptions/${id}`);
      renderStages(card, job);
      if (job.status === "completed") return renderTranscript(card, job, file);
      if (job.status === "failed" || job.status === "cancelled") return;
      await new Promise(resolve => setTimeout(resolve, POLL_MS));
    }
  }

  async function submit(file) {
    const card = el("div", "job");
    card.append(el("h3", null, file.name), el("div", "state", "uploading…"), el("progress"), el("div", "stages"));
    card.querySelector("progress").max = 1;
    jobs.prepend(card);
    const form = new FormData();
    form.append("file", file);
    form.append("model", $("files-model").value);
    if ($("files-diarize").checked) form.append("speaker_detection", "diarize");
    try {
      const job = await Budgie.api("/v1/audio/transcriptions", { method: "POST", body: form });
      card.dataset.jobId = job.id;
      await follow(card, job.id, file);
    } catch (err) {
      card.querySelector(".state").textContent = "failed: " + err.message;
      card.querySelector(".state").classList.add("error");
    }
  }

  const submitAll = files => Array.from(files).forEach(submit);
  input.addEventListener("change", () => { submitAll(input.files); input.value = ""; });
  drop.addEventListener("dragover", e => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", e => {
    e.preventDefault();
    drop.classList.remove("over");
    submitAll(e.dataTransfer.files);
  });
})();
