// The lesson's knobs: a kernel convolved with the current image, stride, padding and pooling,
// and the output size arithmetic (W - K + 2P) / S + 1.

export const PRESETS = {
  "sobel-x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
  "sobel-y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
  laplacian: [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
  sharpen: [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
};

/** Cross-correlation (what a conv layer computes) of x (h, w) with a k x k kernel. */
export function convolve(x, h, w, kernel, stride, padding) {
  const k = kernel.length;
  const oh = Math.floor((h - k + 2 * padding) / stride) + 1;
  const ow = Math.floor((w - k + 2 * padding) / stride) + 1;
  const out = new Float64Array(Math.max(oh, 0) * Math.max(ow, 0));
  for (let i = 0; i < oh; i++) {
    for (let j = 0; j < ow; j++) {
      let sum = 0;
      for (let a = 0; a < k; a++) {
        for (let b = 0; b < k; b++) {
          const y = i * stride + a - padding;
          const xx = j * stride + b - padding;
          if (y >= 0 && y < h && xx >= 0 && xx < w) sum += x[y * w + xx] * kernel[a][b];
        }
      }
      out[i * ow + j] = sum;
    }
  }
  return { data: out, h: oh, w: ow };
}

/** Max pooling with a size x size window and the same stride. */
export function maxPool(map, size) {
  const h = Math.floor(map.h / size);
  const w = Math.floor(map.w / size);
  const out = new Float64Array(h * w);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      let best = -Infinity;
      for (let a = 0; a < size; a++) for (let b = 0; b < size; b++) best = Math.max(best, map.data[(i * size + a) * map.w + j * size + b]);
      out[i * w + j] = best;
    }
  }
  return { data: out, h, w };
}

/** The image as grey values in [0, 1], (h, w): colour channels averaged. */
export function greyOf(pixels, h, w, channels) {
  const x = new Float64Array(h * w);
  for (let i = 0; i < h * w; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += pixels[i * channels + c];
    x[i] = sum / channels / 255;
  }
  return x;
}

export function arithmetic(w, k, p, s, pool, out) {
  const size = `(${w} − ${k} + 2·${p}) / ${s} + 1 = ${Math.floor((w - k + 2 * p) / s) + 1}`;
  return pool > 1 ? `${size}; max-pool ${pool}: ⌊${out.w0} / ${pool}⌋ = ${out.w}` : size;
}
