// The viewer: filters, the first page and "Load more", the live stream,
// the chart and the token form; the table, the chart, the event dialog,
// the log files panel, the integrity badges, the export and the filters'
// URL are modules of their own.

import { token, listEvents, AuthError, ApiError } from './api.js';
import { LiveStream } from './live.js';
import { EventTable } from './table.js';
import { Chart } from './chart.js';
import { Detail } from './detail.js';
import { setupFiles } from './files.js';
import { View, isTrailRead } from './filters.js';
import { Integrity } from './integrity.js';
import { setupExport } from './exporter.js';
import { isoSeconds } from './time.js';
import { renderPeers } from './peers.js';

const PAGE = 500; // events shown per page ("Load more")
const FILL_PAGES = 20; // pages asked at most to fill one page when trail reads are hidden
const CATCH_UP = 200; // events fetched again after the stream reconnects
const CHART_PAGES = 20; // at most 20 pages of 1,000 counted for the chart

const $ = (id) => document.getElementById(id);
const ui = {
  filters: $('filters'), text: $('f-text'), live: $('f-live'), hideReads: $('f-hide-reads'),
  liveState: $('live-state'), message: $('message'), count: $('count'), empty: $('empty'),
  more: $('more'), tokenPanel: $('token-panel'), tokenForm: $('token-form'), tokenInput: $('token-input'),
  tokenTitle: $('token-title'), forget: $('forget-token'), zoomReset: $('zoom-reset'),
  exportCSV: $('export-csv'), exportJSONL: $('export-jsonl'), exportState: $('export-state'),
};

const detail = new Detail();
const live = new LiveStream(ui.liveState);
const table = new EventTable($('rows'), (e, row) => detail.open(e, row));
const chart = new Chart($('chart'), $('chart-title'), (from, to) => zoom(from, to));
setupFiles($('files'), $('file-list'), (err) => fail(err));
const integrity = new Integrity({
  strip: $('integrity'), panel: $('integrity-panel'), title: $('integrity-title'), summary: $('integrity-summary'),
  files: $('integrity-files'), checked: $('integrity-checked'), check: $('integrity-check'), close: $('integrity-close'),
}, (err) => fail(err));

const state = {
  view: new View(), // the filters as typed, and the toggle
  query: new URLSearchParams(), // the API's parameters: the filters with their times resolved
  zoomedFrom: null, // the view before the first zoom, or null
  cursor: null, // next page, or null
  generation: 0, // bumped by every reload: answers to an older one are dropped
  chartPending: null, // live events seen while the chart loads, or null
  loadingMore: false,
};

// shown: whether an event belongs in the view (the filters aside, which
// the server applied): trail reads are left out unless asked for. The API
// has no filter that excludes an action, so this one is applied here, and
// pages are filled up to PAGE events (fetchPage).
const shown = (e) => state.view.showReads || !isTrailRead(e);

function withParams(base, extra) {
  const p = new URLSearchParams(base);
  for (const [k, v] of Object.entries(extra)) p.set(k, v);
  return p;
}

// ---- loading ----

// fetchPage asks for pages of PAGE from cursor until PAGE events to show
// were found, the trail ends, or FILL_PAGES were asked.
async function fetchPage(cursor) {
  const events = [];
  let next = cursor;
  let peers;
  for (let i = 0; i < FILL_PAGES; i++) {
    const p = withParams(state.query, { limit: PAGE });
    if (next) p.set('cursor', next);
    const page = await listEvents(p);
    if (page.peers) peers = page.peers;
    for (const e of page.results || []) if (shown(e)) events.push(e);
    next = page.next_cursor || null;
    if (!next || events.length >= PAGE) break;
  }
  return { events, cursor: next, peers };
}

async function reload() {
  const gen = ++state.generation;
  stopStream();
  table.clear();
  state.cursor = null;
  const resolved = state.view.resolve();
  state.query = resolved.query;
  chart.setRange(resolved.range);
  chart.render();
  hideMessage();
  updateCount();
  try {
    // The stream first, so that nothing written while the first page is
    // fetched is missed; the two are merged by id.
    if (ui.live.checked) await startStream(gen);
    if (gen !== state.generation) return;
    const page = await fetchPage(null);
    if (gen !== state.generation) return;
    measure('trailcar:first-page', () => table.insert(page.events));
    renderPeers(page.peers);
    state.cursor = page.cursor;
    updateCount();
    integrity.refresh(false);
    loadChart(gen);
  } catch (err) {
    if (gen === state.generation) fail(err);
  }
}

