// The viewer: filters, the first page and "Load more", the live stream,
// the chart and the token form; the table, the chart, the event dialog
// and the log files panel are modules of their own.

import { token, listEvents, streamEvents, AuthError, ApiError } from './api.js';
import { EventTable } from './table.js';
import { Chart } from './chart.js';
import { Detail } from './detail.js';
import { setupFiles } from './files.js';

const PAGE = 500; // events per page ("Load more")
const CATCH_UP = 200; // events fetched again after the stream reconnects
const CHART_PAGES = 20; // at most 20 pages of 1,000 counted for the chart
const SERVER_FILTERS = ['level', 'type', 'user', 'host', 'status', 'since', 'before'];

const $ = (id) => document.getElementById(id);
const ui = {
  filters: $('filters'), text: $('f-text'), live: $('f-live'),
  liveState: $('live-state'), message: $('message'), count: $('count'), empty: $('empty'),
  more: $('more'), tokenPanel: $('token-panel'), tokenForm: $('token-form'), tokenInput: $('token-input'),
  tokenTitle: $('token-title'), forget: $('forget-token'),
};

const detail = new Detail();
const table = new EventTable($('rows'), (e, row) => detail.open(e, row));
const chart = new Chart($('chart'));
setupFiles($('files'), $('file-list'), (err) => fail(err));

const state = {
  filters: new URLSearchParams(), // the server-side filters applied
  cursor: null, // next page, or null
  generation: 0, // bumped by every reload: answers to an older one are dropped
  stream: null, // AbortController of the live stream
  chartPending: null, // live events seen while the chart loads, or null
  loadingMore: false,
};

// ---- filters ----

function formToFilters() {
  const f = new URLSearchParams();
  const els = ui.filters.elements;
  for (const name of ['level', 'type', 'user', 'host', 'status']) {
    const v = els[name].value.trim();
    if (v) f.set(name, v);
  }
  for (const name of ['since', 'before']) {
    const v = els[name].value;
    const d = v ? new Date(v) : null; // datetime-local is local time
    if (d && !Number.isNaN(d.getTime())) f.set(name, d.toISOString());
  }
  return f;
}

function filtersToForm(f) {
  const els = ui.filters.elements;
  for (const name of ['level', 'type', 'user', 'host', 'status']) els[name].value = f.get(name) || '';
  for (const name of ['since', 'before']) {
    const d = f.get(name) ? new Date(f.get(name)) : null;
    els[name].value = d && !Number.isNaN(d.getTime()) ? localInput(d) : '';
  }
}

