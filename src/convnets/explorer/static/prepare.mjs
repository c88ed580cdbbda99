// The browser's copy of src/convnets/photos.py: the same crop, scale, centring and inversion
// rules, step by step, so an upload gives the model the tensor `convnets predict` would.
// Pillow's pieces are ported exactly: convert("L") luma, bicubic resampling in 22-bit fixed
// point (Resample.c), ImageOps.pad's half-to-even centring. Keep the two files in step: a
// browser test compares this module's output with photos.prepare on real images.

export const MIN_CONTRAST = 32; // grey levels a pixel must differ from the background
export const SPREAD = 4.0; // ... or this many median absolute deviations of the border
export const MIN_SHARE = 0.01; // a row or column counts as object when this share differs
export const BLACK = 8; // a border this close to black is the dataset's own (not a dark cloth)

// An image: {width, height, channels, data: Uint8Array (H, W, C)}.
const image = (width, height, channels, data) => ({ width, height, channels, data });

/** RGBA pixels (canvas getImageData) as L or RGB, transparent pixels over black or white. */
export function toModelMode(rgba, width, height, grey) {
  const channels = grey ? 1 : 3;
  const out = new Uint8Array(width * height * channels);
  const under = grey ? 0 : 255;
  for (let i = 0; i < width * height; i++) {
    const a = rgba[4 * i + 3];
    const rgb = [0, 1, 2].map((c) => blend(under, rgba[4 * i + c], a));
    if (grey) out[i] = (rgb[0] * 19595 + rgb[1] * 38470 + rgb[2] * 7471 + 0x8000) >> 16;
    else out.set(rgb, 3 * i);
  }
  return image(width, height, channels, out);
}

function blend(under, over, alpha) {
  // Pillow's paste with a mask: (over * a + under * (255 - a)) / 255, rounded as its DIV255
  const tmp = under * (255 - alpha) + over * alpha + 128;
  return (tmp + (tmp >> 8)) >> 8;
}

/** photos.prepare: the model's uint8 (H, W, C) and whether anything stood out. */
export function prepare(img, height, width, grey, invert, keepFraming = true) {
  const inverted = invert === "always" || (invert === "auto" && grey && lightBackground(img));
  if (inverted) img = image(img.width, img.height, img.channels, img.data.map((v) => 255 - v));
  const pixels = img.data; // after inversion, before cropping: what `found` looks at
  let background = borderColour(img);
  const box = objectBox(img, background);
  // light on the dataset's black background: the dataset's own framing, scaled, never cropped
  const framed = keepFraming && grey && !inverted && background[0] <= BLACK;
  if (box !== null && !framed) {
    const [top, bottom, left, right] = box;
    const fills = bottom - top === img.height || right - left === img.width;
    if (!fills && !(img.width === width && img.height === height)) {
      img = crop(img, top, bottom, left, right);
      if (grey) {
        img = toBlack(img, background[0]);
        background = [0];
      }
    }
  }
  const fill = background.map((v) => Math.trunc(v));
  const resample = framed ? readBack : resize;
  if (!(img.width === width && img.height === height)) img = pad(img, width, height, fill, resample);
  const found = grey ? box !== null : ptp(pixels) > MIN_CONTRAST;
  return { pixels: img.data, found };
}

/**
 * photos.fit and photos.prepare: the picture as the model's input, by the model's framing.
 * object: find, crop and centre the object (the built-in datasets); pad, crop, stretch: what
 * ingest did to a folder dataset's pictures, so an upload matches its training pictures.
 */
export function frame(img, height, width, grey, invert, framing) {
  if (framing === undefined || framing === "object") return prepare(img, height, width, grey, invert);
  if (img.width === width && img.height === height) return { pixels: img.data, found: true };
  if (framing === "stretch") return { pixels: resize(img, width, height).data, found: true };
  if (framing === "crop") {
    const [left, top, right, bottom] = centreBox(img.width, img.height, width, height);
    return { pixels: resize(crop(img, top, bottom, left, right), width, height).data, found: true };
  }
  const fill = borderColour(img).map((v) => Math.trunc(v));
  return { pixels: pad(img, width, height, fill).data, found: true };
}

/** photos.centre_box: the largest centred box of the target's aspect, in whole pixels. */
export function centreBox(w, h, toW, toH) {
  if (w * toH > h * toW) {
    const kept = Math.max(1, Math.floor((h * toW) / toH));
    const left = Math.floor((w - kept) / 2);
    return [left, 0, left + kept, h];
  }
  const kept = Math.max(1, Math.floor((w * toH) / toW));
  const top = Math.floor((h - kept) / 2);
  return [0, top, w, top + kept];
}

