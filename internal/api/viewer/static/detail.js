// The event dialog: the full event as pretty-printed JSON. A modal
// <dialog>: Escape and the close button close it, as does a click on the
// backdrop; the focus goes back to the row it was opened from.

import { eventName } from './table.js';

const $ = (id) => document.getElementById(id);

export class Detail {
  constructor() {
    this.dialog = $('detail');
    this.title = $('detail-title');
    this.json = $('detail-json');
    this.copied = $('detail-copied');
    this.row = null;
    this.dialog.addEventListener('close', () => {
      if (this.row && this.row.isConnected) this.row.focus();
    });
    $('detail-close').addEventListener('click', () => this.dialog.close());
    this.dialog.addEventListener('click', (ev) => {
      if (ev.target === this.dialog) this.dialog.close(); // the backdrop
    });
    $('detail-copy').addEventListener('click', () => this.copy());
  }

  open(e, row) {
    this.row = row;
    this.title.textContent = `${eventName(e) || 'Event'} · ${e.id}`;
    this.json.textContent = JSON.stringify(e, null, 2);
    this.copied.textContent = '';
    this.dialog.showModal();
    this.json.focus();
  }

  async copy() {
    try {
      await navigator.clipboard.writeText(this.json.textContent);
      this.copied.textContent = 'Copied.';
    } catch {
      getSelection().selectAllChildren(this.json);
      this.copied.textContent = 'Selected: press Ctrl+C to copy.';
    }
  }
}
