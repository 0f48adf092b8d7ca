// Live Stream: development batches as they arrive and deliveries as they leave (forwarding.md §6), read from the
// Server-Sent Events endpoint with this session; filters by input and MPID, pause and clear.
import { badge, empty, h, indentJson, link, show, time } from './dom.js';

const maxEntries = 200;

export function livePage(main) {
  document.title = 'Live Stream · EventProfiles';
  const params = new URLSearchParams(location.search);
  const input = h('input', { id: 'live-input', name: 'input', value: params.get('input') ?? '', placeholder: 'all inputs' });
  const mpid = h('input', { id: 'live-mpid', name: 'mpid', value: params.get('mpid') ?? '', placeholder: 'all people', inputmode: 'numeric', pattern: '-?[0-9]+' });
  const direction = h('select', { id: 'live-direction', name: 'direction' },
    [['both', 'Both in and out'], ['inbound', 'Inbound'], ['outbound', 'Outbound']]
      .map(([value, text]) => h('option', { value, selected: value === (params.get('direction') ?? 'both') }, text)));
  const status = h('p', { class: 'muted', role: 'status', id: 'live-status' }, 'Connecting…');
  const list = h('ul', { class: 'events', id: 'live-entries' });
  const placeholder = empty('Waiting for batches… Send development data to any input and it appears here.');
  let paused = false, source = null, shown = 0;
  const pause = h('button', { type: 'button', class: 'secondary', onclick: () => {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
    pause.setAttribute('aria-pressed', String(paused));
    status.textContent = paused ? 'Paused: new messages are not shown.' : 'Connected: new messages appear at the top.';
  } }, 'Pause');
  pause.setAttribute('aria-pressed', 'false');

  const form = h('form', { class: 'inline', 'aria-label': 'Live Stream filters', onsubmit: (event) => {
      event.preventDefault();
      const query = new URLSearchParams(Object.entries({ input: input.value.trim(), mpid: mpid.value.trim(), direction: direction.value })
        .filter(([k, v]) => v && !(k === 'direction' && v === 'both')));
      history.replaceState(null, '', `/ui/live${query.size ? '?' + query : ''}`);
      connect();
    } },
    h('div', { class: 'field' }, h('label', { for: 'live-input' }, 'Input'), input),
    h('div', { class: 'field' }, h('label', { for: 'live-mpid' }, 'MPID'), mpid),
    h('div', { class: 'field' }, h('label', { for: 'live-direction' }, 'Direction'), direction),
    h('button', { type: 'submit' }, 'Apply filters'),
    pause,
    h('button', { type: 'button', class: 'secondary', onclick: () => { list.replaceChildren(); shown = 0; placeholder.hidden = false; } }, 'Clear entries'));

  show(main,
    h('h1', {}, 'Live Stream'),
    h('p', { class: 'muted' }, 'Development-environment batches as they are accepted, and what is forwarded to outputs.'),
    h('div', { class: 'card' }, form),
    h('section', { class: 'card', 'aria-label': 'Live messages' }, status, placeholder, list));

  function connect() {
    source?.close();
    const query = new URLSearchParams(location.search);
    source = new EventSource(`/api/admin/live-stream${query.size ? '?' + query : ''}`);
    status.textContent = 'Connecting…';
    source.addEventListener('subscribed', () => { if (!paused) status.textContent = 'Connected: new messages appear at the top.'; });
    const onMessage = (event) => {
      if (paused) return;
      placeholder.hidden = true;
      list.prepend(entry(event.data));
      if (++shown > maxEntries) list.lastElementChild?.remove();
    };
    source.addEventListener('inbound', onMessage);
    source.addEventListener('outbound', onMessage);
    source.onerror = () => {
      // EventSource retries by itself; a lost session shows up as a failed reconnect.
      status.textContent = 'Connection lost: retrying… (if this persists, reload the page to sign in again)';
    };
  }

  connect();
  return () => source?.close();
}

function entry(raw) {
  const message = JSON.parse(raw); // mpid is a string; the batch JSON below is shown from the raw text
  const events = Array.isArray(message.batch?.events) ? message.batch.events : [];
  const names = events.map(e => e?.data?.event_name ?? e?.event_type).filter(Boolean);
  const batchStart = raw.indexOf('"batch":');
  const batchText = batchStart >= 0 ? raw.slice(batchStart + '"batch":'.length, raw.length - 1) : raw;
  return h('li', { 'data-batch-id': message.batch_id },
    h('details', {},
      h('summary', {},
        time(new Date().toISOString(), { dateless: true }),
        h('span', {}, badge(message.direction), message.error ? [' ', badge('failed', 'erased')] : null),
        h('strong', {}, names.length ? names.slice(0, 3).join(', ') + (names.length > 3 ? ` +${names.length - 3}` : '') : '(profile update, no events)'),
        h('span', { class: 'muted' }, message.direction === 'outbound' ? `→ ${message.output_id}` : message.input)),
      message.error ? h('p', { class: 'error' }, `Delivery failed: ${message.error}`) : null,
      h('p', {}, 'MPID ', link(`/ui/people/${message.mpid}`, message.mpid), ` · batch ${message.batch_id} · input ${message.input}`,
        message.output_id ? [' · output ', link(`/ui/connections?output=${encodeURIComponent(message.output_id)}`, message.output_id)] : null),
      h('pre', { tabindex: 0, 'aria-label': 'Batch JSON' }, indentJson(batchText))));
}
