/**
 * The streamed output of the selected run. Chunks are queued and rendered once per animation
 * frame, and the DOM keeps only the last MAX_LINES lines, so a run printing megabytes neither
 * freezes the panel nor grows it without bound. Text goes in through textContent only.
 */
import type { Stream } from '../src/protocol/webview';
import { AnsiParser, type Color, type Segment, type Style, xterm256 } from './ansi';

export const MAX_LINES = 5000;
/** Characters parsed per frame: a huge catch-up log is spread over frames, not one long task. */
const CHARS_PER_FRAME = 512 * 1024;
/**
 * Text waiting for a frame. Frames stop while the window is minimised but messages keep coming;
 * past this the oldest waiting text goes (it would scroll out of the capped view anyway).
 */
const MAX_QUEUED_CHARS = 8 * 1024 * 1024;

interface Line {
  /** A carriage return: the line starts over (progress bars), dropping what it showed. */
  reset: boolean;
  parts: { stream: Stream; segment: Segment }[];
}

export class OutputView {
  private queue: { stream: Stream; data: string }[] = [];
  private queuedChars = 0;
  private parsers = { stdout: new AnsiParser(), stderr: new AnsiParser() };
  /** A '\r' at the end of a chunk: it may be the first half of "\r\n". */
  private pendingCr = { stdout: false, stderr: false };
  private frame: number | null = null;
  private current: HTMLElement | null = null;
  private lineCount = 0;

  constructor(private readonly pre: HTMLElement) {}

  /** Drops everything shown: a new run is selected, or its whole log is about to be replayed. */
  clear(placeholder = ''): void {
    this.queue = [];
    this.queuedChars = 0;
    this.parsers.stdout.reset();
    this.parsers.stderr.reset();
    this.pendingCr = { stdout: false, stderr: false };
    this.pre.replaceChildren();
    this.current = null;
    this.lineCount = 0;
    if (placeholder) this.pre.dataset.placeholder = placeholder;
    else delete this.pre.dataset.placeholder;
  }

  append(stream: Stream, data: string): void {
    if (data === '') return;
    this.queue.push({ stream, data });
    this.queuedChars += data.length;
    while (this.queuedChars > MAX_QUEUED_CHARS && this.queue.length > 1) this.queuedChars -= this.queue.shift()!.data.length;
    delete this.pre.dataset.placeholder;
    if (this.frame === null) this.frame = requestAnimationFrame(() => this.render());
  }

  /** Renders queued chunks now (tests, and a view about to be measured). */
  flush(): void {
    if (this.frame !== null) cancelAnimationFrame(this.frame);
    this.frame = null;
    while (this.queue.length > 0) this.renderSome(Infinity);
  }

  private render(): void {
    this.frame = null;
    this.renderSome(CHARS_PER_FRAME);
    if (this.queue.length > 0) this.frame = requestAnimationFrame(() => this.render());
  }

  private renderSome(budget: number): void {
    const lines: Line[] = [{ reset: false, parts: [] }];
    let used = 0;
    while (this.queue.length > 0 && used < budget) {
      const { stream, data } = this.queue.shift()!;
      used += data.length;
      this.queuedChars -= data.length;
      for (const segment of this.parsers[stream].push(data)) this.split(lines, stream, segment);
    }
    const stick = this.pre.scrollHeight - this.pre.scrollTop - this.pre.clientHeight < 8;
    this.write(lines);
    if (stick) this.pre.scrollTop = this.pre.scrollHeight;
  }

  /** Splits a segment at newlines and carriage returns into the lines being built. */
  private split(lines: Line[], stream: Stream, segment: Segment): void {
    let text = segment.text;
    if (this.pendingCr[stream]) {
      this.pendingCr[stream] = false;
      if (!text.startsWith('\n')) lines[lines.length - 1] = { reset: true, parts: [] };
    }
    if (text.endsWith('\r')) {
      this.pendingCr[stream] = true;
      text = text.slice(0, -1);
    }
    const pieces = text.replace(/\r\n/g, '\n').split('\n');
    pieces.forEach((piece, i) => {
      if (i > 0) lines.push({ reset: false, parts: [] });
      const cr = piece.lastIndexOf('\r');
      if (cr >= 0) {
        lines[lines.length - 1] = { reset: true, parts: [] };
        piece = piece.slice(cr + 1);
      }
      // Other C0 controls (bell, backspace, ...) would show as boxes.
      // eslint-disable-next-line no-control-regex
      piece = piece.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '');
      if (piece) lines[lines.length - 1]!.parts.push({ stream, segment: { text: piece, style: segment.style } });
    });
  }

  private write(lines: Line[]): void {
    // Lines that would be cut right away are never built.
    const skip = Math.max(0, lines.length - MAX_LINES);
    if (skip > 0) {
      this.pre.replaceChildren();
      this.current = null;
      this.lineCount = 0;
    }
    const fragment = document.createDocumentFragment();
    lines.slice(skip).forEach((line, i) => {
      let el: HTMLElement;
      if (i === 0 && skip === 0 && this.current) {
        el = this.current;
        if (line.reset) el.replaceChildren();
      } else {
        el = document.createElement('div');
        el.className = 'line';
        fragment.append(el);
        this.lineCount++;
      }
      for (const { stream, segment } of line.parts) el.append(renderSegment(stream, segment));
      if (line.parts.some((p) => p.stream === 'stderr')) el.classList.add('has-stderr');
      this.current = el;
    });
    this.pre.append(fragment);
    let excess = this.lineCount - MAX_LINES;
    while (excess-- > 0 && this.pre.firstChild) {
      this.pre.firstChild.remove();
      this.lineCount--;
    }
  }
}

function renderSegment(stream: Stream, { text, style }: Segment): HTMLSpanElement | Text {
  if (stream === 'stdout' && isPlain(style)) return document.createTextNode(text);
  const span = document.createElement('span');
  span.textContent = text;
  if (stream === 'stderr') span.classList.add('stderr');
  let { fg, bg } = style;
  if (style.inverse) [fg, bg] = [bg, fg];
  if (style.inverse && !fg) span.classList.add('ansi-inverse-fg');
  if (style.inverse && !bg) span.classList.add('ansi-inverse-bg');
  applyColor(span, 'fg', fg);
  applyColor(span, 'bg', bg);
  if (style.bold) span.classList.add('ansi-bold');
  if (style.dim) span.classList.add('ansi-dim');
  if (style.italic) span.classList.add('ansi-italic');
  if (style.underline) span.classList.add('ansi-underline');
  if (style.strike) span.classList.add('ansi-strike');
  return span;
}

function isPlain(s: Style): boolean {
  return !s.fg && !s.bg && !s.bold && !s.dim && !s.italic && !s.underline && !s.inverse && !s.strike;
}

/** The 16 theme colours are classes (terminal theme variables); the rest go through CSSOM. */
function applyColor(span: HTMLElement, which: 'fg' | 'bg', color: Color | null): void {
  if (!color) return;
  if (color.kind === 'index' && color.n < 16) {
    span.classList.add(`ansi-${which}-${color.n}`);
    return;
  }
  const { r, g, b } = color.kind === 'rgb' ? color : xterm256(color.n);
  if (which === 'fg') span.style.color = `rgb(${r}, ${g}, ${b})`;
  else span.style.backgroundColor = `rgb(${r}, ${g}, ${b})`;
}
