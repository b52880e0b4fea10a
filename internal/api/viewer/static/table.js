// The events table: rows newest first, in step with an array of events.
// Rows are built off the document (DocumentFragment, a cloned template
// row); the table body has one listener per kind of input, none per row.
// Keyboard: one row is in the tab order at a time (roving tabindex); the
// arrow keys, Page Up/Down, Home and End move it, Enter or Space opens it.

const PAGE_STEP = 10;

// key orders events: eventTime is fixed-width UTC text, so text order is
// time order; the id breaks ties.
export const key = (e) => (e.eventTime || '') + ' ' + (e.id || '');

const pad = (n, w = 2) => String(n).padStart(w, '0');

// localTime formats an RFC 3339 time in the browser's time zone.
export function localTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso || '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

// user is who did it: the creds name, else the uuid ("-" means unknown).
export function user(e) {
  const c = e.creds || {};
  if (c.name && c.name !== '-') return c.name;
  if (c.uuid && c.uuid !== '-') return c.uuid;
  return '';
}

// eventName is what the Event column shows: the action when the event has
// one (http and client events), else its type (system events).
export const eventName = (e) => e.action || e.type || '';

function rowTemplate() {
  const tr = document.createElement('tr');
  tr.setAttribute('role', 'row'); // the table is styled as a grid: keep its roles
  tr.tabIndex = -1;
  tr.setAttribute('aria-haspopup', 'dialog');
  const classes = ['time', 'level', 'event', 'user', 'method', 'path', 'status', 'addr', 'host'];
  for (const c of classes) {
    const td = document.createElement('td');
    td.setAttribute('role', 'cell');
    td.className = c;
    tr.append(td);
  }
  tr.cells[0].append(document.createElement('time'));
  const badge = document.createElement('span');
  badge.className = 'badge';
  tr.cells[1].append(badge);
  return tr;
}

function sortedNewestFirst(list, from) {
  for (let i = from + 1; i < list.length; i++) {
    if (list[i] && list[i - 1] && key(list[i]) > key(list[i - 1])) return false;
  }
  return true;
}

export class EventTable {
  constructor(tbody, onOpen) {
    this.tbody = tbody;
    this.onOpen = onOpen;
    this.template = rowTemplate();
    this.events = []; // newest first
    this.rows = []; // rows[i] shows events[i]
    this.byId = new Map();
    this.query = '';
    this.visible = 0;
    this.active = null; // the row in the tab order
    tbody.addEventListener('click', (ev) => {
      const tr = ev.target.closest('tr');
      if (!tr) return;
      this.activate(tr, true);
      this.open(tr);
    });
    tbody.addEventListener('keydown', (ev) => this.onKey(ev));
    tbody.addEventListener('focusin', (ev) => {
      const tr = ev.target.closest('tr');
      if (tr) this.activate(tr, false);
    });
  }

  get size() { return this.events.length; }

  has(id) { return this.byId.has(id); }

  event(tr) { return this.byId.get(tr.dataset.id); }

  clear() {
    this.events = [];
    this.rows = [];
    this.byId.clear();
    this.visible = 0;
    this.active = null;
    this.tbody.replaceChildren();
  }

  // appendOlder adds a page of events, newest first, all older than the
  // ones loaded: one fragment, appended once.
  appendOlder(list) {
    const frag = document.createDocumentFragment();
    for (const e of list) {
      if (!e || !e.id || this.byId.has(e.id)) continue;
      const tr = this.row(e);
      this.byId.set(e.id, e);
      this.events.push(e);
      this.rows.push(tr);
      if (this.matches(e)) {
        frag.append(tr);
        this.visible++;
      }
    }
    this.tbody.append(frag);
    this.ensureActive();
  }

  // insert adds events at their place in time order (the first page,
  // live events, a page fetched again after the stream reconnected); fresh
  // ones are highlighted for a moment. It returns the events that were new.
  // The part of a newest-first list that is older than every loaded event
  // is appended in one fragment.
  insert(list, fresh = false) {
    const added = [];
    let i = 0;
    for (; i < list.length; i++) {
      const e = list[i];
      if (!e || !e.id || this.byId.has(e.id)) continue;
      if (!fresh && this.olderThanAll(e) && sortedNewestFirst(list, i)) break;
      this.insertOne(e, fresh);
      added.push(e);
    }
    if (i < list.length) {
      const rest = list.slice(i).filter((e) => e && e.id && !this.byId.has(e.id));
      this.appendOlder(rest);
      added.push(...rest);
    }
    this.ensureActive();
    return added;
  }

  olderThanAll(e) {
    return this.events.length === 0 || key(e) < key(this.events[this.events.length - 1]);
  }

