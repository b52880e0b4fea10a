// The integrity badges: one per pod, from GET /api/v3/integrity (verify's
// verdict; with peers, one report per pod). Verifying reads every file, so
// the answer is kept: fetched at most once a minute (when the page loads,
// then while it is visible), or when "Check now" is pressed; drawing the
// rows never asks for it.
//
// A pod's badge says:
//   intact      the chain holds and the checkpoints' signatures were checked
//   unsigned    the chain holds, but no key signs the checkpoints (anyone who
//               can write the files could also write a new chain)
//   tampered    a file is broken, missing, badly signed or unsealed
//   unreachable the pod did not answer (its files are not vouched for)
//   off         integrity is off on this pod (404): nothing to check

import { getIntegrity, AuthError, ApiError } from './api.js';
import { localLabel } from './time.js';

const REFRESH_MS = 60000;

// podState reads one pod's report: {state, detail}.
export function podState(pod) {
  if (!pod.report) return { state: 'unreachable', detail: pod.error || 'no answer' };
  const r = pod.report;
  const files = r.files || [];
  if (!r.intact) {
    const bad = files.filter((f) => f.status !== 'ok' && f.status !== 'resealed' && f.status !== 'rotated-out' && !(f.status === 'unsealed' && f.live));
    return { state: 'tampered', detail: bad.map((f) => `${f.name}: ${f.status}${f.detail ? ' (' + f.detail + ')' : ''}`).join('; ') || 'not intact' };
  }
  const n = files.length;
  const what = `${n} file${n === 1 ? '' : 's'} verified`;
  if (!r.key_id) return { state: 'unsigned', detail: `${what}; the chain holds, but no key signs the checkpoints` };
  return { state: 'intact', detail: `${what}; checkpoints signed by key ${r.key_id}` };
}

export class Integrity {
  // strip holds the badges; panel shows one pod's files when its badge is
  // clicked; onError gets an AuthError (the token is needed).
  constructor({ strip, panel, title, summary, files, checked, check, close }, onError) {
    Object.assign(this, { strip, panel, title, summary, files, checked, onError });
    this.pods = []; // [{host, state, detail, report}]
    this.at = 0; // when the answer was fetched, ms
    this.pending = null;
    this.again = false; // "Check now" while a check runs: once more after it
    this.open = null; // the host shown in the panel
    check.addEventListener('click', () => this.refresh(true));
    close.addEventListener('click', () => this.show(null));
    setInterval(() => {
      // Only once the page has asked (the token is known by then).
      if (this.at && document.visibilityState === 'visible') this.refresh(false);
    }, REFRESH_MS / 4);
  }

  // refresh fetches the verdict unless the kept one is under a minute old
  // (force: always); one request at a time.
  refresh(force) {
    if (this.pending) {
      // One asked before a change on disk may answer from before it:
      // "Check now" then asks once more when it is done.
      if (force) this.again = true;
      return this.pending;
    }
    if (!force && this.at && Date.now() - this.at < REFRESH_MS) return Promise.resolve();
    this.pending = this.fetch().finally(() => {
      this.pending = null;
      if (this.again) {
        this.again = false;
        this.refresh(true);
      }
    });
    return this.pending;
  }

  async fetch() {
    this.strip.setAttribute('aria-busy', 'true');
    this.checked.textContent = 'checking…';
    try {
      const body = await getIntegrity();
      // A pod with peers answers {intact, partial, pods: [{host, error, report}]};
      // alone, its own report.
      const pods = Array.isArray(body.pods) ? body.pods : [{ host: 'this pod', report: body }];
      this.pods = pods.map((p) => ({ host: p.host, report: p.report, ...podState(p) }));
    } catch (err) {
      if (err instanceof AuthError) {
        this.onError(err);
        return;
      }
      if (err instanceof ApiError && err.status === 404) {
        this.pods = [{ host: 'trail', state: 'off', detail: err.message }];
      } else {
        this.pods = [{ host: 'trail', state: 'unreachable', detail: `could not check: ${err.message || err}` }];
      }
    } finally {
      this.strip.removeAttribute('aria-busy');
    }
    this.at = Date.now();
    this.render();
  }

  render() {
    this.strip.replaceChildren(...this.pods.map((p) => {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'integrity-badge';
      b.dataset.state = p.state;
      b.dataset.host = p.host;
      b.textContent = `${p.host}: ${p.state}`;
      b.title = p.detail;
      b.setAttribute('aria-label', `Integrity of ${p.host}: ${p.state}. ${p.detail}`);
      b.addEventListener('click', () => this.show(this.open === p.host ? null : p.host));
      li.append(b);
      return li;
    }));
    this.strip.hidden = this.pods.length === 0;
    if (this.open !== null) this.show(this.open);
  }

  // show opens the panel on one pod's verdict (null closes it).
  show(host) {
    const p = this.pods.find((x) => x.host === host);
    this.open = p ? host : null;
    this.panel.hidden = !p;
    for (const b of this.strip.querySelectorAll('button')) b.setAttribute('aria-expanded', String(b.dataset.host === this.open));
    if (!p) return;
    this.title.textContent = `Integrity of ${p.host}: ${p.state}`;
    this.panel.dataset.state = p.state;
    this.summary.textContent = p.detail;
    this.checked.textContent = `checked at ${localLabel(this.at, { withSeconds: true })}`;
    const files = (p.report && p.report.files) || [];
    this.files.replaceChildren(...files.map((f) => {
      const li = document.createElement('li');
      const name = document.createElement('span');
      name.className = 'file-name';
      name.textContent = f.name + (f.live ? ' (live)' : '');
      const status = document.createElement('span');
      status.className = 'file-status';
      status.dataset.status = f.status;
      if (f.live) status.dataset.live = '';
      status.textContent = f.status;
      const detail = document.createElement('span');
      detail.className = 'hint';
      detail.textContent = [f.detail, `${f.lines} lines, ${f.checkpoints} checkpoints`].filter(Boolean).join(' · ');
      li.append(name, status, detail);
      return li;
    }));
  }
}
