// Events over the time range of the filters, by outcome, drawn as inline
// SVG: about 60 stacked bars (success below, failure above), each with a
// tooltip, and a text summary for screen readers. Dragging across the plot
// (or clicking one bar) asks to zoom to that range: onZoom(from, to), in
// ms since the epoch; the page then filters on it and draws the chart
// again.

import { localLabel, spanText } from './time.js';

const NS = 'http://www.w3.org/2000/svg';
const H = 150;
const LEFT = 34;
const RIGHT = 6;
const TOP = 8;
const BOTTOM = 20;
const DRAG_MIN_PX = 4; // less is a click
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
// Bucket widths: the smallest that keeps a range to at most 60 bars.
const BUCKETS = [SECOND, 2 * SECOND, 5 * SECOND, 10 * SECOND, 15 * SECOND, 30 * SECOND,
  MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE,
  HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, 24 * HOUR, 7 * 24 * HOUR];
const MAX_BARS = 60;

function el(name, attrs, text) {
  const n = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, v);
  if (text !== undefined) n.textContent = text;
  return n;
}

// niceTop is the smallest 1, 2 or 5 times a power of ten at or above n.
function niceTop(n) {
  if (n <= 4) return 4;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 5, 10]) if (m * p >= n) return m * p;
  return 10 * p;
}

export function bucketFor(span) {
  return BUCKETS.find((b) => span / b <= MAX_BARS) || BUCKETS[BUCKETS.length - 1];
}

const bucketName = (b) => (b === MINUTE ? 'minute' : spanText(b));

export class Chart {
  constructor(container, title, onZoom) {
    this.el = container;
    this.title = title;
    this.onZoom = onZoom;
    this.counts = new Map(); // bucket start (ms) -> {success, failure}
    this.partial = false;
    this.width = 0;
    // The range: from and to in ms, to null meaning now; with slide, from
    // is spanMs before to (a since back from now: the range moves on with
    // the clock). label names it in the title.
    this.range = { from: 0, to: null, slide: true, spanMs: HOUR, label: 'last hour' };
    this.bucket = MINUTE;
    this.geom = null; // how the last drawing maps x to time
    this.selection = document.createElement('div');
    this.selection.className = 'chart-selection';
    this.selection.hidden = true;
    this.drag = null;
    // Drawn at the container's width in pixels, so that text is never
    // stretched; drawn again when that changes.
    new ResizeObserver(() => {
      if (this.el.clientWidth !== this.width) this.render();
    }).observe(container);
    container.addEventListener('pointerdown', (ev) => this.dragStart(ev));
    container.addEventListener('pointermove', (ev) => this.dragMove(ev));
    container.addEventListener('pointerup', (ev) => this.dragEnd(ev));
    container.addEventListener('pointercancel', () => this.dragCancel());
  }

  // setRange sets the time range drawn (see this.range); the counts start
  // afresh.
  setRange(range) {
    this.range = range;
    const span = this.span(Date.now());
    this.bucket = bucketFor(span);
    this.counts.clear();
    this.partial = false;
  }

  span(now) {
    const { from, to } = this.window(now);
    return Math.max(to - from, SECOND);
  }

  // window is the range at time now: [from, to) in ms.
  window(now) {
    const r = this.range;
    const to = r.to === null ? now : r.to;
    return { from: r.slide ? to - r.spanMs : r.from, to };
  }

  // reset counts events afresh; partial says they may not be all of the
  // range (the page limit was reached).
  reset(events, partial) {
    this.counts.clear();
    for (const e of events) this.count(e);
    this.partial = partial;
    this.render();
  }

  add(e) {
    this.count(e);
    this.render();
  }

  count(e) {
    const t = Date.parse(e.eventTime);
    if (Number.isNaN(t)) return;
    const m = Math.floor(t / this.bucket) * this.bucket;
    let c = this.counts.get(m);
    if (!c) this.counts.set(m, (c = { success: 0, failure: 0 }));
    if (e.outcome === 'failure') c.failure++;
    else c.success++;
  }