function localInput(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function withParams(base, extra) {
  const p = new URLSearchParams(base);
  for (const [k, v] of Object.entries(extra)) p.set(k, v);
  return p;
}

// ---- loading ----

async function reload() {
  const gen = ++state.generation;
  stopStream();
  table.clear();
  state.cursor = null;
  hideMessage();
  updateCount();
  try {
    // The stream first, so that nothing written while the first page is
    // fetched is missed; the two are merged by id.
    if (ui.live.checked) await startStream(gen);
    if (gen !== state.generation) return;
    const page = await listEvents(withParams(state.filters, { limit: PAGE }));
    if (gen !== state.generation) return;
    measure('trailcar:first-page', () => table.insert(page.results || []));
    renderPeers(page.peers);
    state.cursor = page.next_cursor || null;
    updateCount();
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
    const page = await listEvents(withParams(state.filters, { limit: PAGE, cursor: state.cursor }));
    if (gen !== state.generation) return;
    measure('trailcar:more', () => table.appendOlder(page.results || []));
    renderPeers(page.peers);
    state.cursor = page.next_cursor || null;
  } catch (err) {
    fail(err);
  } finally {
    state.loadingMore = false;
    ui.more.disabled = false;
    updateCount();
  }
}

// loadChart counts the last hour's events matching the filters (the time
// range aside) for the chart.
async function loadChart(gen) {
  const p = new URLSearchParams(state.filters);
  p.delete('before');
  p.set('since', new Date(Date.now() - 3600e3).toISOString());
  p.set('limit', '1000');
  state.chartPending = [];
  const events = [];
  let partial = false;
  try {
    for (let i = 0; ; i++) {
      const page = await listEvents(p);
      if (gen !== state.generation) return;
      events.push(...(page.results || []));
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

// startStream connects the live stream and resolves once it is connected
// (or could not be); it reconnects with backoff until stopped, fetching
// the newest events again each time so that nothing is missed.
function startStream(gen) {
  const ctrl = new AbortController();
  state.stream = ctrl;
  return new Promise((resolve) => {
    const run = async (attempt) => {
      setLive(attempt ? 'reconnecting' : 'connecting');
      let opened = false;
      try {
        await streamEvents(state.filters, {
          signal: ctrl.signal,
          onOpen: () => {
            opened = true;
            setLive('live');
            resolve();
            if (attempt) catchUp(gen);
          },
          onEvent: onLiveEvent,
          onNotice: (name, data) => {
            if (name === 'peers') {
              try { renderPeers(JSON.parse(data)); } catch { /* not a list: ignore */ }
              return;
            }
            showMessage(`Live updates: ${noticeText(name, data)}. Reconnecting.`);
          },
        });
      } catch (err) {
        if (ctrl.signal.aborted) return;
        if (err instanceof AuthError) {
          resolve();
          needToken(err.message);
          return;
        }
        if (err instanceof ApiError && err.status === 400) {
          resolve();
          setLive('off');
          return; // the page load shows the same error
        }
      }
      resolve();
      if (ctrl.signal.aborted) return;
      const next = opened ? 1 : attempt + 1;
      setLive('reconnecting');
      await sleep(Math.min(30000, 500 * 2 ** next), ctrl.signal);
      if (!ctrl.signal.aborted) run(next);
    };
    run(0);
  });
}

// noticeText reads a named SSE message: {"error": …} or plain text.
function noticeText(name, data) {
  try {
    const body = JSON.parse(data);
    if (body && body.error) return body.error;
  } catch { /* plain text */ }
  return data ? `${name}: ${data}` : name;
}

function stopStream() {
  if (state.stream) state.stream.abort();
  state.stream = null;
  setLive(ui.live.checked ? 'off' : 'paused');
}

function onLiveEvent(e) {
  const added = table.insert([e], true);
  if (!added.length) return;
  chart.add(e);
  if (state.chartPending) state.chartPending.push(e);
  updateCount();
}

async function catchUp(gen) {
  try {
    const page = await listEvents(withParams(state.filters, { limit: CATCH_UP }));
    if (gen !== state.generation) return;
    for (const e of table.insert(page.results || [], true)) chart.add(e);
    updateCount();
  } catch (err) {
    if (gen === state.generation) fail(err);
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

const LIVE_TEXT = {
  live: 'Live', connecting: 'Connecting…', reconnecting: 'Reconnecting…', paused: 'Paused', off: 'Not connected',
};

function setLive(s) {
  ui.liveState.dataset.state = s;
  ui.liveState.textContent = LIVE_TEXT[s];
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
  const shown = table.query ? `${table.visible} of ${n} loaded events match the search` : `${n} event${n === 1 ? '' : 's'} loaded`;
  ui.count.textContent = shown + (state.cursor ? ' · more on the server' : '');
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

function applyFilters() {
  state.filters = formToFilters();
  const q = state.filters.toString();
  history.replaceState(null, '', q ? '?' + q : location.pathname);
  reload();
}

ui.filters.addEventListener('submit', (ev) => {
  ev.preventDefault();
  if (ui.filters.reportValidity()) applyFilters();
});
ui.filters.addEventListener('reset', () => {
  setTimeout(() => {
    ui.live.checked = true;
    table.setQuery('');
    applyFilters();
  });
});

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

document.addEventListener('keydown', (ev) => {
  if (ev.key === '/' && !ev.ctrlKey && !ev.metaKey && !ev.altKey && !(ev.target.closest && ev.target.closest('input, select, textarea, dialog'))) {
    ev.preventDefault();
    ui.text.focus();
  }
});

setInterval(() => chart.render(), 30000); // the window moves on every minute

const initial = new URLSearchParams(location.search);
for (const k of [...initial.keys()]) if (!SERVER_FILTERS.includes(k)) initial.delete(k);
state.filters = initial;
filtersToForm(initial);
ui.forget.hidden = token.get() === '';
chart.render();
reload();

// renderPeers shows each cluster peer's state (up, slow: over a second,
// down) from a cluster answer's peers; without peers the strip stays hidden.
function renderPeers(peers) {
  const strip = document.getElementById('peers');
  if (!Array.isArray(peers) || peers.length === 0) {
    strip.hidden = true;
    return;
  }
  strip.replaceChildren(...peers.map((p) => {
    const li = document.createElement('li');
    const st = !p.ok ? 'down' : (p.took_ms > 1000 ? 'slow' : 'up');
    li.dataset.state = st;
    li.textContent = `${p.host || p.url}: ${st}`;
    li.title = p.ok ? `${p.url} answered in ${p.took_ms} ms` : `${p.url}: ${p.error || 'no answer'}`;
    return li;
  }));
  strip.hidden = false;
}