async function loadMore() {
  if (!state.cursor || state.loadingMore) return;
  const gen = state.generation;
  state.loadingMore = true;
  ui.more.disabled = true;
  ui.more.textContent = 'Loading…';
  try {
    const page = await fetchPage(state.cursor);
    if (gen !== state.generation) return;
    measure('trailcar:more', () => table.appendOlder(page.events));
    renderPeers(page.peers);
    state.cursor = page.cursor;
  } catch (err) {
    fail(err);
  } finally {
    state.loadingMore = false;
    ui.more.disabled = false;
    updateCount();
  }
}

// loadChart counts the events of the chart's range matching the filters.
async function loadChart(gen) {
  const { from, to } = chart.window(Date.now());
  const p = new URLSearchParams(state.query);
  p.set('since', new Date(from).toISOString());
  if (to !== null && chart.range.to !== null) p.set('before', new Date(to).toISOString());
  else p.delete('before');
  p.set('limit', '1000');
  state.chartPending = [];
  const events = [];
  let partial = false;
  try {
    for (let i = 0; ; i++) {
      const page = await listEvents(p);
      if (gen !== state.generation) return;
      for (const e of page.results || []) if (shown(e)) events.push(e);
      if (!page.next_cursor) break;
      if (i === CHART_PAGES - 1) {
        partial = true;
        break;
      }
      p.set('cursor', page.next_cursor);
    }
    const seen = new Set(events.map((e) => e.id));
    for (const e of state.chartPending) if (!seen.has(e.id)) events.push(e);
    chart.reset(events, partial);
  } catch (err) {
    if (gen === state.generation) fail(err);
  } finally {
    if (gen === state.generation) state.chartPending = null;
  }
}

// ---- live stream ----

function startStream(gen) {
  return live.start(state.query, {
    onEvent: onLiveEvent,
    onReconnected: () => catchUp(gen),
    onPeers: renderPeers,
    onNotice: (text) => showMessage(`Live updates: ${text}. Reconnecting.`),
    onAuth: (err) => needToken(err.message),
  });
}

function stopStream() {
  live.stop(!ui.live.checked);
}

function onLiveEvent(e) {
  if (!shown(e)) return;
  const added = table.insert([e], true);
  if (!added.length) return;
  chart.add(e);
  if (state.chartPending) state.chartPending.push(e);
  updateCount();
}

async function catchUp(gen) {
  try {
    const page = await listEvents(withParams(state.query, { limit: CATCH_UP }));
    if (gen !== state.generation) return;
    for (const e of table.insert((page.results || []).filter(shown), true)) chart.add(e);
    updateCount();
  } catch (err) {
    if (gen === state.generation) fail(err);
  }
}

// ---- messages, counts, token ----

function fail(err) {
  if (err instanceof AuthError) {
    needToken(err.message);
    return;
  }
  if (err && err.name === 'AbortError') return;
  const what = err instanceof ApiError && err.status === 400 ? 'Filter refused' : 'Could not load events';
  showMessage(`${what}: ${err.message || err}`);
}

function showMessage(text) {
  ui.message.textContent = text;
  ui.message.hidden = false;
}

function hideMessage() {
  ui.message.hidden = true;
  ui.message.textContent = '';
}

function updateCount() {
  const n = table.size;
  const text = table.query ? `${table.visible} of ${n} loaded events match the search` : `${n} event${n === 1 ? '' : 's'} loaded`;
  ui.count.textContent = text + (state.cursor ? ' · more on the server' : '');
  ui.empty.hidden = table.visible > 0;
  ui.more.hidden = !state.cursor;
  if (!state.loadingMore) ui.more.textContent = `Load ${PAGE} more`;
}

