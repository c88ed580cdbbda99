// Every conv and pool layer's feature maps; a clicked channel grows, with its first-layer
// filter (first conv only) and its top-9 test patches (Zeiler & Fergus), found at build time.

/** Grey levels for a (h, w) float map, min-max stretched: an RGBA ImageData. */
export function toImage(values, h, w) {
  let [lo, hi] = [Infinity, -Infinity];
  for (const v of values) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  const scale = hi > lo ? 255 / (hi - lo) : 0;
  const image = new ImageData(w, h);
  values.forEach((v, i) => {
    const g = Math.round((v - lo) * scale);
    image.data.set([g, g, g, 255], 4 * i);
  });
  return image;
}

function paint(canvas, image) {
  canvas.width = image.width;
  canvas.height = image.height;
  canvas.getContext("2d").putImageData(image, 0, 0);
}

export class LayerView {
  constructor(root, detail, site) {
    this.detail = detail;
    this.site = site;
    this.canvases = {};
    this.selected = null;
    for (const [index, layer] of site.layers.entries()) {
      const box = document.createElement("div");
      box.className = "layer";
      box.innerHTML = `<h3>${layer.label} <span class="hint">(${layer.op}, receptive field ${layer.field[0]} px)</span></h3>`;
      root.append(box);
      this.canvases[layer.output] = { box, index, list: [] };
    }
  }
  /** Draw `maps` ({name: {dims: [1, C, h, w], data}}) and refresh the open channel. */
  show(maps) {
    this.maps = maps;
    for (const layer of this.site.layers) {
      const { dims, data } = maps[layer.output];
      const [, channels, h, w] = dims;
      const entry = this.canvases[layer.output];
      while (entry.list.length < channels) {
        const canvas = document.createElement("canvas");
        const channel = entry.list.length;
        canvas.title = `${layer.label}, channel ${channel}`;
        canvas.addEventListener("click", () => this.open(layer, channel));
        entry.box.append(canvas);
        entry.list.push(canvas);
      }
      entry.list.forEach((canvas, c) => paint(canvas, toImage(data.subarray(c * h * w, (c + 1) * h * w), h, w)));
    }
    if (this.selected) this.open(...this.selected);
  }
  open(layer, channel) {
    this.selected = [layer, channel];
    const { dims, data } = this.maps[layer.output];
    const [, , h, w] = dims;
    const d = this.detail;
    d.hidden = false;
    d.innerHTML = `<h3>${layer.label}, channel ${channel} <button>close</button></h3>`;
    d.querySelector("button").onclick = () => { d.hidden = true; this.selected = null; };
    const big = document.createElement("canvas");
    paint(big, toImage(data.subarray(channel * h * w, (channel + 1) * h * w), h, w));
    big.style.width = big.style.height = "224px";
    d.append(big);
    const first = this.site.layers.find((l) => l.op === "Conv");
    if (layer === first && this.site.first_filter) d.append(this.filter(this.site.first_filter[channel]));
    d.append(this.patches(layer, channel));
  }
  filter(weights) {
    // (C_in, k, k): one k x k square per input channel, stretched together
    const box = document.createElement("span");
    box.innerHTML = "<p class='hint'>its filter</p>";
    for (const plane of weights) {
      const k = plane.length;
      const canvas = document.createElement("canvas");
      paint(canvas, toImage(plane.flat(), k, k));
      canvas.style.width = canvas.style.height = "96px";
      canvas.className = "filter";
      box.append(canvas);
    }
    return box;
  }
  patches(layer, channel) {
    const box = document.createElement("span");
    box.innerHTML = `<p class='hint'>its top-9 patches among ${this.site.test.searched} test images</p>`;
    const cell = layer.cell;
    const sprite = new Image();
    sprite.src = layer.patches;
    const canvas = document.createElement("canvas");
    canvas.width = 9 * cell;
    canvas.height = cell;
    canvas.className = "patches";
    canvas.style.width = `${9 * 48}px`;
    canvas.style.height = "48px";
    sprite.onload = () => {
      canvas.getContext("2d").drawImage(sprite, 0, channel * cell, 9 * cell, cell, 0, 0, 9 * cell, cell);
      canvas.dataset.loaded = "yes";
    };
    sprite.onerror = () => {
      canvas.dataset.loaded = "failed";
      box.querySelector("p").textContent = `${layer.patches} did not load: rebuild with \`dvc repro explorer\``;
    };
    box.append(canvas);
    return box;
  }
}
