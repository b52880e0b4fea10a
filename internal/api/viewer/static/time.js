// Times as the events API takes them (docs/cli.md "Filters and times"),
// read the same way here so that the chart's window and the export's
// range are the list's: RFC 3339; ISO 8601 without a zone and journalctl's
// "2026-12-07 22:00", both UTC; a date (its midnight UTC); now, today,
// yesterday (midnight UTC); a duration back from now in Go's syntax plus d
// for days (90s, 15m, 1h30m, 7d), with or without journalctl's minus sign.

const ZONED = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
// The layouts the API takes without a zone: T with seconds, a space with
// or without seconds, a date alone.
const UTC_FORMS = [
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?$/,
  /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?$/,
  /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})()()$/,
  /^(\d{4})-(\d{2})-(\d{2})()()()()$/,
];
const UNIT_MS = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };
const DAY = 86400e3;

// utc builds the time from the matched fields, or null when one is out of
// range (Go refuses 2026-02-30; Date.UTC would roll it over).
function utc(m, offsetMinutes) {
  const [y, mo, d] = [+m[1], +m[2], +m[3]];
  const [h, mi, s] = [+(m[4] || 0), +(m[5] || 0), +(m[6] || 0)];
  const ms = m[7] ? Math.floor(Number('0' + m[7]) * 1000) : 0;
  const t = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const back = new Date(t);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d ||
    back.getUTCHours() !== h || back.getUTCMinutes() !== mi || back.getUTCSeconds() !== s) return null;
  return new Date(t - offsetMinutes * 60e3);
}

// goDuration reads a positive Go duration with no sign ("1h30m", "1.5s")
// in milliseconds, or null.
function goDuration(s) {
  const re = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let at = 0;
  while (at < s.length) {
    re.lastIndex = at;
    const m = re.exec(s);
    if (!m) return null;
    total += Number(m[1]) * UNIT_MS[m[2]];
    at = re.lastIndex;
  }
  return total;
}

// agoMs reads a duration back from now ("15m", "7d", "1d12h"), or null.
export function agoMs(s) {
  const text = s.startsWith('-') ? s.slice(1) : s;
  if (!/^[0-9]/.test(text)) return null;
  let days = 0;
  let rest = text;
  const d = text.indexOf('d');
  if (d > 0) {
    if (!/^\d+$/.test(text.slice(0, d))) return null;
    days = Number(text.slice(0, d));
    rest = text.slice(d + 1);
  }
  const ms = rest === '' ? 0 : goDuration(rest);
  if (ms === null) return null;
  const total = days * DAY + ms;
  return total > 0 && days <= 36500 ? total : null;
}

// parseTime resolves s against now (a Date) as the API would, or returns
// null for anything it does not take (the API then says why).
export function parseTime(s, now) {
  const text = (s || '').trim();
  if (!text) return null;
  let m = ZONED.exec(text);
  if (m) {
    const zone = m[8];
    const offset = zone === 'Z' ? 0 : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
    return utc(m, offset);
  }
  for (const form of UTC_FORMS) {
    if ((m = form.exec(text))) return utc(m, 0);
  }
  const midnight = Math.floor(now.getTime() / DAY) * DAY;
  switch (text) {
    case 'now': return new Date(now.getTime());
    case 'today': return new Date(midnight);
    case 'yesterday': return new Date(midnight - DAY);
  }
  const ago = agoMs(text);
  return ago === null ? null : new Date(now.getTime() - ago);
}

// isRelative says whether s moves with the clock (a duration back from
// now, or now itself): the chart then slides as time passes.
export const isRelative = (s) => s === 'now' || agoMs((s || '').trim()) !== null;

// isoSeconds is t as RFC 3339 UTC to the second, rounded down (or up).
export function isoSeconds(t, up = false) {
  const s = (up ? Math.ceil : Math.floor)(t / 1000) * 1000;
  return new Date(s).toISOString().replace('.000Z', 'Z');
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

// localLabel formats t in the browser's time zone; with the date when
// withDate, with seconds when withSeconds.
export function localLabel(t, { withDate = false, withSeconds = false } = {}) {
  const d = new Date(t);
  let s = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (withSeconds) s += `:${pad(d.getSeconds())}`;
  if (withDate) s = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` + s;
  return s;
}

// spanText says a duration in the largest unit that keeps it whole-ish:
// "15 s", "5 min", "3 h", "2 days".
export function spanText(ms) {
  if (ms < 60e3) return `${Math.round(ms / 1000)} s`;
  if (ms < 3600e3) return `${Math.round(ms / 60e3)} min`;
  if (ms < DAY) return `${+(ms / 3600e3).toFixed(1)} h`;
  const days = +(ms / DAY).toFixed(1);
  return `${days} day${days === 1 ? '' : 's'}`;
}