function needToken(reason) {
  stopStream();
  state.generation++;
  const had = token.get() !== '';
  ui.tokenTitle.textContent = had ? 'That token was refused' : 'Admin token needed';
  ui.tokenPanel.hidden = false;
  ui.forget.hidden = true;
  ui.tokenInput.setAttribute('aria-invalid', had ? 'true' : 'false');
  ui.tokenInput.focus();
  if (reason && had) showMessage(reason);
}

ui.tokenForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const value = ui.tokenInput.value.trim();
  if (!value) return;
  token.set(value);
  ui.tokenInput.value = '';
  ui.tokenPanel.hidden = true;
  ui.forget.hidden = false;
  reload().then(() => $('events-title').focus());
});

ui.forget.addEventListener('click', () => {
  token.clear();
  table.clear();
  updateCount();
  needToken('');
});

// ---- wiring ----

// measure records how long fn took (name) and how long until the next
// frame was drawn (name + ':painted'), for the browser test to report.
function measure(name, fn) {
  const start = performance.now();
  const result = fn();
  performance.measure(name, { start, end: performance.now() });
  requestAnimationFrame(() => setTimeout(() => performance.measure(name + ':painted', { start, end: performance.now() })));
  return result;
}

// show makes view the page's: the form, the URL (as typed, so a link
// reproduces it) and the rows.
function show(view, { zoomed = false } = {}) {
  if (!zoomed) state.zoomedFrom = null;
  state.view = view;
  view.toForm(ui.filters);
  ui.hideReads.checked = !view.showReads;
  ui.zoomReset.hidden = state.zoomedFrom === null;
  markPreset();
  history.replaceState(null, '', view.search() || location.pathname);
  reload();
}

function applyFilters() {
  show(View.fromForm(ui.filters, !ui.hideReads.checked));
}

// zoom narrows the view to [from, to) (ms), from the chart; Reset zoom
// goes back to the view before the first zoom.
function zoom(from, to) {
  if (state.zoomedFrom === null) state.zoomedFrom = state.view;
  const f = new URLSearchParams(state.view.filters);
  f.set('since', isoSeconds(from));
  f.set('before', isoSeconds(to, true));
  show(new View(f, state.view.showReads), { zoomed: true });
}

ui.zoomReset.addEventListener('click', () => {
  if (state.zoomedFrom) show(state.zoomedFrom);
});

// The range presets set since back from now and clear before.
for (const b of ui.filters.querySelectorAll('button[data-range]')) {
  b.addEventListener('click', () => {
    ui.filters.elements.since.value = b.dataset.range;
    ui.filters.elements.before.value = '';
    if (ui.filters.reportValidity()) applyFilters();
  });
}

function markPreset() {
  const since = state.view.filters.get('since');
  const before = state.view.filters.get('before');
  for (const b of ui.filters.querySelectorAll('button[data-range]')) {
    b.setAttribute('aria-pressed', String(!before && since === b.dataset.range));
  }
}

ui.filters.addEventListener('submit', (ev) => {
  ev.preventDefault();
  if (ui.filters.reportValidity()) applyFilters();
});
ui.filters.addEventListener('reset', () => {
  setTimeout(() => {
    ui.live.checked = true;
    ui.hideReads.checked = true;
    table.setQuery('');
    applyFilters();
  });
});

ui.hideReads.addEventListener('change', applyFilters);

let searchTimer = 0;
ui.text.addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    measure('trailcar:search', () => table.setQuery(ui.text.value));
    updateCount();
  }, table.size > 2000 ? 120 : 0);
});

ui.live.addEventListener('change', () => {
  if (ui.live.checked) {
    const gen = state.generation;
    startStream(gen).then(() => catchUp(gen));
  } else {
    stopStream();
  }
});

ui.more.addEventListener('click', loadMore);

setupExport({ csv: ui.exportCSV, jsonl: ui.exportJSONL, status: ui.exportState },
  () => ({ query: state.query, keep: shown }), (err) => fail(err));

document.addEventListener('keydown', (ev) => {
  if (ev.key === '/' && !ev.ctrlKey && !ev.metaKey && !ev.altKey && !(ev.target.closest && ev.target.closest('input, select, textarea, dialog'))) {
    ev.preventDefault();
    ui.text.focus();
  }
});

setInterval(() => chart.render(), 30000); // a range back from now moves on

ui.forget.hidden = token.get() === '';
show(View.fromURL(location.search));
