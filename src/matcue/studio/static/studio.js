// matcue studio: the little script the pages need. No build step, no library.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

async function post(url, data) {
  const body = data instanceof FormData ? data : new URLSearchParams(data);
  const r = await fetch(url, { method: "POST", body, headers: { "X-CSRF-Token": csrf() } });
  let json = null;
  try { json = await r.json(); } catch (e) { json = { error: r.statusText }; }
  return { ok: r.ok, status: r.status, json };
}

function clock(s) {
  s = Math.max(0, Math.round(s));
  return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
}

function debounce(fn, ms) {
  let t = null;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}

// ---------------------------------------------------------------- phone dialog
function setupQr() {
  const b = document.getElementById("show-qr");
  const d = document.getElementById("qr");
  if (b && d) b.addEventListener("click", () => d.showModal());
}

// ---------------------------------------------------------------- routine page
function setupRoutine(root) {
  const kind = root.dataset.kind, name = root.dataset.name;
  const yaml = document.getElementById("yaml");
  const gutter = document.getElementById("gutter");
  const problemsEl = document.getElementById("problems");
  const form = document.getElementById("settings");
  const settingsError = document.getElementById("settings-error");
  const shapeEl = document.getElementById("shape");
  const lengthEl = document.getElementById("length");
  let bad = new Set();

  function drawGutter() {
    const n = yaml.value.split("\n").length;
    let out = "";
    for (let i = 1; i <= n; i++) out += (bad.has(i) ? "\u25B6" : " ") + String(i).padStart(4) + "\n";
    gutter.textContent = out;
    gutter.scrollTop = yaml.scrollTop;
  }

  function showProblems(list) {
    bad = new Set(list.filter(p => p.line).map(p => p.line));
    problemsEl.replaceChildren(...list.map(p => {
      const li = document.createElement("li");
      li.dataset.line = p.line || "";
      const b = document.createElement("b");
      b.textContent = p.line ? "line " + p.line : "";
      li.append(b, " " + p.field + ": " + p.message);
      if (p.line) li.addEventListener("click", () => goToLine(p.line));
      return li;
    }));
    root.classList.toggle("has-problems", list.length > 0);
    drawGutter();
  }

  function goToLine(line) {
    const lines = yaml.value.split("\n");
    let pos = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) pos += lines[i].length + 1;
    yaml.focus();
    yaml.setSelectionRange(pos, pos + (lines[line - 1] || "").length);
    yaml.scrollTop = Math.max(0, (line - 5) * parseFloat(getComputedStyle(yaml).lineHeight));
    drawGutter();
  }

  function markChanged() {
    form.querySelectorAll(".field").forEach(f => {
      const input = f.querySelector("input[name], select[name]");
      const changed = input && input.value !== "";
      f.classList.toggle("changed", changed);
      f.querySelector(".changed-mark").hidden = !changed;
    });
  }

  async function check() {
    const data = new FormData(form);
    if (kind === "workspace") data.set("text", yaml.value);
    const r = await post("/api/check", data);
    if (!r.ok) { settingsError.textContent = r.json.error || "check failed"; return; }
    settingsError.textContent = r.json.settings_error || "";
    showProblems(r.json.problems || []);
    if (r.json.shape) { shapeEl.innerHTML = r.json.shape; lengthEl.textContent = "~" + clock(r.json.seconds); }
    else if ((r.json.problems || []).length) { lengthEl.textContent = ""; }
  }
  const checkSoon = debounce(check, 350);

  yaml.addEventListener("input", () => { drawGutter(); if (kind === "workspace") { setSaveState("unsaved changes"); checkSoon(); } });
  yaml.addEventListener("scroll", () => { gutter.scrollTop = yaml.scrollTop; });
  form.addEventListener("input", () => { markChanged(); checkSoon(); });
  form.addEventListener("change", () => { markChanged(); checkSoon(); });
  form.querySelectorAll("[data-reset]").forEach(b => b.addEventListener("click", () => {
    form.elements[b.dataset.reset].value = ""; markChanged(); checkSoon();
  }));
  problemsEl.querySelectorAll("li[data-line]").forEach(li => {
    const line = parseInt(li.dataset.line, 10);
    if (line) { bad.add(line); li.addEventListener("click", () => goToLine(line)); }
  });
  drawGutter();
  markChanged();

  // save
  const saveState = document.getElementById("save-state");
  function setSaveState(t) { if (saveState) saveState.textContent = t; }
  const saveButton = document.getElementById("save");
  if (saveButton) {
    const save = async () => {
      const r = await post("/edit/" + name + "/save", { text: yaml.value });
      if (!r.ok) { setSaveState("not saved: " + (r.json.error || r.status)); return; }
      showProblems(r.json.problems);
      setSaveState(r.json.problems.length ? "saved, with problems" : "saved");
    };
    saveButton.addEventListener("click", save);
    yaml.addEventListener("keydown", e => {
      if ((e.ctrlKey || e.metaKey) && e.key === "s") { e.preventDefault(); save(); }
      if (e.key === "Tab" && !e.shiftKey) { e.preventDefault(); yaml.setRangeText("  ", yaml.selectionStart, yaml.selectionEnd, "end"); drawGutter(); }
    });
  }

  // voice sample
  const listen = document.getElementById("listen");
  const sample = document.getElementById("sample");
  listen.addEventListener("click", () => {
    const q = new URLSearchParams({ voice: form.elements.voice.value, rate: form.elements.rate.value });
    listen.disabled = true; listen.textContent = "…";
    sample.src = "/api/voice-sample?" + q;
    sample.play().catch(() => {}).finally(() => { listen.disabled = false; listen.textContent = "Listen"; });
  });

  // bed upload
  const bedFile = document.getElementById("bed-file");
  bedFile.addEventListener("change", async () => {
    if (!bedFile.files.length) return;
    const data = new FormData();
    data.set("file", bedFile.files[0]);
    const r = await post("/beds", data);
    if (!r.ok) { settingsError.textContent = r.json.error || "upload failed"; return; }
    const sel = form.elements.bed;
    if (![...sel.options].some(o => o.value === r.json.bed)) sel.add(new Option(r.json.bed, r.json.bed));
    sel.value = r.json.bed; markChanged(); checkSoon();
  });

  // render with progress (server-sent events)
  const renderButton = document.getElementById("render");
  const cancelButton = document.getElementById("cancel");
  const progress = document.getElementById("progress");
  const fill = document.getElementById("progress-fill");
  const ptext = document.getElementById("progress-text");
  const renderError = document.getElementById("render-error");
  let job = null;
  renderButton.addEventListener("click", async () => {
    renderError.textContent = "";
    if (kind === "workspace" && saveButton) {
      const s = await post("/edit/" + name + "/save", { text: yaml.value });
      if (s.ok) { showProblems(s.json.problems); setSaveState("saved"); }
    }
    const r = await post("/render", new FormData(form));
    if (!r.ok) { renderError.textContent = r.json.error || "render refused"; return; }
    job = r.json.id;
    renderButton.disabled = true; cancelButton.hidden = false; progress.hidden = false;
    const es = new EventSource("/jobs/" + job + "/events");
    const show = d => {
      fill.style.width = d.percent + "%";
      ptext.textContent = d.state === "queued" ? "waiting for the render before it" : d.percent + "% " + d.stage;
    };
    const end = () => { es.close(); renderButton.disabled = false; cancelButton.hidden = true; };
    es.addEventListener("progress", e => show(JSON.parse(e.data)));
    es.addEventListener("done", e => { const d = JSON.parse(e.data); show(d); end(); location.href = "/renders/" + d.render; });
    es.addEventListener("failed", e => { end(); progress.hidden = true; renderError.textContent = JSON.parse(e.data).message; });
    es.addEventListener("cancelled", () => { end(); progress.hidden = true; renderError.textContent = "Cancelled."; });
  });
  cancelButton.addEventListener("click", () => { if (job) post("/jobs/" + job + "/cancel", {}); });
}