  render(now = Date.now()) {
    const W = Math.max(this.el.clientWidth, 360);
    this.width = this.el.clientWidth;
    const { from, to } = this.window(now);
    const b = this.bucket;
    const first = Math.floor(from / b) * b;
    const last = Math.floor((Math.max(to, from + 1) - 1) / b) * b;
    const n = (last - first) / b + 1;
    for (const m of this.counts.keys()) if (m < first) this.counts.delete(m);
    const buckets = [];
    let max = 0;
    let total = 0;
    let failures = 0;
    let busiest = null;
    for (let i = 0; i < n; i++) {
      const m = first + i * b;
      const c = this.counts.get(m) || { success: 0, failure: 0 };
      const k = c.success + c.failure;
      buckets.push({ m, ...c });
      total += k;
      failures += c.failure;
      if (k > max) {
        max = k;
        busiest = m;
      }
    }
    const top = niceTop(max);
    const plotW = W - LEFT - RIGHT;
    const plotH = H - TOP - BOTTOM;
    const bw = plotW / n;
    const y = (v) => TOP + plotH - (v / top) * plotH;
    const span = to - from;
    const fmt = { withDate: span > 24 * HOUR || new Date(from).toDateString() !== new Date(to).toDateString(), withSeconds: b < MINUTE };
    this.geom = { first, b, n, W, plotW, from, to };
    this.title.textContent = `Events per ${bucketName(b)}, ${this.range.label}`;

    let summary = `${this.range.label}: ${total} events, ${failures} failures.`;
    if (busiest !== null) summary += ` Busiest: ${localLabel(busiest, fmt)} with ${max}.`;
    if (this.partial) summary += ' Counts are partial: the range has more events than were fetched.';
    const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': summary, class: 'chart-svg' });
    for (const v of [0, top / 2, top]) {
      svg.append(el('line', { x1: LEFT, x2: W - RIGHT, y1: y(v), y2: y(v), class: 'grid' }));
      svg.append(el('text', { x: LEFT - 6, y: y(v) + 3.5, 'text-anchor': 'end', class: 'axis' }, String(v)));
    }
    buckets.forEach((c, i) => {
      const g = el('g', { class: 'bucket' });
      const x = LEFT + i * bw + 1;
      const w = Math.max(bw - 2, 1);
      g.append(el('title', {}, `${localLabel(c.m, fmt)}: ${c.success} success, ${c.failure} failure`));
      g.append(el('rect', { x, y: TOP, width: w, height: plotH, class: 'hit' }));
      if (c.success) g.append(el('rect', { x, y: y(c.success), width: w, height: y(0) - y(c.success), class: 'bar-success' }));
      if (c.failure) {
        g.append(el('rect', { x, y: y(c.success + c.failure), width: w, height: y(c.success) - y(c.success + c.failure), class: 'bar-failure' }));
      }
      svg.append(g);
    });
    for (const f of [0, 0.25, 0.5, 0.75, 1]) {
      const anchor = f === 0 ? 'start' : f === 1 ? 'end' : 'middle';
      const label = f === 1 && this.range.to === null ? 'now' : localLabel(this.timeAt(LEFT + f * plotW), fmt);
      svg.append(el('text', { x: LEFT + f * plotW, y: H - 5, 'text-anchor': anchor, class: 'axis' }, label));
    }
    this.el.replaceChildren(svg, this.selection);
  }

  // timeAt is the time under x (in the drawing's units).
  timeAt(x) {
    const g = this.geom;
    const f = Math.min(Math.max((x - LEFT) / g.plotW, 0), 1);
    return g.first + f * g.n * g.b;
  }

  // svgX turns a pointer's clientX into the drawing's units.
  svgX(clientX) {
    const box = this.el.getBoundingClientRect();
    return ((clientX - box.left) / Math.max(box.width, 1)) * this.geom.W;
  }

  dragStart(ev) {
    if (ev.button !== 0 || !this.geom) return;
    this.drag = { x0: ev.clientX, x1: ev.clientX };
    this.el.setPointerCapture(ev.pointerId);
    ev.preventDefault();
  }

  dragMove(ev) {
    if (!this.drag) return;
    this.drag.x1 = ev.clientX;
    const box = this.el.getBoundingClientRect();
    const a = Math.min(this.drag.x0, this.drag.x1) - box.left;
    const b = Math.max(this.drag.x0, this.drag.x1) - box.left;
    this.selection.style.left = `${a}px`;
    this.selection.style.width = `${b - a}px`;
    this.selection.hidden = b - a < DRAG_MIN_PX;
  }

  dragEnd(ev) {
    if (!this.drag) return;
    this.drag.x1 = ev.clientX;
    const { x0, x1 } = this.drag;
    this.dragCancel();
    const g = this.geom;
    let from;
    let to;
    if (Math.abs(x1 - x0) < DRAG_MIN_PX) { // a click: that bar
      const i = Math.floor(((this.svgX(x0) - LEFT) / g.plotW) * g.n);
      if (i < 0 || i >= g.n) return;
      from = g.first + i * g.b;
      to = from + g.b;
    } else {
      from = this.timeAt(this.svgX(Math.min(x0, x1)));
      to = this.timeAt(this.svgX(Math.max(x0, x1)));
    }
    from = Math.max(from, g.from);
    to = Math.min(to, g.to);
    if (to - from >= SECOND) this.onZoom(from, to);
  }

  dragCancel() {
    this.drag = null;
    this.selection.hidden = true;
  }
}
