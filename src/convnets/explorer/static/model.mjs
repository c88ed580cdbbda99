// The model in the browser: onnxruntime-web's wasm build, served from this site (ort/).
import * as ort from "./ort/ort.wasm.min.mjs";

ort.env.wasm.wasmPaths = new URL("./ort/", import.meta.url).href;
ort.env.wasm.numThreads = 1; // threads need cross-origin isolation; one is plenty for these models

const FIX = "Fix: run `dvc repro export` (then `dvc repro explorer`) and reload.";

export class ModelError extends Error {}

/** The site's description (model.json) and an inference session on model/explorer.onnx. */
export async function loadModel() {
  const described = await fetch("model.json");
  if (!described.ok) throw new ModelError(`model.json is missing (HTTP ${described.status}). ${FIX}`);
  const site = await described.json();
  const response = await fetch("model/explorer.onnx");
  if (!response.ok) {
    throw new ModelError(`The model file model/explorer.onnx is missing (HTTP ${response.status}). ${FIX}`);
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.length === 0) throw new ModelError(`The model file model/explorer.onnx is empty. ${FIX}`);
  let session;
  try {
    session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
  } catch (error) {
    const text = String(error.message || error);
    if (/external/i.test(text)) {
      throw new ModelError(`The model names external data files, which the page refuses to read (${text.slice(0, 160)}). Use a self-contained model. ${FIX}`);
    }
    throw new ModelError(`The model file model/explorer.onnx is corrupt: onnxruntime could not load it (${text.slice(0, 160)}). ${FIX}`);
  }
  return { site, session, shape: site.description.input.shape };
}

/** One forward pass: {probabilities, maps: {name: {dims, data}}, ms}. */
export async function infer(model, pixels) {
  const [height, width, channels] = model.shape;
  const input = new ort.Tensor("uint8", pixels, [1, height, width, channels]);
  const start = performance.now();
  const outputs = await model.session.run({ pixels: input });
  const ms = performance.now() - start;
  const maps = {};
  for (const layer of model.site.layers) {
    const tensor = outputs[layer.output];
    maps[layer.output] = { dims: tensor.dims, data: tensor.data };
  }
  return { probabilities: outputs.probabilities.data, logits: outputs.logits.data, maps, ms };
}

/**
 * onnx/metadata.likeness for one input: the out-of-distribution score `convnets predict` prints
 * (max_probability: the top probability; energy: T * logsumexp(logits / T)). Below the
 * model's threshold (its ONNX metadata, in model.json) means unlike the training data.
 */
export function likeness(result, description) {
  const { score } = description.ood;
  if (score === "max_probability") return Math.max(...result.probabilities);
  const t = description.temperature;
  const z = Array.from(result.logits, (v) => v / t);
  const top = Math.max(...z);
  return t * (top + Math.log(z.reduce((sum, v) => sum + Math.exp(v - top), 0)));
}
