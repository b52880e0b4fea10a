// The admin API as the viewer uses it: the token, the JSON calls and the
// event stream. URLs are relative to the page, so the viewer also works
// behind a path prefix.

const TOKEN_KEY = 'trailcar.token';

// AuthError: the API answered 401 (no token, or a wrong one).
export class AuthError extends Error {}

// ApiError: any other refusal; message is the API's {"error": …}.
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// The token lives in sessionStorage: this tab only, gone when it closes.
export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY) || '',
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

function headers(accept) {
  const h = new Headers({ Accept: accept });
  const t = token.get();
  if (t) h.set('Authorization', 'Bearer ' + t);
  return h;
}

async function checked(res) {
  if (res.ok) return res;
  let message = res.status + ' ' + res.statusText;
  try {
    const body = await res.json();
    if (body && body.error) message = body.error;
  } catch { /* not JSON */ }
  if (res.status === 401) throw new AuthError(message);
  throw new ApiError(res.status, message);
}

async function get(path, accept, signal) {
  return checked(await fetch(path, { headers: headers(accept), signal, cache: 'no-store' }));
}

// listEvents returns one page: {results, next_cursor, item_count}.
export async function listEvents(params, signal) {
  const res = await get('api/v3/events?' + params, 'application/json', signal);
  return res.json();
}

// getIntegrity returns verify's verdict: one report, or with peers
// {intact, partial, pods: [{host, error, report}]}.
export async function getIntegrity(signal) {
  const res = await get('api/v3/integrity', 'application/json', signal);
  return res.json();
}

// listFiles returns the audit files, newest first.
export async function listFiles(signal) {
  const res = await get('api/v3/logs', 'application/json', signal);
  return (await res.json()).files || [];
}

// fetchFile returns one audit file as a Blob.
export async function fetchFile(name, signal) {
  const res = await get('api/v3/logs/' + encodeURIComponent(name), 'text/plain', signal);
  return res.blob();
}

// streamEvents reads the SSE stream of new events matching params until
// it ends or signal aborts. It calls onOpen once connected, onEvent with
// each event, and onNotice with any other named SSE event (the server
// telling a client that fell behind why it is dropped, say).
export async function streamEvents(params, { signal, onOpen, onEvent, onNotice }) {
  const res = await get('api/v3/events/stream?' + params, 'text/event-stream', signal);
  onOpen();
  await readSSE(res.body, signal, (name, data) => {
    if (name !== 'message') {
      onNotice(name, data);
      return;
    }
    let e;
    try {
      e = JSON.parse(data);
    } catch {
      return; // not an event: ignore, as EventSource would pass it on raw
    }
    if (e && typeof e === 'object' && e.id) onEvent(e);
  });
}

// readSSE parses text/event-stream (data:, event:, comments, blank line
// ends a message) from a byte stream.
async function readSSE(body, signal, dispatch) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const onAbort = () => reader.cancel().catch(() => {});
  signal.addEventListener('abort', onAbort, { once: true });
  let buffer = '';
  let data = [];
  let name = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        let line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.endsWith('\r')) line = line.slice(0, -1);
        if (line === '') {
          if (data.length) dispatch(name || 'message', data.join('\n'));
          data = [];
          name = '';
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? '' : line.slice(colon + 1);
        if (val.startsWith(' ')) val = val.slice(1);
        if (field === 'data') data.push(val);
        else if (field === 'event') name = val;
      }
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