// ---------------------------------------------------------------- player page
function setupPlayer(audio) {
  const timeEl = document.getElementById("time");
  const nowLine = document.getElementById("now-line");
  const list = document.getElementById("transcript");
  const chapters = [...document.querySelectorAll("#chapters .chapter")];
  chapters.forEach(b => b.addEventListener("click", () => {
    audio.currentTime = parseFloat(b.dataset.start) + 0.01;
    audio.play().catch(() => {});
  }));
  audio.addEventListener("timeupdate", () => {
    const t = audio.currentTime;
    timeEl.textContent = clock(t);
    let current = null;
    chapters.forEach(b => { if (parseFloat(b.dataset.start) <= t) current = b; });
    chapters.forEach(b => b.classList.toggle("current", b === current));
  });
  const track = audio.textTracks[0];
  if (!track) { list.replaceChildren(); return; }
  track.mode = "hidden";  // cues without the browser drawing them
  const items = new Map();
  const fill = () => {
    if (!track.cues || !track.cues.length || items.size) return;
    list.replaceChildren();
    for (const cue of track.cues) {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button"; b.className = "cue";
      const t = document.createElement("span"); t.className = "small"; t.textContent = clock(cue.startTime) + " ";
      b.append(t, cue.text);
      b.addEventListener("click", () => { audio.currentTime = cue.startTime + 0.01; audio.play().catch(() => {}); });
      li.append(b); list.append(li); items.set(cue, li);
    }
  };
  const trackEl = audio.querySelector("track");
  trackEl.addEventListener("load", fill);
  setTimeout(fill, 500);
  track.addEventListener("cuechange", () => {
    fill();
    items.forEach(li => li.classList.remove("active"));
    const active = track.activeCues && track.activeCues[0];
    if (active && items.has(active)) {
      const li = items.get(active);
      li.classList.add("active");
      nowLine.textContent = active.text;
      li.scrollIntoView({ block: "nearest" });
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setupQr();
  const root = document.querySelector(".routine");
  if (root) setupRoutine(root);
  const audio = document.getElementById("audio");
  if (audio) setupPlayer(audio);
});
