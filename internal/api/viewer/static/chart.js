// Events per minute by outcome over the last hour, drawn as inline SVG:
// 60 stacked bars (success below, failure above), each with a tooltip,
// and a text summary for screen readers.

const NS = 'http://www.w3.org/2000/svg';
const MINUTES = 60;
const MINUTE = 60000;
const H = 150;
const LEFT = 34;
const RIGHT = 6;
const TOP = 8;
const BOTTOM = 20;

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

const hhmm = (t) => {
  const d = new Date(t);
  return String(d.getHours()).padStart(2, '0') + ':' + String(d.getMinutes()).padStart(2, '0');
};

export class Chart {
  constructor(container) {
    this.el = container;
    this.counts = new Map(); // minute start (ms) -> {success, failure}
    this.partial = false;
    this.width = 0;
    // Drawn at the container's width in pixels, so that text is never
    // stretched; drawn again when that changes.
    new ResizeObserver(() => {
      if (this.el.clientWidth !== this.width) this.render();
    }).observe(container);
  }

  // reset counts events afresh; partial says they may not be all of the
  // last hour (the page limit was reached).
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
    const m = Math.floor(t / MINUTE) * MINUTE;
    let c = this.counts.get(m);
    if (!c) this.counts.set(m, (c = { success: 0, failure: 0 }));
    if (e.outcome === 'failure') c.failure++;
    else c.success++;
  }

  render(now = Date.now()) {
    const W = Math.max(this.el.clientWidth, 360);
    this.width = this.el.clientWidth;
    const last = Math.floor(now / MINUTE) * MINUTE;
    const first = last - (MINUTES - 1) * MINUTE;
    for (const m of this.counts.keys()) if (m < first) this.counts.delete(m);
    const buckets = [];
    let max = 0;
    let total = 0;
    let failures = 0;
    let busiest = null;
    for (let i = 0; i < MINUTES; i++) {
      const m = first + i * MINUTE;
      const c = this.counts.get(m) || { success: 0, failure: 0 };
      const n = c.success + c.failure;
      buckets.push({ m, ...c });
      total += n;
      failures += c.failure;
      if (n > max) {
        max = n;
        busiest = m;
      }
    }
    const top = niceTop(max);
    const plotW = W - LEFT - RIGHT;
    const plotH = H - TOP - BOTTOM;
    const bw = plotW / MINUTES;
    const y = (v) => TOP + plotH - (v / top) * plotH;

    let summary = `Last hour: ${total} events, ${failures} failures.`;
    if (busiest !== null) summary += ` Busiest minute ${hhmm(busiest)} with ${max}.`;
    if (this.partial) summary += ' Counts are partial: the hour has more events than were fetched.';
    const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': summary, class: 'chart-svg' });
    for (const v of [0, top / 2, top]) {
      svg.append(el('line', { x1: LEFT, x2: W - RIGHT, y1: y(v), y2: y(v), class: 'grid' }));
      svg.append(el('text', { x: LEFT - 6, y: y(v) + 3.5, 'text-anchor': 'end', class: 'axis' }, String(v)));
    }
    buckets.forEach((b, i) => {
      const g = el('g', { class: 'bucket' });
      const x = LEFT + i * bw + 1;
      const w = Math.max(bw - 2, 1);
      g.append(el('title', {}, `${hhmm(b.m)}: ${b.success} success, ${b.failure} failure`));
      g.append(el('rect', { x, y: TOP, width: w, height: plotH, class: 'hit' }));
      if (b.success) g.append(el('rect', { x, y: y(b.success), width: w, height: y(0) - y(b.success), class: 'bar-success' }));
      if (b.failure) {
        g.append(el('rect', { x, y: y(b.success + b.failure), width: w, height: y(b.success) - y(b.success + b.failure), class: 'bar-failure' }));
      }
      svg.append(g);
    });
    for (const [i, label] of [[0, '−60 min'], [15, '−45'], [30, '−30'], [45, '−15'], [MINUTES - 1, 'now']]) {
      const anchor = i === 0 ? 'start' : i === MINUTES - 1 ? 'end' : 'middle';
      const x = i === MINUTES - 1 ? W - RIGHT : LEFT + i * bw + (i === 0 ? 0 : bw / 2);
      svg.append(el('text', { x, y: H - 5, 'text-anchor': anchor, class: 'axis' }, label));
    }
    this.el.replaceChildren(svg);
  }
}
