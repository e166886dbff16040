/**
 * Runs ELK in a Web Worker. The worker script (dist/elk-worker.js, ELK's own build) is served
 * from the extension like the panel's other files, but a webview may only start a worker from
 * its own origin, so it is fetched and started from a blob: URL (the CSP allows exactly that:
 * `connect-src` the extension's files, `worker-src blob:`).
 *
 * One layout at a time: while one runs, only the newest request waits (a burst of plan changes
 * costs two layouts, not one per change).
 */
import ELK from 'elkjs/lib/elk-api';
import type { ElkNode } from 'elkjs/lib/elk-api';
import type { VisibleGraph } from './graph-model';
import { type Direction, type Layout, chooseDirection, fromElkLayout, toElkGraph } from './layout';

/** What the engine needs of ELK: elk-api over a worker here, elk.bundled in Node tests. */
export interface ElkLike {
  layout(graph: ElkNode): Promise<ElkNode>;
}

/** A layout that outlives this is given up on (ELK hangs on no input we know, but a worker can die). */
const LAYOUT_TIMEOUT_MS = 60_000;

export async function startElkWorker(workerUrl: string): Promise<ElkLike> {
  const response = await fetch(workerUrl);
  if (!response.ok) throw new Error(`could not load the layout worker (${workerUrl}): HTTP ${response.status}`);
  const blobUrl = URL.createObjectURL(new Blob([await response.text()], { type: 'text/javascript' }));
  return new ELK({ workerFactory: () => new Worker(blobUrl), algorithms: ['layered'] });
}

export interface LayoutRequest {
  graph: VisibleGraph;
  /** The view's size: the direction and the packing of separate parts follow its shape. */
  width: number;
  height: number;
  /** Forces a direction (tests); otherwise chosen by chooseDirection. */
  direction?: Direction;
}

export class LayoutEngine {
  private running = false;
  private waiting: { request: LayoutRequest; resolve: (l: Layout | null) => void; reject: (e: unknown) => void } | null = null;
  /** Layouts run, for tests that check a recolour does not lay out again. */
  count = 0;
  /** How long the last layout took in ELK, in ms. */
  lastMs = 0;

  constructor(private readonly elk: Promise<ElkLike>) {}

  /** Resolves with the layout, or null when a newer request replaced this one before it ran. */
  layout(request: LayoutRequest): Promise<Layout | null> {
    return new Promise((resolve, reject) => {
      this.waiting?.resolve(null);
      this.waiting = { request, resolve, reject };
      void this.next();
    });
  }

  private async next(): Promise<void> {
    if (this.running || !this.waiting) return;
    const { request, resolve, reject } = this.waiting;
    this.waiting = null;
    this.running = true;
    try {
      const elk = await this.elk;
      const direction = request.direction ?? chooseDirection(request.graph, request.width, request.height);
      const started = performance.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const result = await Promise.race([
        elk.layout(toElkGraph(request.graph, direction, request.width / Math.max(1, request.height))),
        new Promise<never>((_, fail) => (timer = setTimeout(() => fail(new Error(`the layout took over ${LAYOUT_TIMEOUT_MS / 1000} s`)), LAYOUT_TIMEOUT_MS))),
      ]).finally(() => clearTimeout(timer));
      this.lastMs = performance.now() - started;
      this.count++;
      resolve(fromElkLayout(request.graph, result, direction));
    } catch (e) {
      reject(e);
    } finally {
      this.running = false;
      void this.next();
    }
  }
}
