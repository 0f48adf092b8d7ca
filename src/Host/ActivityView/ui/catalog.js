// Catalog: every event name (with its event type), screen, user attribute and event attribute seen in a workspace,
// with the last 7 days' volume, its total and when it was first and last seen. The filter matches the beginning of names.
import { api, empty, failure, h, loading, navigate, show, time } from './dom.js';
import { field, sessionWorkspaces, sparkline, workspaceSelect } from './admin.js';

const kinds = [
  ['event', 'Event names', 'Event'], ['screen', 'Screens', 'Screen'],
  ['user_attribute', 'User attributes', 'Attribute'], ['event_attribute', 'Event attributes', 'Attribute'],
];
const pageSize = 25;

export async function catalogPage(main) {
  document.title = 'Catalog · EventProfiles';
  show(main, loading('the catalog'));
  const workspaces = await sessionWorkspaces();
  const params = new URLSearchParams(location.search);
  const workspace = params.get('workspace') ?? String(workspaces[0]?.id ?? '');
  const q = params.get('q') ?? '';
  const picker = workspaceSelect('catalog-workspace', workspaces, workspace);
  const filter = h('input', { id: 'catalog-q', name: 'q', type: 'search', value: q, autocomplete: 'off', placeholder: 'e.g. Viewed' });
  const summary = h('p', { class: 'muted', id: 'catalog-summary', role: 'status' });
  const form = h('form', { class: 'inline', role: 'search', 'aria-label': 'Filter the catalog', onsubmit: (event) => {
      event.preventDefault();
      const query = new URLSearchParams(Object.entries({ workspace: picker.value, q: filter.value.trim() }).filter(([, v]) => v));
      navigate(`/ui/catalog?${query}`);
    } },
    field('catalog-workspace', 'Workspace', picker),
    field('catalog-q', 'Name begins with', filter),
    h('button', { type: 'submit' }, 'Filter'));
  const sections = kinds.map(([kind, title]) => h('section', { class: 'card', 'aria-labelledby': `catalog-${kind}-title`, 'data-kind': kind },
    h('h2', { id: `catalog-${kind}-title` }, title), loading(title.toLowerCase())));
  show(main,
    h('h1', {}, 'Catalog'),
    h('p', { class: 'muted' }, 'What this workspace has received: names are counted as batches are accepted (within a second or so). ',
      'The audience and calculated-attribute builders and the connection filters pick names from here.'),
    h('div', { class: 'card' }, form, summary),
    sections);
  if (!workspace) { show(summary, 'You may see no workspace.'); return; }
  await Promise.all(kinds.map(([kind, title, nameHeader], i) => renderKind(sections[i], workspace, kind, title, nameHeader, q, 1, summary)));
}

async function renderKind(section, workspace, kind, title, nameHeader, q, page, summary) {
  try {
    const found = await api(`/api/admin/workspaces/${workspace}/catalog`, { kind, q, page, size: pageSize });
    if (summary && kind === 'event')
      summary.textContent = `${found.names} name${found.names === 1 ? '' : 's'} stored for this workspace (at most ${found.limit}).` +
        (found.overflow ? ` ${found.overflow} occurrence${found.overflow === 1 ? '' : 's'} of new names were not kept: the workspace is full.` : '');
    const pages = Math.max(1, Math.ceil(found.total / found.size));
    const withType = kind !== 'user_attribute';
    show(section,
      h('h2', { id: `catalog-${kind}-title` }, title, h('span', { class: 'muted' }, ` · ${found.total}`)),
      found.items.length === 0 ? empty(q ? `Nothing beginning with “${q}”.` : 'Nothing seen yet.') : h('table', {},
        h('thead', {}, h('tr', {}, [nameHeader, withType ? 'Event type' : null, 'Last 7 days', '7-day volume', 'Total', 'First seen', 'Last seen']
          .filter(Boolean).map(t => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, found.items.map(item => h('tr', { 'data-name': item.name },
          h('th', { scope: 'row', class: 'value' }, item.name),
          withType ? h('td', {}, item.event_type.replaceAll('_', ' ')) : null,
          h('td', {}, sparkline(item.last_7_days)),
          h('td', {}, String(item.last_7_days.reduce((n, d) => n + d.count, 0))),
          h('td', {}, String(item.total)),
          h('td', {}, time(item.first_seen)),
          h('td', {}, time(item.last_seen)))))),
      pages > 1 ? h('nav', { class: 'pager', 'aria-label': `${title} pages` },
        h('button', { type: 'button', class: 'secondary', disabled: page <= 1, onclick: () => renderKind(section, workspace, kind, title, nameHeader, q, page - 1) }, 'Previous'),
        h('span', {}, `Page ${page} of ${pages}`),
        h('button', { type: 'button', class: 'secondary', disabled: page >= pages, onclick: () => renderKind(section, workspace, kind, title, nameHeader, q, page + 1) }, 'Next')) : null);
  } catch (error) {
    show(section, h('h2', { id: `catalog-${kind}-title` }, title), failure(error));
  }
}