function ptp(data) {
  let [lo, hi] = [255, 0];
  for (const v of data) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  return hi - lo;
}

export function borderPixels(img) {
  // rows 0 and H-1, then columns 0 and W-1 (corners twice), as numpy's concatenate
  const { width: w, height: h, channels: c, data } = img;
  const at = (y, x) => Array.from(data.subarray((y * w + x) * c, (y * w + x + 1) * c));
  const out = [];
  for (const y of [0, h - 1]) for (let x = 0; x < w; x++) out.push(at(y, x));
  for (const x of [0, w - 1]) for (let y = 0; y < h; y++) out.push(at(y, x));
  return out;
}

function median(values) {
  const sorted = Float64Array.from(values).sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function lightBackground(img) {
  const border = borderPixels(img);
  return border.reduce((sum, p) => sum + p[0], 0) / border.length > 127.5;
}

export function borderColour(img) {
  const border = borderPixels(img);
  return Array.from({ length: img.channels }, (_, c) => median(border.map((p) => p[c])));
}

export function objectBox(img, background) {
  const { width: w, height: h, channels: c, data } = img;
  const border = borderPixels(img);
  const spread = Math.max(
    ...background.map((b, k) => median(border.map((p) => Math.abs(p[k] - b)))),
  );
  const threshold = Math.max(MIN_CONTRAST, SPREAD * spread);
  const rows = new Array(h).fill(0);
  const cols = new Array(w).fill(0);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let diff = 0;
      for (let k = 0; k < c; k++) diff = Math.max(diff, Math.abs(data[(y * w + x) * c + k] - background[k]));
      if (diff > threshold) {
        rows[y] += 1;
        cols[x] += 1;
      }
    }
  }
  const keptRows = [...rows.keys()].filter((y) => rows[y] >= Math.max(1, MIN_SHARE * w));
  const keptCols = [...cols.keys()].filter((x) => cols[x] >= Math.max(1, MIN_SHARE * h));
  if (!keptRows.length || !keptCols.length) return null;
  return [keptRows[0], keptRows.at(-1) + 1, keptCols[0], keptCols.at(-1) + 1];
}

function crop(img, top, bottom, left, right) {
  const { width: w, channels: c, data } = img;
  const out = new Uint8Array((bottom - top) * (right - left) * c);
  for (let y = top; y < bottom; y++) {
    out.set(data.subarray((y * w + left) * c, (y * w + right) * c), (y - top) * (right - left) * c);
  }
  return image(right - left, bottom - top, c, out);
}

function toBlack(img, background) {
  // float32 arithmetic as numpy does it: (p - bg) * f32(255 / max(255 - bg, 1)), half-to-even
  const scale = Math.fround(255.0 / Math.max(255.0 - background, 1.0));
  const data = img.data.map((p) => {
    const v = Math.fround(Math.fround(p - background) * scale);
    return Math.min(255, Math.max(0, roundHalfEven(v)));
  });
  return image(img.width, img.height, 1, data);
}

export function roundHalfEven(v) {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** ImageOps.pad with BICUBIC (or `resample`): contain (keep the aspect), then centre on `fill`. */
export function pad(img, width, height, fill, resample = resize) {
  let [w, h] = [width, height];
  const ratio = img.width / img.height;
  const dest = width / height;
  if (ratio !== dest) {
    if (ratio > dest) h = roundHalfEven((img.height / img.width) * width);
    else w = roundHalfEven((img.width / img.height) * height);
  }
  const resized = resample(img, Math.max(w, 1), Math.max(h, 1));
  if (resized.width === width && resized.height === height) return resized;
  const c = img.channels;
  const out = new Uint8Array(width * height * c);
  for (let i = 0; i < width * height; i++) out.set(fill, i * c);
  const x0 = resized.width !== width ? roundHalfEven((width - resized.width) * 0.5) : 0;
  const y0 = resized.width !== width ? 0 : roundHalfEven((height - resized.height) * 0.5);
  for (let y = 0; y < resized.height; y++) {
    const row = resized.data.subarray(y * resized.width * c, (y + 1) * resized.width * c);
    out.set(row, ((y + y0) * width + x0) * c);
  }
  return image(width, height, c, out);
}

export const READ_WIDTH = 0.25; // readBack's kernel unit, in dataset pixels (at least 1 pixel)
export const LOBES = 3; // ... and its lobes each side: Lanczos-3

/** photos.read_back: a grey picture read near the centres of the dataset's pixels by a Lanczos
 * kernel a quarter of a pixel wide, in doubles, summed in the order numpy sums them. */
export function readBack(img, width, height) {
  if (img.width === width && img.height === height) return img;
  const cols = lanczosTaps(img.width, width);
  const across = new Float64Array(img.height * width);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < width; x++) {
      const [first, weights] = cols[x];
      let sum = 0;
      for (let t = 0; t < weights.length; t++) sum += weights[t] * img.data[y * img.width + first + t];
      across[y * width + x] = sum;
    }
  }
  const rows = lanczosTaps(img.height, height);
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const [first, weights] = rows[y];
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let t = 0; t < weights.length; t++) sum += weights[t] * across[(first + t) * width + x];
      out[y * width + x] = Math.min(255, Math.max(0, roundHalfEven(sum)));
    }
  }
  return image(width, height, 1, out);
}

