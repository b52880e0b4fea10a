// The view's filters: the form, the page's URL and the API's parameters.
// The URL keeps what was typed (since=5m stays 5m, so a link reproduces the
// view); the API gets the times resolved once per load, so that every page,
// the chart and an export of one view share one range.

import { parseTime, isRelative, agoMs, localLabel, spanText } from './time.js';

// FILTERS are the API's filter parameters the page has a field for, named
// as in the API (and the URL).
export const FILTERS = ['level', 'outcome', 'type', 'action', 'method', 'resource', 'user', 'host', 'status', 'since', 'before'];

// READS_PARAM=show in the URL turns "Hide trail reads" off; it is on by
// default, so a plain link hides them.
export const READS_PARAM = 'reads';

const HOUR = 3600e3;

// isTrailRead: a read of the trail itself (trailcar.events.read,
// trailcar.logs.read, trailcar.integrity.read, …), such as this page's own
// calls. Hidden from the view by default; always in the files.
export const isTrailRead = (e) => typeof e.action === 'string' && /^trailcar\..+\.read$/.test(e.action);

// View is what the page shows: the filters as typed and the toggle.
export class View {
  constructor(filters = new URLSearchParams(), showReads = false) {
    this.filters = filters;
    this.showReads = showReads;
  }

  static fromURL(search) {
    const q = new URLSearchParams(search);
    const f = new URLSearchParams();
    for (const k of FILTERS) {
      const v = (q.get(k) || '').trim();
      if (v) f.set(k, v);
    }
    return new View(f, q.get(READS_PARAM) === 'show');
  }

  static fromForm(form, showReads) {
    const f = new URLSearchParams();
    for (const k of FILTERS) {
      const v = form.elements[k].value.trim();
      if (v) f.set(k, v);
    }
    return new View(f, showReads);
  }

  toForm(form) {
    for (const k of FILTERS) form.elements[k].value = this.filters.get(k) || '';
  }

  // search is the page's query string ("" for no filter).
  search() {
    const q = new URLSearchParams(this.filters);
    if (this.showReads) q.set(READS_PARAM, 'show');
    const s = q.toString();
    return s ? '?' + s : '';
  }

  // resolve turns the typed times into absolute ones (RFC 3339) for the
  // API, and says what range the chart draws. A time this page cannot
  // read is passed on as typed, for the API to refuse with its reason.
  resolve(now = new Date()) {
    const query = new URLSearchParams(this.filters);
    const at = {};
    for (const k of ['since', 'before']) {
      const v = this.filters.get(k);
      if (!v) continue;
      const t = parseTime(v, now);
      if (!t) continue;
      at[k] = t.getTime();
      // A time that depends on the clock is fixed here; one written out
      // is passed as typed (exact to the microsecond, read the same).
      if (isRelative(v) || v === 'today' || v === 'yesterday') query.set(k, t.toISOString());
    }
    return { query, range: this.chartRange(at, now.getTime()) };
  }

  // chartRange: with no time filter, the last hour, moving on; with a
  // since back from now and no before, that span, moving on; otherwise
  // the fixed range (an hour before "before" when there is no since).
  chartRange(at, now) {
    const since = this.filters.get('since');
    const before = this.filters.get('before');
    if (!before || at.before === undefined) {
      if (!since || at.since === undefined) return { from: now - HOUR, to: null, slide: true, spanMs: HOUR, label: 'last hour' };
      if (isRelative(since) && since !== 'now') {
        const span = agoMs(since);
        return { from: now - span, to: null, slide: true, spanMs: span, label: `last ${spanText(span)}` };
      }
      return { from: at.since, to: null, slide: false, label: `since ${label(at.since, now)}` };
    }
    const from = at.since !== undefined ? at.since : at.before - HOUR;
    return { from, to: at.before, slide: false, label: `${label(from, at.before)} – ${label(at.before, from)}` };
  }
}

function label(t, other) {
  const sameDay = new Date(t).toDateString() === new Date(other).toDateString();
  return localLabel(t, { withDate: !sameDay || Math.abs(other - t) > 86400e3, withSeconds: true });
}
