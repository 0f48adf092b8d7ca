// Helpers the console's admin pages share (Connections, Privacy, Catalog): the workspace picker and a 7-day sparkline.
// Writes go through console.js's send(), the one way the pages send JSON.
import { ApiError, api, h } from './dom.js';

/** The workspaces the signed-in user may see. */
export const sessionWorkspaces = async () => (await api('/ui/api/session')).workspaces;

/** A labelled select of workspaces (optionally with "all"). */
export function workspaceSelect(id, workspaces, selected, { all = null } = {}) {
  return h('select', { id, name: 'workspace' },
    all ? h('option', { value: '' }, all) : null,
    workspaces.map(w => h('option', { value: w.id, selected: String(w.id) === String(selected ?? '') }, `${w.name} (${w.id})`)));
}

/** A small bar chart of daily counts, named for screen readers with every day's number. */
export function sparkline(days) {
  const svgNs = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(svgNs, 'svg');
  const max = Math.max(1, ...days.map(d => d.count));
  svg.setAttribute('viewBox', `0 0 ${days.length * 4} 20`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('class', 'sparkline');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `Last ${days.length} days: ${days.map(d => `${d.date} ${d.count}`).join(', ')}`);
  days.forEach((d, i) => {
    const height = d.count ? Math.max(2, 20 * d.count / max) : 0.5;
    const bar = document.createElementNS(svgNs, 'rect');
    bar.setAttribute('x', i * 4 + 0.5);
    bar.setAttribute('y', 20 - height);
    bar.setAttribute('width', 3);
    bar.setAttribute('height', height);
    svg.append(bar);
  });
  return svg;
}

export const field = (id, label, control, hint) => h('div', { class: 'field' },
  h('label', { for: id }, label), control, hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null);

/** GET JSON whose 64-bit integer fields (MPIDs as numbers in the admin API) stay exact: they are read as strings. */
export async function apiExact(path, ...fields) {
  const response = await fetch(path, { headers: { accept: 'application/json' }, credentials: 'same-origin' });
  if (response.status === 401) {
    location.assign(`/ui/sign-in?returnUrl=${encodeURIComponent(location.pathname + location.search)}`);
    throw new ApiError(401, 'Your session has expired: signing in again…');
  }
  let text = await response.text();
  if (!response.ok) {
    const problem = (() => { try { return JSON.parse(text); } catch { return null; } })();
    throw new ApiError(response.status, problem?.detail || problem?.title || `The server answered ${response.status}.`);
  }
  for (const field of fields) text = text.replace(new RegExp(`"${field}":(-?\\d+)`, 'g'), `"${field}":"$1"`);
  return JSON.parse(text);
}
