// Export of the current view: every event the filters match (not only the
// rows loaded), paged through GET /api/v3/events with its cursor, as CSV or
// JSON Lines, saved by the browser. Bounded: at most EXPORT_CAP events, the
// newest; the page says when the cap cut the export short.

import { listEvents } from './api.js';

export const EXPORT_CAP = 50000;
const PAGE = 1000; // the API's largest page

// CSV_COLUMNS, in order (docs/viewer.md "Export"): the header's names and
// how each is read from an event.
export const CSV_COLUMNS = [
  ['id', (e) => e.id],
  ['eventTime', (e) => e.eventTime],
  ['host', (e) => e.host],
  ['service', (e) => e.service],
  ['type', (e) => e.type],
  ['action', (e) => e.action],
  ['level', (e) => e.level],
  ['outcome', (e) => e.outcome],
  ['creds_name', (e) => e.creds && e.creds.name],
  ['creds_uuid', (e) => e.creds && e.creds.uuid],
  ['creds_type', (e) => e.creds && e.creds.type],
  ['address', (e) => e.address],
  ['method', (e) => e.req && e.req.method],
  ['path', (e) => e.req && e.req.path],
  ['query', (e) => e.req && e.req.query],
  ['status', (e) => e.res && e.res.statusCode],
  ['resource_type', (e) => e.resource && e.resource.type],
  ['resource_id', (e) => e.resource && e.resource.id],
  ['duration_ms', (e) => e.duration_ms],
  ['message', (e) => e.message],
];

// csvField quotes a field as RFC 4180 says: when it holds a comma, a
// quote, CR or LF, inside double quotes with its quotes doubled. Values
// are written as they are, nothing prefixed: a spreadsheet may read a
// field that starts with = as a formula (docs/viewer.md says so).
export function csvField(v) {
  const s = v === undefined || v === null ? '' : String(v);
  return /[",\r\n]/.test(s) ? '"' + s.replaceAll('"', '""') + '"' : s;
}

// toCSV: a header line, then one line per event, CRLF-terminated.
export function toCSV(events) {
  const lines = [CSV_COLUMNS.map(([name]) => name).join(',')];
  for (const e of events) lines.push(CSV_COLUMNS.map(([, get]) => csvField(get(e))).join(','));
  return lines.join('\r\n') + '\r\n';
}

// toJSONL: one event per line, as the API answered it.
export const toJSONL = (events) => events.map((e) => JSON.stringify(e) + '\n').join('');

// collect pages through the events matching query, newest first, keeping
// those keep accepts, until the end or EXPORT_CAP. onProgress(n) is told
// how many were kept so far. capped: more matched than were kept.
export async function collect(query, keep, onProgress, signal) {
  const events = [];
  const p = new URLSearchParams(query);
  p.set('limit', String(PAGE));
  for (;;) {
    const page = await listEvents(p, signal);
    for (const e of page.results || []) {
      if (!keep(e)) continue;
      if (events.length === EXPORT_CAP) return { events, capped: true };
      events.push(e);
    }
    onProgress(events.length);
    if (!page.next_cursor) return { events, capped: false };
    p.set('cursor', page.next_cursor);
  }
}

// save hands text to the browser as a download named name.
export function save(text, name, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

// fileName is trailcar-events-<UTC time>.<ext>.
export const fileName = (ext, now = new Date()) =>
  `trailcar-events-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}.${ext}`;

// setupExport wires the two buttons: each saves every event of the view
// (up to EXPORT_CAP), not only the rows loaded. view() gives the API's
// parameters and which events the view keeps; status tells how it went
// (data-done is the format of the last export that finished).
export function setupExport({ csv, jsonl, status }, view, onError) {
  let running = false;
  const run = async (format) => {
    if (running) return;
    running = true;
    csv.disabled = jsonl.disabled = true;
    status.textContent = 'Exporting…';
    try {
      const { query, keep } = view();
      const { events, capped } = await collect(query, keep, (n) => {
        status.textContent = `Exporting… ${n} events`;
      });
      if (format === 'csv') save(toCSV(events), fileName('csv'), 'text/csv;charset=utf-8');
      else save(toJSONL(events), fileName('jsonl'), 'application/x-ndjson');
      status.textContent = capped
        ? `Exported the newest ${EXPORT_CAP} events: more match; narrow the range for the rest.`
        : `Exported ${events.length} event${events.length === 1 ? '' : 's'}.`;
      status.dataset.done = format;
    } catch (err) {
      status.textContent = '';
      onError(err);
    } finally {
      running = false;
      csv.disabled = jsonl.disabled = false;
    }
  };
  csv.addEventListener('click', () => run('csv'));
  jsonl.addEventListener('click', () => run('jsonl'));
}