  insertOne(e, fresh) {
    const k = key(e);
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) { // the first index whose event is older than e
      const mid = (lo + hi) >> 1;
      if (key(this.events[mid]) > k) lo = mid + 1; else hi = mid;
    }
    const tr = this.row(e);
    if (fresh) tr.classList.add('fresh');
    this.byId.set(e.id, e);
    this.events.splice(lo, 0, e);
    this.rows.splice(lo, 0, tr);
    if (!this.matches(e)) return;
    let next = null; // the first row after it that is in the document
    for (let j = lo + 1; j < this.rows.length && !next; j++) {
      if (this.rows[j].isConnected) next = this.rows[j];
    }
    this.tbody.insertBefore(tr, next);
    this.visible++;
  }

  // setQuery filters the loaded rows by path, action or type. Rows that do
  // not match are taken out of the document rather than hidden: hiding
  // thousands of rows costs a style pass over every one of them.
  setQuery(q) {
    const query = q.trim().toLowerCase();
    if (query === this.query) return;
    this.query = query;
    const frag = document.createDocumentFragment();
    let visible = 0;
    for (let i = 0; i < this.events.length; i++) {
      if (this.matches(this.events[i])) {
        frag.append(this.rows[i]);
        visible++;
      }
    }
    this.tbody.replaceChildren(frag);
    this.visible = visible;
    this.ensureActive();
  }

  matches(e) {
    if (!this.query) return true;
    const q = this.query;
    return [e.req && e.req.path, e.action, e.type].some((s) => typeof s === 'string' && s.toLowerCase().includes(q));
  }

  row(e) {
    const tr = this.template.cloneNode(true);
    const c = tr.cells;
    const req = e.req || {};
    const res = e.res || {};
    tr.dataset.id = e.id;
    if (e.level === 'error') tr.classList.add('is-error');
    const time = c[0].firstChild;
    time.dateTime = e.eventTime || '';
    time.textContent = localTime(e.eventTime);
    time.title = e.eventTime || '';
    const badge = c[1].firstChild;
    badge.textContent = e.level || '';
    badge.classList.add('level-' + (e.level === 'error' ? 'error' : 'info'));
    c[2].textContent = eventName(e);
    c[2].title = 'type ' + (e.type || '?') + (e.action ? ', action ' + e.action : '');
    c[3].textContent = user(e);
    c[4].textContent = req.method || '';
    c[5].textContent = req.path || '';
    c[5].title = req.path || '';
    if (res.statusCode) {
      c[6].textContent = res.statusCode;
      c[6].classList.add('s' + String(res.statusCode)[0] + 'xx');
    }
    c[7].textContent = e.address || '';
    c[8].textContent = e.host || '';
    return tr;
  }

  open(tr) {
    const e = this.event(tr);
    if (e) this.onOpen(e, tr);
  }

  activate(tr, focus) {
    if (this.active !== tr) {
      if (this.active) this.active.tabIndex = -1;
      tr.tabIndex = 0;
      this.active = tr;
    }
    if (focus) tr.focus();
  }

  // ensureActive keeps one row of the document in the tab order.
  ensureActive() {
    if (this.active && this.active.isConnected) return;
    const first = this.step(null, 1, 1);
    if (this.active) this.active.tabIndex = -1;
    this.active = null;
    if (first) this.activate(first, false);
  }

  // step returns the row n rows from tr (from the edge when tr is null),
  // stopping at the last one there is.
  step(tr, dir, n) {
    let r = tr;
    let found = tr;
    const next = (x) => (x ? (dir > 0 ? x.nextElementSibling : x.previousElementSibling)
      : (dir > 0 ? this.tbody.firstElementChild : this.tbody.lastElementChild));
    while (n > 0) {
      r = next(r);
      if (!r) break;
      found = r;
      n--;
    }
    return found;
  }

  onKey(ev) {
    const tr = ev.target.closest('tr');
    if (!tr || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    let to = null;
    switch (ev.key) {
      case 'ArrowDown': to = this.step(tr, 1, 1); break;
      case 'ArrowUp': to = this.step(tr, -1, 1); break;
      case 'PageDown': to = this.step(tr, 1, PAGE_STEP); break;
      case 'PageUp': to = this.step(tr, -1, PAGE_STEP); break;
      case 'Home': to = this.step(null, 1, 1); break;
      case 'End': to = this.step(null, -1, 1); break;
      case 'Enter':
      case ' ':
        ev.preventDefault();
        this.open(tr);
        return;
      default:
        return;
    }
    ev.preventDefault();
    if (to) this.activate(to, true);
  }
}
