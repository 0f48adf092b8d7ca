// Search: by MPID or any identity (exact), with prefix matching on emails and customer ids.
import { api, apiPost, badge, empty, failure, h, link, loading, navigate, show, time } from './dom.js';

const types = [
  ['any', 'Any profile'], ['mpid', 'MPID'], ['email', 'Email'], ['customer_id', 'Customer ID'], ['mobile_number', 'Mobile number'],
  ['other', 'Other'], ['device_application_stamp', 'Device application stamp'], ['ios_advertising_id', 'iOS advertising ID (IDFA)'],
  ['ios_idfv', 'iOS vendor ID (IDFV)'], ['android_advertising_id', 'Android advertising ID (GAID)'], ['android_uuid', 'Android ID'],
  ['push_token', 'Push token'],
];

export async function searchPage(main) {
  document.title = 'Search · EventProfiles';
  const params = new URLSearchParams(location.search);
  const query = h('input', { id: 'q', name: 'q', type: 'search', value: params.get('q') ?? '', required: true,
    placeholder: 'MPID, email, customer id, device id…', autocomplete: 'off', 'aria-describedby': 'search-hint' });
  const type = h('select', { id: 'type', name: 'type' },
    types.map(([value, text]) => h('option', { value, selected: value === (params.get('type') ?? 'any') }, text)));
  const results = h('section', { 'aria-live': 'polite', 'aria-labelledby': 'results-title' });
  const held = h('section', { 'aria-labelledby': 'held-title' });

  const form = h('form', { class: 'inline', role: 'search', onsubmit: (event) => {
      event.preventDefault();
      navigate(`/ui/?${new URLSearchParams({ q: query.value.trim(), type: type.value })}`);
    } },
    h('div', { class: 'field' }, h('label', { for: 'type' }, 'Search in'), type),
    h('div', { class: 'field' }, h('label', { for: 'q' }, 'Identity or MPID'), query),
    h('button', { type: 'submit' }, 'Search'));

  show(main,
    h('h1', {}, 'Find a person'),
    h('p', { id: 'search-hint', class: 'muted' },
      'Exact match on an MPID or any identity; emails and customer ids also match by their beginning (3 characters or more).'),
    h('div', { class: 'card' }, form),
    results,
    held);
  heldMerges(held);

  const q = params.get('q');
  if (!q) { query.focus(); return; }
  show(results, loading('people'));
  try {
    const found = await api('/ui/api/search', { q, type: params.get('type') ?? 'any' });
    show(results, h('h2', { id: 'results-title' }, resultTitle(found)), found.results.length ? table(found) : empty(
      `No person in your workspaces matches “${found.query}”. Search is exact except for the beginning of emails and customer ids.`));
  } catch (error) {
    show(results, failure(error));
  }
}

const resultTitle = (found) => found.results.length === 1 ? '1 person found'
  : `${found.results.length}${found.truncated ? '+' : ''} people found`;

function table(found) {
  return h('div', { class: 'card' }, h('table', {},
    h('thead', {}, h('tr', {}, ['MPID', 'Status', 'Email', 'Customer ID', 'Matched by', 'First seen', 'Last seen', 'Workspaces'].map(t => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, found.results.map(hit => h('tr', {},
      h('td', { class: 'value nowrap' }, hit.mpid ? link(`/ui/people/${hit.mpid}`, hit.mpid) : '—'),
      h('td', {}, badge(hit.status), hit.erased_at ? h('div', { class: 'muted' }, 'on ', time(hit.erased_at)) : null),
      h('td', { class: 'value' }, hit.email ?? '—'),
      h('td', { class: 'value' }, hit.customer_id ?? '—'),
      h('td', {}, `${hit.matched_by}: `, h('span', { class: 'mono' }, hit.matched_value)),
      h('td', {}, time(hit.first_seen)),
      h('td', {}, time(hit.last_seen)),
      h('td', {}, hit.workspaces.map(w => w.name).join(', ')))))));
}

// ---- people the merge guards flagged (issue 21 §4): accept the held links here, or split on the person's page.
const reasons = {
  value_shared_by_people: 'value already held by too many people',
  identities_per_type_per_day: 'too many identities of one type in a day',
  devices_per_hour: 'seen on too many devices in an hour',
};

async function heldMerges(region, message = null) {
  let people;
  try {
    people = await api('/api/admin/held-merges');
  } catch (error) {
    if (error.status === 403) { show(region); return; } // the list is for org-wide admins only
    show(region, h('h2', { id: 'held-title' }, 'Flagged by the merge guards'), failure(error));
    return;
  }
  const status = h('p', { role: 'status', class: 'muted' }, message ?? '');
  const accept = (mpid) => async (event) => {
    event.target.disabled = true;
    try {
      const answer = await apiPost(`/api/admin/people/${mpid}/held-merges/accept`, {});
      const skipped = answer.skipped.length ? `; ${answer.skipped.length} skipped (another person holds them now)` : '';
      await heldMerges(region, `Accepted for ${mpid}: ${answer.linked.length} identities linked${skipped}.`);
    } catch (error) {
      event.target.disabled = false;
      show(status, error.message);
    }
  };
  show(region,
    h('h2', { id: 'held-title' }, `Flagged by the merge guards (${people.length})`),
    h('p', { class: 'muted' }, 'Their batches were stored but these identities were not linked. Accept links them; if the person is really two, split them on their page.'),
    status,
    people.length === 0 ? empty('Nobody is flagged.') : h('div', { class: 'card' }, h('table', {},
      h('thead', {}, h('tr', {}, ['MPID', 'Held identities', 'Since', 'Action'].map(t => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, people.map(p => h('tr', {},
        h('td', { class: 'value nowrap' }, link(`/ui/people/${p.mpid}`, p.mpid)),
        h('td', {}, h('ul', { class: 'plain' }, p.held.map(x => h('li', {},
          h('span', { class: 'mono' }, `${x.identity_type}: ${x.value}`), ' — ', reasons[x.reason] ?? x.reason, ` (input ${x.input})`)))),
        h('td', {}, time(p.held.map(x => x.at).sort()[0])),
        h('td', { class: 'nowrap' },
          h('button', { type: 'button', onclick: accept(p.mpid), 'aria-label': `Accept the held links of ${p.mpid}` }, 'Accept'), ' ',
          link(`/ui/people/${p.mpid}`, h('span', { 'aria-hidden': 'true' }, 'Split…'), h('span', { class: 'visually-hidden' }, ` Split ${p.mpid} on their page`)))))))));
}
