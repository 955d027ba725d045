// The demo page: each panel calls one endpoint of the service on the same origin, no libraries.
"use strict";

const $ = (id) => document.getElementById(id);

// The parsed JSON of a successful call; an error carries the API's readable `detail`.
async function api(url, options) {
  const response = await fetch(url, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.detail || `${response.status} ${response.statusText}`);
  return body;
}

// An <img> cannot read an error body, so a failed load asks the same URL again for its detail.
function showImage(img, url, error) {
  error.textContent = "";
  img.hidden = true;
  img.onload = () => { img.hidden = false; };
  img.onerror = () => api(url).catch((e) => { error.textContent = e.message; });
  img.src = url;
}

// Solve a sum, then show its answer in handwriting.
$("text-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("answer").value = "";
  $("text-error").textContent = "";
  $("render-img").hidden = true;
  try {
    const solved = await api("/solve/text", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ query: $("query").value }),
    });
    $("answer").value = solved.answer;
    const seed = $("render-seed").value;
    const query = new URLSearchParams({ query: solved.query, seed, scale: 4 });
    showImage($("render-img"), `/render?${query}`, $("text-error"));
  } catch (e) {
    $("text-error").textContent = e.message;
  }
});
$("render-seed").addEventListener("change", () => $("text-form").requestSubmit());

// The drawing pad keeps a fixed 700x140 bitmap however wide it is shown; strokes are about as
// thick, relative to a cell, as MNIST's.
const pad = $("pad");
const ink = pad.getContext("2d");
Object.assign(ink, { lineWidth: 14, lineCap: "round", lineJoin: "round", strokeStyle: "#000" });
let last = null; // the pointer's previous point while it is down

function clearPad() {
  // Opaque white paper, so the PNG holds no transparency for the service to guess about.
  ink.fillStyle = "#fff";
  ink.fillRect(0, 0, pad.width, pad.height);
}

function point(event) {
  const box = pad.getBoundingClientRect();
  return [
    ((event.clientX - box.left) * pad.width) / box.width,
    ((event.clientY - box.top) * pad.height) / box.height,
  ];
}

function stroke(from, to) {
  ink.beginPath();
  ink.moveTo(...from);
  ink.lineTo(...to);
  ink.stroke();
}

pad.addEventListener("pointerdown", (event) => {
  pad.setPointerCapture(event.pointerId);
  last = point(event);
  stroke(last, last);
});
pad.addEventListener("pointermove", (event) => {
  if (last === null) return;
  const next = point(event);
  stroke(last, next);
  last = next;
});
for (const end of ["pointerup", "pointercancel"]) {
  pad.addEventListener(end, () => { last = null; });
}
$("clear").addEventListener("click", clearPad);
clearPad();

$("read").addEventListener("click", async () => {
  for (const id of ["expression", "read-answer"]) $(id).value = "";
  $("read-error").textContent = "";
  const png = await new Promise((done) => pad.toBlob(done, "image/png"));
  const form = new FormData();
  form.append("file", png, "strip.png");
  try {
    const read = await api("/solve/image", { method: "POST", body: form });
    $("expression").value = read.expression;
    $("read-answer").value = read.answer;
  } catch (e) {
    $("read-error").textContent = e.message;
  }
});

// Generative panels: the form's fields plus the chosen model are the image's query string.
async function loadModels() {
  try {
    const { models } = await api("/models");
    for (const model of models.filter((m) => m.task === "gan" || m.task === "vae")) {
      const task = model.name === model.task ? "" : ` (${model.task})`;
      $("gen-model").add(new Option(model.name + task, model.name));
    }
  } catch (e) {
    $("sample-error").textContent = e.message;
  }
}

for (const [name, path] of [["sample", "/sample"], ["interpolate", "/interpolate"]]) {
  $(`${name}-form`).addEventListener("submit", (event) => {
    event.preventDefault();
    const query = new URLSearchParams(new FormData(event.target));
    query.set("model", $("gen-model").value);
    query.set("scale", 3);
    showImage($(`${name}-img`), `${path}?${query}`, $(`${name}-error`));
  });
}
loadModels();
