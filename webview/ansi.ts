/**
 * A streaming ANSI SGR parser: text in (in chunks, as a process writes it), styled segments out.
 *
 * Why not ansi_up: it returns an HTML string with inline `style` attributes, which the panel's
 * CSP (no 'unsafe-inline') blocks, and HTML strings are one escaping slip away from injection.
 * Segments are data: the view builds DOM nodes with textContent (nothing is ever parsed as HTML)
 * and applies 256-colour and truecolour values through CSSOM. The parser keeps the SGR state and
 * an escape sequence cut between two chunks, so colours survive chunk boundaries.
 */

export type Color = { kind: 'index'; n: number } | { kind: 'rgb'; r: number; g: number; b: number };

export interface Style {
  fg: Color | null;
  bg: Color | null;
  bold: boolean;
  dim: boolean;
  italic: boolean;
  underline: boolean;
  inverse: boolean;
  strike: boolean;
}

export interface Segment {
  text: string;
  style: Style;
}

export const PLAIN: Readonly<Style> = Object.freeze({
  fg: null,
  bg: null,
  bold: false,
  dim: false,
  italic: false,
  underline: false,
  inverse: false,
  strike: false,
});

// CSI (ESC [ params final), OSC (ESC ] ... BEL or ESC \), or any other escape: ESC, optional
// intermediates (a charset's "(B"), a final byte.
// eslint-disable-next-line no-control-regex
const ESCAPE = /\x1b(?:\[([0-?]*)[ -/]*([@-~])|\][^\x07\x1b]*(?:\x07|\x1b\\)|[ -/]*[0-~])/g;
// An escape sequence that may still be completed by the next chunk.
// eslint-disable-next-line no-control-regex
const UNFINISHED = /\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*\x1b?|[ -/]*)$/;
/** A sequence longer than this is garbage, not a sequence waiting for its end. */
const MAX_PENDING = 4096;

export class AnsiParser {
  private style: Style = { ...PLAIN };
  private pending = '';

  /** Parses the next chunk; returns its printable text as segments (escape sequences removed). */
  push(chunk: string): Segment[] {
    let text = this.pending + chunk;
    this.pending = '';
    const tail = UNFINISHED.exec(text);
    if (tail && tail[0].length <= MAX_PENDING) {
      this.pending = tail[0];
      text = text.slice(0, tail.index);
    }
    const out: Segment[] = [];
    let last = 0;
    ESCAPE.lastIndex = 0;
    for (let m = ESCAPE.exec(text); m; m = ESCAPE.exec(text)) {
      if (m.index > last) out.push({ text: text.slice(last, m.index), style: this.style });
      last = ESCAPE.lastIndex;
      if (m[2] === 'm') this.style = applySgr(this.style, m[1] ?? '');
    }
    if (last < text.length) out.push({ text: text.slice(last), style: this.style });
    return out;
  }

  reset(): void {
    this.style = { ...PLAIN };
    this.pending = '';
  }
}

/** Applies one SGR parameter list; unknown codes are skipped, as terminals do. Returns a new style. */
export function applySgr(current: Style, params: string): Style {
  const s: Style = { ...current };
  // A colon-separated code (38:2::r:g:b) is one parameter with sub-parameters.
  const codes = params === '' ? [['0']] : params.split(';').map((p) => p.split(':'));
  for (let i = 0; i < codes.length; i++) {
    const [head = '0', ...subs] = codes[i]!;
    const code = head === '' ? 0 : Number(head);
    if (code === 38 || code === 48) {
      // Extended colour: sub-parameters, or the next parameters in the semicolon form.
      // 38:2:CS:r:g:b may carry a colour-space id before the three components.
      const rest =
        subs.length === 0 ? codes.slice(i + 1).map((c) => c[0] ?? '') : subs[0] === '2' ? ['2', ...subs.slice(-3)] : subs;
      const color = extendedColor(rest);
      if (subs.length === 0) i += color.consumed;
      if (color.value) s[code === 38 ? 'fg' : 'bg'] = color.value;
      continue;
    }
    if (code === 0) Object.assign(s, PLAIN);
    else if (code === 1) s.bold = true;
    else if (code === 2) s.dim = true;
    else if (code === 3) s.italic = true;
    else if (code === 4) s.underline = true;
    else if (code === 7) s.inverse = true;
    else if (code === 9) s.strike = true;
    else if (code === 22) s.bold = s.dim = false;
    else if (code === 23) s.italic = false;
    else if (code === 24) s.underline = false;
    else if (code === 27) s.inverse = false;
    else if (code === 29) s.strike = false;
    else if (code >= 30 && code <= 37) s.fg = { kind: 'index', n: code - 30 };
    else if (code === 39) s.fg = null;
    else if (code >= 40 && code <= 47) s.bg = { kind: 'index', n: code - 40 };
    else if (code === 49) s.bg = null;
    else if (code >= 90 && code <= 97) s.fg = { kind: 'index', n: code - 90 + 8 };
    else if (code >= 100 && code <= 107) s.bg = { kind: 'index', n: code - 100 + 8 };
  }
  return s;
}

function extendedColor(rest: string[]): { value: Color | null; consumed: number } {
  const byte = (x: string | undefined) => {
    const n = Number(x);
    return Number.isInteger(n) && n >= 0 && n <= 255 ? n : null;
  };
  if (rest[0] === '5') {
    const n = byte(rest[1]);
    return { value: n === null ? null : { kind: 'index', n }, consumed: 2 };
  }
  if (rest[0] === '2') {
    const [r, g, b] = [byte(rest[1]), byte(rest[2]), byte(rest[3])];
    return { value: r === null || g === null || b === null ? null : { kind: 'rgb', r, g, b }, consumed: 4 };
  }
  return { value: null, consumed: 0 };
}

/** The RGB of an xterm 256-colour index from 16 up (0-15 come from the theme). */
export function xterm256(n: number): { r: number; g: number; b: number } {
  if (n >= 232) {
    const v = 8 + (n - 232) * 10;
    return { r: v, g: v, b: v };
  }
  const i = n - 16;
  const level = (x: number) => (x === 0 ? 0 : 55 + x * 40);
  return { r: level(Math.floor(i / 36)), g: level(Math.floor(i / 6) % 6), b: level(i % 6) };
}
