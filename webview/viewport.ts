/**
 * Which part of the graph the view shows, at what scale: pure arithmetic, no DOM, so the limits
 * are unit-tested in Node. A point (gx, gy) of the graph is drawn at (gx·scale + x, gy·scale + y).
 *
 * The scale never goes below MIN_SCALE, where a task's id is still MIN_LABEL_PX high: "Fit" on a
 * big plan stops there and the view pans instead (drag, wheel, keyboard, the minimap).
 */
export const LABEL_PX = 13;
export const MIN_LABEL_PX = 10;
export const MIN_SCALE = MIN_LABEL_PX / LABEL_PX;
export const MAX_SCALE = 2;
/** A small plan is fitted no bigger than this: huge boxes read worse, not better. */
export const FIT_MAX_SCALE = 1.2;
/** Room kept around the graph when panning to an edge or fitting. */
export const MARGIN = 12;

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** A width or height of at least 1 (a hidden view measures 0; a missing size is NaN, which would spread to every coordinate). */
const size = (n: number | undefined): number => (n !== undefined && Number.isFinite(n) ? Math.max(1, n) : 1);

export class Viewport {
  scale = 1;
  x = 0;
  y = 0;
  viewW = 1;
  viewH = 1;
  contentW = 1;
  contentH = 1;

  setView(w: number, h: number): void {
    this.viewW = size(w);
    this.viewH = size(h);
    this.clamp();
  }

  /** The laid-out graph's size (a layout of nothing may have none: then 1 × 1). */
  setContent(w: number | undefined, h: number | undefined): void {
    this.contentW = size(w);
    this.contentH = size(h);
    this.clamp();
  }

  /** The scale at which the whole graph shows, within [MIN_SCALE, FIT_MAX_SCALE]. */
  fitScale(): number {
    const s = Math.min((this.viewW - 2 * MARGIN) / this.contentW, (this.viewH - 2 * MARGIN) / this.contentH);
    return Math.max(MIN_SCALE, Math.min(FIT_MAX_SCALE, s));
  }

  /** Whether all of the graph is in view at the current scale. */
  showsAll(): boolean {
    return this.contentW * this.scale <= this.viewW + 0.5 && this.contentH * this.scale <= this.viewH + 0.5;
  }

  /** Fits the graph, or as much of it as a readable scale allows, centred on (cx, cy) if given. */
  fit(centre?: { x: number; y: number }): void {
    this.scale = this.fitScale();
    this.centreOn(centre?.x ?? this.contentW / 2, centre?.y ?? this.contentH / 2);
  }

  setScale(scale: number, around = { x: this.viewW / 2, y: this.viewH / 2 }): void {
    if (!Number.isFinite(scale)) return;
    const next = Math.max(MIN_SCALE, Math.min(MAX_SCALE, scale));
    // The graph point under `around` stays under it.
    const gx = (around.x - this.x) / this.scale;
    const gy = (around.y - this.y) / this.scale;
    this.scale = next;
    this.x = around.x - gx * next;
    this.y = around.y - gy * next;
    this.clamp();
  }

  zoomBy(factor: number, around?: { x: number; y: number }): void {
    this.setScale(this.scale * factor, around);
  }

  panBy(dx: number, dy: number): void {
    this.x += dx;
    this.y += dy;
    this.clamp();
  }

  centreOn(gx: number, gy: number): void {
    this.x = this.viewW / 2 - gx * this.scale;
    this.y = this.viewH / 2 - gy * this.scale;
    this.clamp();
  }

  /** Pans the least that brings `box` (graph coordinates) into view, with a margin. */
  reveal(box: Rect): void {
    const left = box.x * this.scale + this.x;
    const top = box.y * this.scale + this.y;
    const right = left + box.w * this.scale;
    const bottom = top + box.h * this.scale;
    let dx = 0;
    let dy = 0;
    if (right > this.viewW - MARGIN) dx = this.viewW - MARGIN - right;
    if (left + dx < MARGIN) dx = MARGIN - left;
    if (bottom > this.viewH - MARGIN) dy = this.viewH - MARGIN - bottom;
    if (top + dy < MARGIN) dy = MARGIN - top;
    if (dx || dy) this.panBy(dx, dy);
  }

  /** The part of the graph in view, in graph coordinates. */
  visible(): Rect {
    return { x: -this.x / this.scale, y: -this.y / this.scale, w: this.viewW / this.scale, h: this.viewH / this.scale };
  }

  /**
   * A graph smaller than the view stays inside it; a bigger one cannot be dragged away: its edge
   * stops at the view's edge (plus the margin).
   */
  private clamp(): void {
    const axis = (pos: number, content: number, view: number) => {
      const span = content * this.scale;
      const a = MARGIN;
      const b = view - span - MARGIN;
      return Math.max(Math.min(a, b), Math.min(Math.max(a, b), pos));
    };
    this.x = axis(this.x, this.contentW, this.viewW);
    this.y = axis(this.y, this.contentH, this.viewH);
  }
}
