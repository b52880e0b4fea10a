// The log files panel: the audit files, listed and fetched with the token
// (a plain link could not send it), opened in a new tab or downloaded.

import { listFiles, fetchFile, AuthError } from './api.js';

// setupFiles lists the files each time the panel opens. onError gets what
// went wrong (an AuthError asks for the token).
export function setupFiles(details, list, onError) {
  details.addEventListener('toggle', async () => {
    if (!details.open) return;
    list.replaceChildren(item('Loading…'));
    try {
      const files = await listFiles();
      list.replaceChildren(...(files.length ? files.map((f) => fileItem(f, onError)) : [item('No log files yet.')]));
    } catch (err) {
      list.replaceChildren(item(err instanceof AuthError ? 'The token is needed.' : `Could not list: ${err.message}`));
      onError(err);
    }
  });
}

function item(text) {
  const li = document.createElement('li');
  li.textContent = text;
  return li;
}

function button(text, label, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.setAttribute('aria-label', label);
  b.addEventListener('click', onClick);
  return b;
}

function fileItem(f, onError) {
  const li = document.createElement('li');
  const name = document.createElement('span');
  name.className = 'file-name';
  name.textContent = f.name;
  const meta = document.createElement('span');
  meta.className = 'hint';
  meta.textContent = `${(f.size / 1024).toFixed(1)} KiB · ${new Date(f.modified).toLocaleString()}`;
  const open = button('Open', `Open ${f.name}`, () => withFile(f.name, onError, (url) => window.open(url, '_blank', 'noopener')));
  const save = button('Download', `Download ${f.name}`, () => withFile(f.name, onError, (url) => {
    const a = document.createElement('a');
    a.href = url;
    a.download = f.name.replace(/\.gz$/, ''); // served decompressed
    a.click();
  }));
  li.append(name, meta, open, save);
  return li;
}

async function withFile(name, onError, use) {
  try {
    const url = URL.createObjectURL(await fetchFile(name));
    use(url);
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  } catch (err) {
    onError(err);
  }
}
