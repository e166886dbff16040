/**
 * The overview in the graph's corner while the graph is bigger than the view: every node as a
 * dot in its status colour and the part in view as a frame. Click or drag in it to look there.
 */
import type { Layout } from './layout';
import type { Rect } from './viewport';

const SVG = 'http://www.w3.org/2000/svg';
const MAX_W = 160;
const MAX_H = 100;

export class Minimap {
  private readonly svg: SVGSVGElement;
  private readonly frame: SVGRectElement;
  private readonly dots = new Map<string, SVGRectElement>();
  private readonly layer: SVGGElement;

  constructor(
    private readonly host: HTMLElement,
    onMove: (gx: number, gy: number) => void,
  ) {
    this.svg = document.createElementNS(SVG, 'svg');
    this.svg.setAttribute('class', 'minimap-svg');
    this.svg.setAttribute('aria-hidden', 'true'); // the keyboard pans the graph itself
    this.layer = document.createElementNS(SVG, 'g');
    this.frame = document.createElementNS(SVG, 'rect');
    this.frame.setAttribute('class', 'minimap-frame');
    this.svg.append(this.layer, this.frame);
    host.append(this.svg);
    host.hidden = true;
    const move = (e: PointerEvent) => {
      const box = this.svg.getBoundingClientRect();
      const vb = this.svg.viewBox.baseVal;
      if (!box.width || !vb.width) return;
      onMove(vb.x + ((e.clientX - box.left) / box.width) * vb.width, vb.y + ((e.clientY - box.top) / box.height) * vb.height);
    };
    this.svg.addEventListener('pointerdown', (e) => {
      e.preventDefault();
      this.svg.setPointerCapture(e.pointerId);
      move(e);
    });
    this.svg.addEventListener('pointermove', (e) => this.svg.hasPointerCapture(e.pointerId) && move(e));
  }

  setLayout(layout: Layout, statusOf: (key: string) => string): void {
    const scale = Math.min(MAX_W / layout.width, MAX_H / layout.height);
    this.svg.setAttribute('width', String(Math.max(40, Math.round(layout.width * scale))));
    this.svg.setAttribute('height', String(Math.max(30, Math.round(layout.height * scale))));
    this.svg.setAttribute('viewBox', `0 0 ${layout.width} ${layout.height}`);
    this.dots.clear();
    const dots: SVGElement[] = [];
    for (const [, box] of layout.clusters) {
      const r = document.createElementNS(SVG, 'rect');
      r.setAttribute('class', 'minimap-cluster');
      for (const [k, v] of Object.entries({ x: box.x, y: box.y, width: box.w, height: box.h })) r.setAttribute(k, String(v));
      dots.push(r);
    }
    for (const [key, box] of layout.nodes) {
      const r = document.createElementNS(SVG, 'rect');
      for (const [k, v] of Object.entries({ x: box.x, y: box.y, width: box.w, height: box.h })) r.setAttribute(k, String(v));
      this.dots.set(key, r);
      dots.push(r);
    }
    this.layer.replaceChildren(...dots);
    this.paint(statusOf);
  }

  paint(statusOf: (key: string) => string): void {
    for (const [key, r] of this.dots) r.setAttribute('class', `minimap-node status-${statusOf(key)}`);
  }

  /** Shows the frame of what is in view; hides the whole minimap when everything is. */
  setView(view: Rect, showsAll: boolean): void {
    this.host.hidden = showsAll;
    for (const [k, v] of Object.entries({ x: view.x, y: view.y, width: view.w, height: view.h })) this.frame.setAttribute(k, String(v));
  }
}