function lanczosTaps(size, toSize) {
  const scale = size / toSize;
  const radius = Math.max(READ_WIDTH * scale, 1.0);
  const taps = [];
  for (let out = 0; out < toSize; out++) {
    const centre = (out + 0.5) * scale;
    const first = Math.max(Math.floor(centre - LOBES * radius - 0.5), 0);
    const last = Math.min(Math.ceil(centre + LOBES * radius + 0.5), size);
    const weights = [];
    let total = 0.0;
    for (let k = first; k < last; k++) {
      const weight = lanczos((k + 0.5 - centre) / radius);
      weights.push(weight);
      total += weight;
    }
    taps.push([first, weights.map((weight) => weight / total)]);
  }
  return taps;
}

function lanczos(x) {
  if (x === 0.0) return 1.0;
  if (Math.abs(x) >= LOBES) return 0.0;
  const px = Math.PI * x;
  return (LOBES * Math.sin(px) * Math.sin(px / LOBES)) / (px * px);
}

const PRECISION_BITS = 32 - 8 - 2;

function bicubic(x) {
  const a = -0.5;
  x = Math.abs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

function coefficients(inSize, outSize) {
  // Resample.c precompute_coeffs + normalize_coeffs_8bpc, for the whole input (box 0..inSize)
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1.0);
  const support = 2.0 * filterscale;
  const ss = 1.0 / filterscale; // multiplied, not divided: the last bit matters
  const bounds = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let weights = [];
    let total = 0.0;
    for (let x = 0; x < xmax; x++) {
      const wgt = bicubic((x + xmin - center + 0.5) * ss);
      weights.push(wgt);
      total += wgt;
    }
    if (total !== 0.0) weights = weights.map((wgt) => wgt / total);
    const fixed = weights.map((k) => Math.trunc(k < 0 ? -0.5 + k * 2 ** PRECISION_BITS : 0.5 + k * 2 ** PRECISION_BITS));
    bounds.push([xmin, fixed]);
  }
  return bounds;
}

function clip8(sum) {
  if (sum >= 2 ** (PRECISION_BITS + 8)) return 255;
  if (sum <= 0) return 0;
  return Math.floor(sum / 2 ** PRECISION_BITS);
}

/** Image.resize(size, BICUBIC): horizontal pass on the rows used, then vertical. */
export function resize(img, width, height) {
  if (img.width === width && img.height === height) return img;
  const c = img.channels;
  const vert = coefficients(img.height, height);
  const first = vert[0][0];
  const last = vert.at(-1)[0] + vert.at(-1)[1].length;
  let src = img;
  if (width !== img.width) {
    const horiz = coefficients(img.width, width);
    const rows = last - first;
    const out = new Uint8Array(width * rows * c);
    for (let y = 0; y < rows; y++) {
      for (let xx = 0; xx < width; xx++) {
        const [xmin, k] = horiz[xx];
        for (let ch = 0; ch < c; ch++) {
          let sum = 2 ** (PRECISION_BITS - 1);
          for (let x = 0; x < k.length; x++) sum += img.data[((y + first) * img.width + x + xmin) * c + ch] * k[x];
          out[(y * width + xx) * c + ch] = clip8(sum);
        }
      }
    }
    src = image(width, rows, c, out);
  } else {
    src = image(img.width, last - first, c, img.data.subarray(first * img.width * c, last * img.width * c));
  }
  if (height === img.height) return src;
  const out = new Uint8Array(width * height * c);
  for (let yy = 0; yy < height; yy++) {
    const [ymin, k] = vert[yy];
    for (let x = 0; x < width; x++) {
      for (let ch = 0; ch < c; ch++) {
        let sum = 2 ** (PRECISION_BITS - 1);
        for (let y = 0; y < k.length; y++) sum += src.data[((y + ymin - first) * width + x) * c + ch] * k[y];
        out[(yy * width + x) * c + ch] = clip8(sum);
      }
    }
  }
  return image(width, height, c, out);
}
