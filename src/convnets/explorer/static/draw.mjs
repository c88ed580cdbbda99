// The drawing canvas: strokes with mouse, pen or touch (pointer events), light on dark, undo.
export class Sketch {
  constructor(canvas, onChange) {
    this.canvas = canvas;
    this.context = canvas.getContext("2d", { willReadFrequently: true });
    this.strokes = [];
    this.onChange = onChange;
    this.width = canvas.width / 12; // about 2.3 pixels at 28: the datasets' stroke width
    canvas.addEventListener("pointerdown", (e) => this.start(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    for (const end of ["pointerup", "pointercancel"]) canvas.addEventListener(end, () => (this.active = null));
    this.redraw();
  }
  point(event) {
    const box = this.canvas.getBoundingClientRect();
    return [((event.clientX - box.left) * this.canvas.width) / box.width,
      ((event.clientY - box.top) * this.canvas.height) / box.height];
  }
  start(event) {
    this.canvas.setPointerCapture(event.pointerId);
    this.active = [this.point(event)];
    this.strokes.push(this.active);
    this.redraw();
    this.onChange();
  }
  move(event) {
    if (!this.active) return;
    for (const e of event.getCoalescedEvents?.() ?? [event]) this.active.push(this.point(e));
    this.redraw();
    this.onChange();
  }
  undo() {
    this.strokes.pop();
    this.redraw();
    this.onChange();
  }
  clear() {
    this.strokes = [];
    this.redraw();
    this.onChange();
  }
  redraw() {
    const c = this.context;
    c.fillStyle = "#000";
    c.fillRect(0, 0, this.canvas.width, this.canvas.height);
    c.strokeStyle = c.fillStyle = "#fff";
    c.lineWidth = this.width;
    c.lineCap = c.lineJoin = "round";
    for (const stroke of this.strokes) {
      c.beginPath();
      c.moveTo(...stroke[0]);
      for (const p of stroke.slice(1)) c.lineTo(...p);
      if (stroke.length === 1) c.lineTo(stroke[0][0] + 0.01, stroke[0][1]);
      c.stroke();
    }
  }
  rgba() {
    return this.context.getImageData(0, 0, this.canvas.width, this.canvas.height).data;
  }
}
