// The page: wires the input (drawing, uploads, test images) to the model, the bars, the layers
// and the knobs. `window.explorer` holds the current state, for the curious and for the tests.
import { Sketch } from "./draw.mjs";
import { PRESETS, arithmetic, convolve, greyOf, maxPool } from "./knobs.mjs";
import { LayerView, toImage } from "./layers.mjs";
import { ModelError, infer, likeness, loadModel } from "./model.mjs";
import { frame, prepare, toModelMode } from "./prepare.mjs";

const $ = (id) => document.getElementById(id);
const state = (window.explorer = { ready: false, updates: 0 });
const started = performance.now();
let model, layers, sketch, tests;
let running = false;
let pending = null;

function say(text) {
  $("message").hidden = !text;
  $("message").textContent = text || "";
  state.message = text || "";
}

async function main() {
  try {
    model = await loadModel();
  } catch (error) {
    say(error instanceof ModelError ? error.message : `The model could not be loaded: ${error}`);
    return;
  }
  const { site } = model;
  const d = site.description;
  const [h, w, c] = model.shape;
  $("model-name").textContent = `${d.variant || d.model.name} on ${d.dataset}`;
  const accuracy = site.accuracy == null ? "unknown" : `${(100 * site.accuracy).toFixed(2)}%`;
  $("model-facts").textContent = `variant ${d.variant} (${d.model.name}) · dataset ${d.dataset} · ` +
    `test accuracy ${accuracy} · input ${h}×${w}×${c} · ${d.classes.length} classes · params ${d.params_hash}` +
    (site.written ? ` · model file written ${site.written}` : "");
  $("seen").width = w;
  $("seen").height = h;
  layers = new LayerView($("maps"), $("detail"), site);
  setUpKnobs();
  setUpUploads();
  tests = new Uint8Array(await (await fetch("data/test.bin")).arrayBuffer());
  setUpTests();
  if (c === 1) {
    sketch = new Sketch($("draw"), () => update(drawn()));
    $("undo").onclick = () => sketch.undo();
    $("clear").onclick = () => sketch.clear();
  } else {
    $("draw-panel").innerHTML = "<p class='hint'>Colour model: upload an image or step through the test images.</p>";
  }
  await showTest(0);
}

function drawn() {
  const t = performance.now(); // the update's clock starts before preparing the drawing
  const [h, w, c] = model.shape;
  const img = toModelMode(sketch.rgba(), sketch.canvas.width, sketch.canvas.height, c === 1);
  // a drawing is cropped to its strokes and centred, wherever it is on the black canvas
  return { ...prepare(img, h, w, c === 1, "never", false), source: "drawing", t };
}

/** Run the model on `input` ({pixels, source}); calls while one runs coalesce to the last. */
async function update(input) {
  pending = input;
  if (running) return;
  running = state.busy = true;
  while (pending) {
    const next = pending;
    next.t ??= performance.now();
    pending = null;
    const result = await infer(model, next.pixels);
    show(next, result);
  }
  running = state.busy = false;
}

function show(input, result) {
  const { classes } = model.site.description;
  const order = [...result.probabilities.keys()].sort((a, b) => result.probabilities[b] - result.probabilities[a]);
  const top = order.slice(0, 5).map((i) => ({ label: classes[i], probability: result.probabilities[i] }));
  // unsure as `convnets predict` says it: nothing stood out, or the score is below the threshold
  const oodScore = likeness(result, model.site.description);
  const unlike = oodScore < model.site.description.ood.threshold;
  const unsure = input.found === false || unlike;
  Object.assign(state, { pixels: input.pixels, source: input.source, top, probabilities: Array.from(result.probabilities), maps: result.maps, ms: result.ms, oodScore, unsure });
  state.updates += 1;
  state.timings = [...(state.timings || []), result.ms];
  if (state.firstPredictionMs === undefined) state.firstPredictionMs = performance.now() - started;
  $("bars").innerHTML = top.map((t) => `<div class="bar"><span class="label">${t.label}</span>` +
    `<span class="fill" style="width:${(300 * t.probability).toFixed(1)}px"></span>${(100 * t.probability).toFixed(2)}%</div>`).join("");
  $("timing").textContent = `model: ${result.ms.toFixed(1)} ms for this update (onnxruntime-web, wasm, 1 thread)`;
  const why = input.found === false ? "nothing stands out" : "unlike the training data";
  $("source").textContent = input.source + (unsure ? ` — unsure: ${why}` : "");
  $("source").title = `out-of-distribution score ${oodScore.toFixed(4)}; unsure below ${model.site.description.ood.threshold.toFixed(4)}`;
  const [h, w, c] = model.shape;
  const rgba = new ImageData(w, h);
  for (let i = 0; i < h * w; i++) {
    const px = c === 1 ? [input.pixels[i], input.pixels[i], input.pixels[i]] : input.pixels.subarray(3 * i, 3 * i + 3);
    rgba.data.set([...px, 255], 4 * i);
  }
  $("seen").getContext("2d").putImageData(rgba, 0, 0);
  layers.show(result.maps);
  runKnobs();
  const whole = performance.now() - input.t; // prepare + model + bars, maps and knobs drawn
  state.updateTimings = [...(state.updateTimings || []), whole];
  $("timing").textContent += `; whole update ${whole.toFixed(1)} ms (prepare, model, drawing)`;
  state.ready = true;
}

