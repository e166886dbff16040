import { randomBytes } from 'node:crypto';

/**
 * The task graph panel's HTML, apart from `vscode` so tests (and the browser test's static
 * page) render exactly what the panel serves.
 */
export interface PanelHtmlOptions {
  /** `webview.cspSource`: the origin VS Code serves local resources from. */
  cspSource: string;
  nonce: string;
  scriptUri: string;
  styleUri: string;
  /** ELK's worker script (dist/elk-worker.js); the webview fetches it and starts it from a blob. */
  layoutWorkerUri: string;
  title: string;
}

/**
 * A nonce for the one script tag: unpredictable (crypto, never Math.random), fresh per render,
 * so injected markup cannot carry a script that runs.
 */
export function makeNonce(): string {
  return randomBytes(24).toString('base64url'); // 32 characters
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** For a double-quoted attribute: single quotes stay, so the CSP reads as written ('none'). */
function escapeAttr(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ESCAPES[c]!);
}

/**
 * No 'unsafe-inline' for styles either: the webview sets computed styles through CSSOM
 * (element.style), which style-src does not govern, and everything else through classes.
 * The layout worker: its script is fetched from the extension's files (connect-src) and run from
 * a blob: URL (worker-src), since a worker must come from the webview's own origin.
 */
export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `img-src ${cspSource} data:`,
    `style-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
    `font-src ${cspSource}`,
    `connect-src ${cspSource}`,
    'worker-src blob:',
  ].join('; ');
}

export function renderPanelHtml(options: PanelHtmlOptions): string {
  const { cspSource, nonce, scriptUri, styleUri, layoutWorkerUri, title } = options;
  if (!/^[A-Za-z0-9+/_=-]{16,}$/.test(nonce)) throw new Error('renderPanelHtml: the nonce must be 16+ base64 characters');
  const attr = escapeAttr;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${attr(contentSecurityPolicy(cspSource, nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${attr(styleUri)}">
<title>${escapeHtml(title)}</title>
</head>
<body data-layout-worker="${attr(layoutWorkerUri)}">
<div id="app" class="app">
  <div id="banner" class="banner" role="alert" hidden></div>
  <section class="pane pane-dag" aria-labelledby="dag-title">
    <header class="pane-header"><h2 id="dag-title">Task graph</h2><span id="dag-summary" class="summary" aria-live="polite"></span>
      <span class="zoom" role="group" aria-label="Zoom the graph"><button type="button" class="icon" data-zoom="out" aria-label="Zoom out" title="Zoom out (-)">−</button><button type="button" class="icon" data-zoom="in" aria-label="Zoom in" title="Zoom in (+)">+</button><button type="button" class="icon" data-zoom="fit" aria-label="Fit the graph" title="Fit the graph, down to a readable size (0)">Fit</button><button type="button" class="icon" data-zoom="actual" aria-label="Actual size" title="Actual size">1:1</button></span></header>
    <div class="toolbar" role="toolbar" aria-label="Search and filter the graph">
      <input id="search" type="search" placeholder="Search id or text" aria-label="Search tasks by id or text (Enter: next match)" autocomplete="off" spellcheck="false"><span id="search-count" class="search-count" aria-live="polite"></span>
      <span id="status-chips" class="chips" role="group" aria-label="Filter by status"></span>
      <select id="filter-group" aria-label="Filter by group"></select>
      <select id="filter-holder" aria-label="Filter by holder"></select>
      <button id="collapse" class="toggle" type="button" aria-pressed="false" title="Fold completed tasks that depend on each other into one node">Collapse done</button>
    </div>
    <div id="scope-bar" class="scope-bar" hidden><span id="scope-text"></span><button id="scope-back" class="action secondary" type="button">Back to the summary</button></div>
    <div class="dag-wrap">
      <div id="dag" class="dag" tabindex="-1"></div>
      <div id="summary" class="summary-view" hidden></div>
      <div id="minimap" class="minimap" hidden></div>
    </div>
  </section>
  <section class="pane pane-side">
    <section class="side-section" aria-labelledby="detail-title">
      <header class="pane-header"><h2 id="detail-title">Details</h2></header>
      <div id="task-detail" class="task-detail" aria-live="polite"></div>
    </section>
    <section class="side-section" aria-labelledby="instances-title">
      <header class="pane-header"><h2 id="instances-title">Workers</h2></header>
      <ul id="instances" class="list instances" aria-label="Workers"></ul>
    </section>
    <section class="side-section" aria-labelledby="runs-title">
      <header class="pane-header"><h2 id="runs-title">Runs</h2></header>
      <ul id="runs" class="list runs" role="listbox" aria-label="Runs"></ul>
    </section>
  </section>
  <section class="pane pane-output" aria-labelledby="output-title">
    <header class="pane-header"><h2 id="output-title">Output</h2><span id="output-run" class="summary"></span><button id="follow" class="toggle" type="button" aria-pressed="true" title="Show the newest run's output as runs start">Follow newest</button></header>
    <div id="output-note" class="note" hidden></div>
    <pre id="output" class="output" tabindex="0" aria-label="Output of the selected run" aria-live="off"></pre>
  </section>
</div>
<script nonce="${attr(nonce)}" src="${attr(scriptUri)}"></script>
</body>
</html>
`;
}
