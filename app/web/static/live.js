// Live tab: microphone -> WebSocket -> partial (grey) and final (black) words.
"use strict";
(() => {
  const $ = id => document.getElementById(id);
  const startButton = $("live-start"), stopButton = $("live-stop"), status = $("live-status");
  const transcript = $("live-transcript"), partial = $("live-partial");
  let ws = null, recorder = null, stream = null, audioContext = null, worklet = null, ended = false;

  function setStatus(text, isError) {
    status.textContent = text;
    status.classList.toggle("error", !!isError);
  }

  function showPartial(msg) {
    partial.textContent = msg.text ? msg.text + " " : "";
    partial.title = `${Number(msg.start).toFixed(2)}–${Number(msg.end).toFixed(2)} s (partial)`;
  }

  function showFinal(msg) {
    const final = document.createElement("span");
    final.className = "final";
    const words = msg.words || msg.text.split(" ").map(text => ({ text, start: msg.start, end: msg.end }));
    for (const word of words) {
      final.appendChild(Budgie.wordSpan(word));
      final.appendChild(document.createTextNode(" "));
    }
    transcript.insertBefore(final, partial);
    partial.textContent = "";
  }

  function onMessage(event) {
    const msg = JSON.parse(event.data);
    switch (msg.type) {
      case "session.begin":
        setStatus(`listening (${msg.model}, ${msg.encoding}, ${msg.chunk_ms} ms chunks)`);
        break;
      case "transcript.partial": showPartial(msg); break;
      case "transcript.final": showFinal(msg); break;
      case "warning": setStatus(`behind by ${msg.lag_seconds} s`); break;
      case "error": setStatus(`${msg.code}: ${msg.message}`, !msg.recoverable); break;
      case "session.end":
        ended = true;
        setStatus(`done: ${msg.total_audio_seconds.toFixed(1)} s of audio`);
        break;
    }
  }

  async function startPcm(socket) {
    audioContext = new AudioContext();
    await audioContext.audioWorklet.addModule("/web/pcm-worklet.js");
    const source = audioContext.createMediaStreamSource(stream);
    worklet = new AudioWorkletNode(audioContext, "pcm-s16");
    worklet.port.onmessage = e => { if (socket.readyState === WebSocket.OPEN) socket.send(e.data); };
    source.connect(worklet);
    return audioContext.sampleRate;
  }

  function startRecorder(socket) {
    const type = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus"].find(t => MediaRecorder.isTypeSupported(t));
    if (!type) throw new Error("this browser cannot record Opus; choose PCM");
    recorder = new MediaRecorder(stream, { mimeType: type });
    recorder.ondataavailable = e => {
      if (e.data.size && socket.readyState === WebSocket.OPEN) socket.send(e.data);
    };
    recorder.onstop = () => {
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "end" }));
    };
    return type.startsWith("audio/ogg") ? "ogg" : "webm";
  }

  async function start() {
    startButton.disabled = true;
    ended = false;
    setStatus("asking for the microphone…");
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true } });
    } catch (err) {
      setStatus("no microphone: " + err.message, true);
      startButton.disabled = false;
      return;
    }
    const pcm = $("live-encoding").value === "pcm";
    let query = `model=${encodeURIComponent($("live-model").value)}`;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const open = url => new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      socket.binaryType = "arraybuffer";
      socket.onopen = () => resolve(socket);
      socket.onerror = () => reject(new Error("could not connect"));
    });
    try {
      if (pcm) {
        // the AudioContext's rate is known before connecting: the worker resamples it
        const rate = new AudioContext().sampleRate;
        query += `&encoding=pcm_s16le&sample_rate=${rate}`;
      } else {
        query += "&encoding=" + (MediaRecorder.isTypeSupported("audio/webm;codecs=opus") ? "webm" : "ogg");
      }
      ws = await open(Budgie.withKey(`${scheme}://${location.host}/v1/audio/transcriptions/stream?${query}`));
      ws.onmessage = onMessage;
      ws.onclose = e => {
        if (!ended && e.code !== 1000) setStatus(`closed (${e.code}${e.reason ? ": " + e.reason : ""})`, true);
        stopCapture();
        startButton.disabled = false;
        stopButton.disabled = true;
      };
      if (pcm) await startPcm(ws);
      else { startRecorder(ws); recorder.start(250); }  // a blob every 250 ms
      stopButton.disabled = false;
    } catch (err) {
      setStatus(err.message, true);
      stopCapture();
      startButton.disabled = false;
    }
  }

  function stopCapture() {
    if (recorder && recorder.state !== "inactive") recorder.stop();
    if (worklet) worklet.disconnect();
    if (audioContext) audioContext.close();
    if (stream) stream.getTracks().forEach(t => t.stop());
    recorder = worklet = audioContext = stream = null;
  }

  function stop() {
    stopButton.disabled = true;
    setStatus("finishing…");
    const pcm = !recorder;
    stopCapture();  // MediaRecorder sends its last blob, then "end" (onstop)
    if (pcm && ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "end" }));
  }

  startButton.addEventListener("click", start);
  stopButton.addEventListener("click", stop);
})();
