// Shared by both tabs: the API key, authenticated fetch, tabs, model lists.
"use strict";
const Budgie = (() => {
  const keyInput = document.getElementById("api-key");
  keyInput.value = localStorage.getItem("budgie.apiKey") || "";
  keyInput.addEventListener("change", () => localStorage.setItem("budgie.apiKey", keyInput.value.trim()));
  const apiKey = () => keyInput.value.trim();

  // Adds ?api_key= to a URL when a key is set (WebSockets and download links cannot send headers).
  function withKey(url) {
    const key = apiKey();
    if (!key) return url;
    return url + (url.includes("?") ? "&" : "?") + "api_key=" + encodeURIComponent(key);
  }

  async function api(path, options = {}) {
    const headers = Object.assign({}, options.headers || {});
    if (apiKey()) headers["Authorization"] = "Bearer " + apiKey();
    const response = await fetch(path, Object.assign({}, options, { headers }));
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) {
      const message = body && body.error ? (body.error.message || JSON.stringify(body.error)) : response.statusText;
      throw new Error(`${response.status}: ${message}`);
    }
    return body;
  }

  function fillModels(select, models, preferred) {
    select.innerHTML = "";
    for (const m of models) {
      const option = document.createElement("option");
      option.value = m.id;
      option.textContent = m.name && m.name !== m.id ? `${m.id} — ${m.name}` : m.id;
      if (m.loaded === false) option.textContent += " (not loaded)";
      select.appendChild(option);
    }
    const loaded = models.find(m => m.id === preferred) || models.find(m => m.loaded) || models[0];
    if (loaded) select.value = loaded.id;
  }

  async function loadModels() {
    const data = (await api("/v1/models")).data || [];
    const params = new URLSearchParams(location.search);
    fillModels(document.getElementById("live-model"), data.filter(m => m.streaming), params.get("model"));
    fillModels(document.getElementById("files-model"), data, params.get("model"));
  }

  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.addEventListener("click", () => {
      for (const other of document.querySelectorAll("[role=tab]")) {
        other.setAttribute("aria-selected", String(other === tab));
        document.getElementById(other.dataset.panel).hidden = other !== tab;
      }
    });
  }

  const fmt = s => (s == null ? "?" : Number(s).toFixed(2));
  function wordSpan(word, className) {
    const span = document.createElement("span");
    span.className = "word " + (className || "");
    span.textContent = word.text;
    span.title = `${fmt(word.start)}–${fmt(word.end)} s`;
    span.dataset.start = word.start;
    span.dataset.end = word.end;
    return span;
  }

  const refreshModels = () => loadModels().catch(err => {
    document.getElementById("live-status").textContent = "could not list models: " + err.message;
  });
  keyInput.addEventListener("change", refreshModels);  // a key was typed in: try again with it
  refreshModels();
  return { api, withKey, wordSpan, loadModels };
})();
