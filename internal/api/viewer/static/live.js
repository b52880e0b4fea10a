// The live stream: new events from GET /api/v3/events/stream, connected
// before the first page is fetched and connected again with backoff when
// it drops; its state is shown in the top bar.

import { streamEvents, AuthError, ApiError } from './api.js';

const LIVE_TEXT = {
  live: 'Live', connecting: 'Connecting…', reconnecting: 'Reconnecting…', paused: 'Paused', off: 'Not connected',
  ended: 'Range ended: not live',
};

export class LiveStream {
  constructor(stateEl) {
    this.el = stateEl;
    this.ctrl = null; // AbortController of the stream, or null
  }

  set(s) {
    this.el.dataset.state = s;
    this.el.textContent = LIVE_TEXT[s];
  }

  // start connects and resolves once connected (or once it could not
  // be); it reconnects with backoff until stopped, and calls
  // h.onReconnected each time, for the caller to fetch the newest events
  // again so that nothing is missed. h also has onEvent(e), onPeers(list),
  // onNotice(text) and onAuth(err). It asks for new events only: without
  // since, which would replay the range (the pages have it); and not at
  // all for a range that has ended.
  start(query, h) {
    this.stop(false);
    const params = new URLSearchParams(query);
    params.delete('since');
    const before = params.get('before');
    const ended = () => before && !(Date.parse(before) > Date.now());
    if (ended()) {
      this.set('ended');
      return Promise.resolve();
    }
    const ctrl = new AbortController();
    this.ctrl = ctrl;
    return new Promise((resolve) => {
      const run = async (attempt) => {
        this.set(attempt ? 'reconnecting' : 'connecting');
        let opened = false;
        try {
          await streamEvents(params, {
            signal: ctrl.signal,
            onOpen: () => {
              opened = true;
              this.set('live');
              resolve();
              if (attempt) h.onReconnected();
            },
            onEvent: h.onEvent,
            onNotice: (name, data) => {
              if (name === 'peers') {
                try { h.onPeers(JSON.parse(data)); } catch { /* not a list: ignore */ }
                return;
              }
              h.onNotice(noticeText(name, data));
            },
          });
        } catch (err) {
          if (ctrl.signal.aborted) return;
          if (err instanceof AuthError) {
            resolve();
            h.onAuth(err);
            return;
          }
          if (err instanceof ApiError && err.status === 400) {
            resolve();
            this.set('off');
            return; // the page load shows the same error
          }
        }
        resolve();
        if (ctrl.signal.aborted) return;
        if (ended()) {
          this.set('ended'); // the range's end came: nothing more to wait for
          return;
        }
        const next = opened ? 1 : attempt + 1;
        this.set('reconnecting');
        await sleep(Math.min(30000, 500 * 2 ** next), ctrl.signal);
        if (!ctrl.signal.aborted) run(next);
      };
      run(0);
    });
  }

  // stop closes the stream; paused: the user turned live updates off.
  stop(paused) {
    if (this.ctrl) this.ctrl.abort();
    this.ctrl = null;
    this.set(paused ? 'paused' : 'off');
  }
}

// noticeText reads a named SSE message: {"error": …} or plain text.
function noticeText(name, data) {
  try {
    const body = JSON.parse(data);
    if (body && body.error) return body.error;
  } catch { /* plain text */ }
  return data ? `${name}: ${data}` : name;
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}
