// Privacy: data-subject requests (GDPR/CCPA access, portability, erasure) with their states, filters and results; and
// the org's retention and profile-lifetime settings, with the rules next to the fields.
import { ApiError, api, badge, empty, failure, h, link, loading, navigate, show, time } from './dom.js';
import { field, sessionWorkspaces, workspaceSelect } from './admin.js';
import { send } from './console.js';

const statusKinds = { pending: 'calculating', in_progress: 'calculating', completed: 'ready', cancelled: 'inactive' };
const pageSize = 25;

export async function privacyPage(main) {
  document.title = 'Privacy · EventProfiles';
  show(main, loading('privacy requests'));
  const workspaces = await sessionWorkspaces();
  const params = new URLSearchParams(location.search);
  const filters = Object.fromEntries(['workspace_id', 'status', 'type', 'from', 'to', 'mpid'].map(k => [k, params.get(k) ?? '']));
  const pageNumber = Math.max(1, Number(params.get('page') ?? 1) || 1);
  const select = (id, name, options) => h('select', { id, name }, options.map(([value, text]) => h('option', { value, selected: value === filters[name] }, text)));
  const form = h('form', { class: 'inline', 'aria-label': 'Filter requests', onsubmit: (event) => {
      event.preventDefault();
      const data = Object.fromEntries([...new FormData(form).entries()].map(([k, v]) => [k, String(v).trim()]));
      go(data, 1);
    } },
    field('dsr-filter-workspace', 'Workspace', workspaceSelect('dsr-filter-workspace', workspaces, filters.workspace_id, { all: 'All your workspaces' })),
    field('dsr-filter-status', 'Status', select('dsr-filter-status', 'status',
      [['', 'Any status'], ['pending', 'Pending'], ['in_progress', 'In progress'], ['completed', 'Completed'], ['cancelled', 'Cancelled']])),
    field('dsr-filter-type', 'Type', select('dsr-filter-type', 'type', [['', 'Any type'], ['access', 'Access'], ['portability', 'Portability'], ['erasure', 'Erasure']])),
    field('dsr-filter-from', 'Received from', h('input', { id: 'dsr-filter-from', name: 'from', type: 'date', value: filters.from })),
    field('dsr-filter-to', 'Received to', h('input', { id: 'dsr-filter-to', name: 'to', type: 'date', value: filters.to })),
    field('dsr-filter-mpid', 'MPID', h('input', { id: 'dsr-filter-mpid', name: 'mpid', inputmode: 'numeric', value: filters.mpid, 'aria-describedby': 'dsr-filter-mpid-hint' }),
      'Open requests only: a request forgets the MPID once done.'),
    h('button', { type: 'submit' }, 'Apply filters'),
    h('button', { type: 'button', class: 'secondary', onclick: () => go({}, 1) }, 'Clear'));
  // The workspace select is named "workspace" by the shared helper; the API's filter is workspace_id.
  form.querySelector('#dsr-filter-workspace').name = 'workspace_id';
  const list = h('div', { 'aria-live': 'polite' }, loading('requests'));
  const retention = h('section', { class: 'card', 'aria-labelledby': 'retention-title' }, loading('retention settings'));

  function go(next, page) {
    const query = new URLSearchParams(Object.entries({ ...next, page: page > 1 ? page : '' }).filter(([, v]) => v));
    navigate(`/ui/privacy${query.size ? '?' + query : ''}`);
  }

  show(main,
    h('h1', {}, 'Privacy'),
    h('p', { class: 'muted' }, 'Data-subject requests from the OpenDSR API (', h('code', {}, '/v3/requests'), ') and from profile pages. ',
      'Access and portability run at once and leave a download for 7 days; an erasure waits 7 days (cancellable with ',
      h('code', {}, 'DELETE /v3/requests/{id}'), '), then deletes the person’s data in that workspace and tells the outputs.'),
    h('section', { class: 'card', 'aria-labelledby': 'requests-title' }, h('h2', { id: 'requests-title' }, 'Data-subject requests'), form, list),
    retention);

  renderRetention(retention);
  try {
    const found = await api('/api/admin/privacy/requests', { ...filters, page: pageNumber, size: pageSize });
    const pages = Math.max(1, Math.ceil(found.total / found.size));
    const workspaceName = (id) => workspaces.find(w => w.id === id)?.name ?? `Workspace ${id}`;
    show(list,
      h('p', { class: 'muted' }, `${found.total} request${found.total === 1 ? '' : 's'}${Object.values(filters).some(Boolean) ? (found.total === 1 ? ' matches the filters' : ' match the filters') : ''}, newest first.`),
      found.requests.length === 0 ? empty('No requests.') : h('table', {},
        h('thead', {}, h('tr', {}, ['Request', 'Workspace', 'Status', 'Person', 'Received', 'Runs at', 'Result'].map(t => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, found.requests.map(r => h('tr', { 'data-request': r.subject_request_id },
          h('th', { scope: 'row' }, `${r.regulation.toUpperCase()} ${r.type}`, h('div', { class: 'muted mono' }, r.subject_request_id)),
          h('td', {}, workspaceName(r.workspace_id)),
          h('td', {}, badge(r.status, statusKinds[r.status])),
          h('td', {}, r.mpid ? link(`/ui/people/${r.mpid}`, r.mpid) : h('span', { class: 'muted' }, 'removed once done'),
            r.identity_types.length ? h('div', { class: 'muted' }, `by ${r.identity_types.join(', ')}`) : null),
          h('td', {}, time(r.received_time)),
          h('td', {}, time(r.process_at)),
          h('td', {}, result(r)))))),
      pages > 1 ? h('nav', { class: 'pager', 'aria-label': 'Request pages' },
        h('button', { type: 'button', class: 'secondary', disabled: pageNumber <= 1, onclick: () => go(filters, pageNumber - 1) }, 'Newer'),
        h('span', {}, `Page ${pageNumber} of ${pages}`),
        h('button', { type: 'button', class: 'secondary', disabled: pageNumber >= pages, onclick: () => go(filters, pageNumber + 1) }, 'Older')) : null);
  } catch (error) {
    show(list, failure(error));
  }
}

function result(r) {
  if (r.status === 'cancelled') return 'Cancelled before it ran.';
  if (r.status !== 'completed') return ['Expected by ', time(r.expected_completion_time)];
  const matched = `${r.profiles_matched} profile${r.profiles_matched === 1 ? '' : 's'} matched`;
  if (r.type === 'erasure') return [`Erased: ${matched}, `, time(r.completed_at)];
  return [matched, r.results_until
    ? h('div', {}, h('a', { href: `/api/admin/privacy/requests/${r.subject_request_id}/results`, download: `${r.subject_request_id}.zip` }, 'Download the export'),
        h('span', { class: 'muted' }, ' until '), time(r.results_until))
    : h('div', { class: 'muted' }, 'No export (nothing matched, or it expired).')];
}

async function renderRetention(section) {
  const title = h('h2', { id: 'retention-title' }, 'Retention and profile lifetime');
  let settings;
  try {
    settings = await api('/api/admin/retention');
  } catch (error) {
    show(section, title, error instanceof ApiError && error.status === 403
      ? h('p', { class: 'muted' }, 'These settings are org-wide: only an admin of every workspace may read and change them.')
      : failure(error));
    return;
  }
  const status = h('p', { role: 'status' });
  const number = (id, name, value, min, max) => h('input', { id, name, type: 'number', min, max, required: true, value, 'aria-describedby': `${id}-hint` });
  const form = h('form', { class: 'stack', 'aria-labelledby': 'retention-title', onsubmit: async (event) => {
      event.preventDefault();
      const f = form.elements;
      try {
        const saved = await send('PUT', '/api/admin/retention', {
          data_retention_days: Number(f.data_retention_days.value), profile_lifetime_days: Number(f.profile_lifetime_days.value),
          lifetime_profiles: f.lifetime_profiles.checked,
        });
        status.className = 'notice';
        status.textContent = `Saved: events are kept ${saved.data_retention_days} days; profiles live ${saved.profile_lifetime_days} days without new data.`;
      } catch (error) {
        status.className = 'error';
        status.textContent = error.message;
      }
    } },
    field('data_retention_days', 'Data retention (days)', number('data_retention_days', 'data_retention_days', settings.data_retention_days, 1, 3650),
      `How long events and stored batches are kept, counted from when they were received (1–3650, at least the real-time lookback of ${settings.real_time_lookback_days} days). ` +
      'A person whose profile got no batch for this long disappears entirely, like an erasure.'),
    field('profile_lifetime_days', 'Profile lifetime (days)', number('profile_lifetime_days', 'profile_lifetime_days', settings.profile_lifetime_days, 1, 3650),
      `How long a profile stays live without new data; then it ages out (archived, left out of audiences) and new data reactivates it. ` +
      `At most the data retention period, and at most the real-time lookback (${settings.real_time_lookback_days} days) unless Lifetime Profiles is on.`),
    h('div', { class: 'field' },
      h('label', {}, h('input', { type: 'checkbox', name: 'lifetime_profiles', checked: settings.lifetime_profiles, 'aria-describedby': 'lifetime_profiles-hint' }), ' Lifetime Profiles'),
      h('p', { class: 'hint', id: 'lifetime_profiles-hint' }, 'Lets the profile lifetime go beyond the real-time lookback, up to the data retention period.')),
    h('p', { class: 'muted' }, `Real-time lookback: ${settings.real_time_lookback_days} days (the deployment’s setting EventProfiles:CalculatedAttributes:RealTimeLookbackDays; read-only here).`),
    h('div', {}, h('button', { type: 'submit' }, 'Save retention settings')),
    status);
  show(section, title, form);
}