function setUpTests() {
  state.testIndex = 0;
  $("prev").onclick = () => showTest(state.testIndex - 1);
  $("next").onclick = () => showTest(state.testIndex + 1);
}

async function showTest(index) {
  const { count, labels } = model.site.test;
  const [h, w, c] = model.shape;
  const i = ((index % count) + count) % count;
  state.testIndex = i;
  $("test-index").textContent = `${i + 1} / ${count}`;
  $("test-label").textContent = `true label: ${model.site.description.classes[labels[i]]}`;
  await update({ pixels: tests.slice(i * h * w * c, (i + 1) * h * w * c), source: `test image ${i + 1}` });
}

function setUpUploads() {
  const drop = $("drop");
  $("file").addEventListener("change", (e) => e.target.files[0] && upload(e.target.files[0]));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files[0]) upload(e.dataTransfer.files[0]);
  });
}

/** Why `bytes` cannot be a whole image, or "" (a PNG must end with IEND, a JPEG with EOI). */
function truncated(bytes) {
  const png = [0x89, 0x50, 0x4e, 0x47].every((b, i) => bytes[i] === b);
  if (png && !String.fromCharCode(...bytes.slice(-8, -4)).includes("IEND")) return "a truncated PNG";
  const jpeg = bytes[0] === 0xff && bytes[1] === 0xd8;
  if (jpeg && !(bytes.at(-2) === 0xff && bytes.at(-1) === 0xd9)) return "a truncated JPEG";
  return "";
}

async function upload(file) {
  const name = file.name || "the file";
  try {
    if (file.size === 0) throw new Error(`${name} is empty`);
    const bytes = new Uint8Array(await file.arrayBuffer());
    const cut = truncated(bytes);
    if (cut) throw new Error(`${name} is ${cut}: the file ends early`);
    const size = await dimensions(file, name);
    const limit = model.site.pixel_limit;
    if (size.width * size.height > limit) {
      throw new Error(`${name} is ${size.width}×${size.height} = ${(size.width * size.height / 1e6).toFixed(1)} megapixels; the page takes at most ${limit / 1e6} megapixels`);
    }
    const bitmap = await createImageBitmap(file, { colorSpaceConversion: "none", premultiplyAlpha: "none", imageOrientation: "from-image" });
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const context = canvas.getContext("2d");
    context.drawImage(bitmap, 0, 0);
    const rgba = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
    const [h, w, c] = model.shape;
    const { framing } = model.site.description;
    const picture = toModelMode(rgba, bitmap.width, bitmap.height, c === 1);
    const prepared = frame(picture, h, w, c === 1, "auto", framing);
    say("");
    await update({ ...prepared, source: `upload: ${name}` });
  } catch (error) {
    say(`Cannot use this upload: ${error.message}. The page keeps the previous input.`);
  } finally {
    $("file").value = "";
  }
}

function dimensions(file, name) {
  // the header's size, before anything is decoded to pixels
  return new Promise((resolve, reject) => {
    const image = new Image();
    const url = URL.createObjectURL(file);
    image.onload = () => { URL.revokeObjectURL(url); resolve({ width: image.naturalWidth, height: image.naturalHeight }); };
    image.onerror = () => { URL.revokeObjectURL(url); reject(new Error(`${name} is not an image the browser can read (another format, or damaged)`)); };
    image.src = url;
  });
}

function setUpKnobs() {
  const grid = $("kernel");
  grid.innerHTML = [0, 1, 2].map((r) => [0, 1, 2].map((col) => `<input type="number" step="any" data-r="${r}" data-c="${col}">`).join("")).join("<br>");
  const setKernel = (kernel) => grid.querySelectorAll("input").forEach((i) => (i.value = kernel[i.dataset.r][i.dataset.c]));
  setKernel(PRESETS["sobel-x"]);
  $("preset").onchange = () => { if (PRESETS[$("preset").value]) setKernel(PRESETS[$("preset").value]); runKnobs(); };
  grid.addEventListener("input", () => { $("preset").value = "custom"; runKnobs(); });
  for (const id of ["stride", "padding", "pool"]) $(id).addEventListener("input", () => { $(`${id}-value`).textContent = $(id).value; runKnobs(); });
}

function runKnobs() {
  if (!state.pixels) return;
  const kernel = [0, 1, 2].map((r) => [0, 1, 2].map((col) => Number(document.querySelector(`#kernel input[data-r="${r}"][data-c="${col}"]`).value) || 0));
  const [h, w, c] = model.shape;
  const [s, p, pool] = ["stride", "padding", "pool"].map((id) => Number($(id).value));
  const conv = convolve(greyOf(state.pixels, h, w, c), h, w, kernel, s, p);
  const pooled = pool > 1 ? maxPool(conv, pool) : conv;
  state.knobs = { kernel, stride: s, padding: p, pool, conv: { h: conv.h, w: conv.w, data: Array.from(conv.data) }, pooled: { h: pooled.h, w: pooled.w, data: Array.from(pooled.data) } };
  for (const [id, map] of [["convolved", conv], ["pooled", pooled]]) {
    const canvas = $(id);
    canvas.width = Math.max(map.w, 1);
    canvas.height = Math.max(map.h, 1);
    if (map.w > 0 && map.h > 0) canvas.getContext("2d").putImageData(toImage(map.data, map.h, map.w), 0, 0);
  }
  $("arithmetic").textContent = arithmetic(w, 3, p, s, pool, { w0: conv.w, w: pooled.w });
}

main();
