// The peer strip: each cluster peer's state, from a cluster answer's
// peers (docs/viewer.md "Cluster").

// renderPeers shows each cluster peer's state (up, slow: over a second,
// down) from a cluster answer's peers; without peers the strip stays hidden.
export function renderPeers(peers) {
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
