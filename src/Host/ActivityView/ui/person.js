// The profile page: who the person is (identities, attributes, calculated attributes, audiences, consent, devices,
// retention) and what they did (activity chart and the filterable timeline of their events).
import { api, apiPost, badge, empty, failure, formatDate, formatValue, h, link, loading, navigate, show, time } from './dom.js';

// mParticle's User Activity View lists these first, in this order; the rest alphabetically.
const reservedAttributes = ['$Age', '$FirstName', '$LastName', '$Gender', '$Mobile', '$Address', '$City', '$State', '$Zip', '$Country'];
const pageSize = 25;

export async function personPage(main, mpid) {
  document.title = `MPID ${mpid} · EventProfiles`;
  show(main, loading('the profile'));
  // As of a date (issue 21 §2): the same page, folded from the person's stream up to that instant.
  const asOf = new URLSearchParams(location.search).get('as_of') ?? '';
  let person;
  try {
    person = await api(`/ui/api/people/${mpid}`, { as_of: asOf });
  } catch (error) {
    show(main, h('h1', {}, `MPID ${mpid}`), asOf ? asOfForm(mpid, asOf) : null, failure(error),
      h('p', {}, h('a', { href: '/ui/', 'data-internal': true }, 'Back to search')));
    return;
  }
  const timeline = h('section', { class: 'card', 'aria-labelledby': 'timeline-title' });
  show(main,
    header(person, asOf),
    h('div', { class: 'grid wide-first' }, identities(person), audiences(person)),
    person.workspaces.map(ws => workspace(ws, person.mpid)),
    person.aliases.length ? aliases(person) : null,
    splits(person),
    timeline,
    privacy(person));
  await renderTimeline(timeline, mpid);
}

/** The date picker: the profile as it was at a moment (local time in, an instant out). */
function asOfForm(mpid, asOf) {
  const pad = (n) => String(n).padStart(2, '0');
  const local = (iso) => { const d = new Date(iso); return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`; };
  const input = h('input', { id: 'as-of', name: 'as_of', type: 'datetime-local', step: '1', value: asOf ? local(asOf) : '' });
  return h('form', { class: 'inline', 'aria-label': 'Show the profile as it was', onsubmit: (event) => {
      event.preventDefault();
      if (input.value) navigate(`/ui/people/${mpid}?as_of=${encodeURIComponent(new Date(input.value).toISOString())}`);
    } },
    h('div', { class: 'field' }, h('label', { for: 'as-of' }, 'As it was at'), input),
    h('button', { type: 'submit' }, 'Show'),
    asOf ? link(`/ui/people/${mpid}`, 'Back to now') : null);
}

function header(person, asOf) {
  const retention = person.retention;
  return h('section', { class: 'card', 'aria-labelledby': 'person-title' },
    h('div', { class: 'person-head' },
      h('h1', { id: 'person-title' }, 'MPID ', h('span', { class: 'mpid' }, person.mpid)),
      badge(person.status)),
    asOf ? h('p', { class: 'notice', role: 'status' }, 'As it was at ', time(asOf, { seconds: true }),
      '. Erased or expired data is not shown, whatever the date. The timeline below shows every stored event.') : null,
    asOfForm(person.mpid, asOf),
    h('dl', { class: 'facts' },
      h('dt', {}, 'First seen'), h('dd', {}, time(person.first_seen)),
      h('dt', {}, 'Last seen'), h('dd', {}, time(person.last_seen)),
      h('dt', {}, 'Last data stored'), h('dd', {}, time(person.last_stored_at)),
      h('dt', {}, 'Opted out'), h('dd', {}, badge(person.opted_out ? 'yes' : 'no', person.opted_out ? 'no' : 'yes')),
      h('dt', {}, 'Limit ad tracking'), h('dd', {}, person.limit_ad_tracking === undefined ? 'not reported' : person.limit_ad_tracking ? 'on' : 'off'),
      h('dt', {}, 'Retention'), h('dd', {},
        retention.status === 'live'
          ? ['Live until ', time(retention.live_until), ` unless new data arrives (profile lifetime ${retention.profile_lifetime_days} days)`]
          : ['Aged out on ', time(retention.aged_out_at), '; new data reactivates the profile'],
        `. Events are kept for ${retention.data_retention_days} days.`)));
}

function identities(person) {
  return h('section', { class: 'card', 'aria-labelledby': 'identities-title' },
    h('h2', { id: 'identities-title' }, 'Identities'),
    person.identities.length === 0 ? empty('No identities.') : h('table', {},
      h('thead', {}, h('tr', {}, ['Type', 'Value', 'Linked', 'Through'].map(t => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, person.identities.map(i => h('tr', {},
        h('td', {}, i.type, i.kind === 'device' ? h('span', { class: 'muted' }, ' (device)') : null),
        h('td', { class: 'value' }, i.value),
        h('td', {}, time(i.linked_at)),
        h('td', {}, `${i.input} · ${i.workspace.name}`))))));
}

function audiences(person) {
  return h('section', { class: 'card', 'aria-labelledby': 'audiences-title' },
    h('h2', { id: 'audiences-title' }, 'Audience memberships'),
    person.audiences.length === 0 ? empty('Not in any audience.') : h('ul', { class: 'chips' },
      // Each links to the audience's page, where "why (not) a member" opens for this person.
      person.audiences.map(a => h('li', {}, link(`/ui/audiences/${a.id}?mpid=${person.mpid}`, a.name),
        h('span', { class: 'muted' }, ` · ${a.kind === 'standard' ? 'standard' : 'real-time'} #${a.id}`)))));
}

/** An attribute's history (issue 21 §3): every value, when, from which input and batch; opened by clicking its name. */
async function showHistory(panel, mpid, ws, name) {
  show(panel, loading(`the history of ${name}`));
  try {
    const history = await api(`/ui/api/people/${mpid}/workspaces/${ws.id}/attributes/${encodeURIComponent(name)}/history`, { limit: 100 });
    const calculated = history.calculated_attribute;
    show(panel,
      h('h3', {}, `History of ${name}`),
      calculated ? h('p', { class: 'muted' }, `Calculated attribute #${calculated.id} (${calculated.calculation_type}), activated `, time(calculated.activated_timestamp_ms ? new Date(calculated.activated_timestamp_ms).toISOString() : null)) : null,
      history.history.length === 0 ? empty('No values recorded.') : h('table', {},
        h('thead', {}, h('tr', {}, ['Value', 'Stored', 'Input', 'Batch', calculated ? 'Events counted' : 'Note'].map(t => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, history.history.map(e => h('tr', {},
          h('td', { class: 'value' }, e.removed ? 'removed' : formatValue(e.value)),
          h('td', {}, time(new Date(e.stored_timestamp_ms).toISOString(), { seconds: true })),
          h('td', {}, e.input ?? '—'),
          h('td', { class: 'value' }, e.batch_id ?? '—'),
          h('td', {}, e.source === 'calculated_attribute'
            ? (e.events_from_timestamp_ms ? [time(new Date(e.events_from_timestamp_ms).toISOString()), ' – ', time(new Date(e.events_to_timestamp_ms).toISOString())] : '—')
            : e.applied ? '' : 'older than the value held: not applied'))))),
      history.next_cursor ? h('p', { class: 'muted' }, 'Only the first 100 values are shown.') : null);
  } catch (error) {
    show(panel, failure(error));
  }
}

function workspace(ws, mpid) {
  const panel = h('div', { class: 'attribute-history', 'aria-live': 'polite' });
  const nameButton = (name) => h('button', { type: 'button', class: 'link', title: `Show the history of ${name}`, onclick: () => showHistory(panel, mpid, ws, name) }, name);
  const attributes = [...ws.user_attributes].sort((a, b) => order(a.name) - order(b.name) || a.name.localeCompare(b.name));
  const titleId = `ws-${ws.id}-title`;
  return h('section', { class: 'card', 'aria-labelledby': titleId },
    h('h2', { id: titleId }, `Workspace: ${ws.name}`),
    h('p', { class: 'muted' }, 'First seen ', time(ws.first_seen), ' · last seen ', time(ws.last_seen),
      ws.inputs.length ? ` · inputs: ${ws.inputs.join(', ')}` : ''),
    h('div', { class: 'grid' },
      h('div', {},
        h('h3', {}, 'User attributes'),
        attributes.length === 0 ? empty('No user attributes.') : h('table', {},
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Value'), h('th', { scope: 'col' }, 'Updated'))),
          h('tbody', {}, attributes.map(a => h('tr', {}, h('td', {}, nameButton(a.name)), h('td', { class: 'value' }, formatValue(a.value)), h('td', {}, time(a.updated_at)))))),
        h('h3', {}, 'Calculated attributes'),
        ws.calculated_attributes.length === 0 ? empty('No calculated attributes defined in this workspace.') : h('table', {},
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Value'), h('th', { scope: 'col' }, 'Status'))),
          h('tbody', {}, ws.calculated_attributes.map(c => h('tr', {},
            h('td', {}, c.status === 'draft' ? c.name : nameButton(c.name)),
            h('td', { class: 'value' }, c.value ? (c.value.list ? c.value.list.join(', ') : c.value.text ?? '—') : '—'),
            h('td', {}, badge(c.status))))))),
      h('div', {},
        h('h3', {}, 'Consent'),
        consent(ws.consent),
        h('h3', {}, 'Devices'),
        ws.devices.length === 0 ? empty('No devices.') : h('table', {},
          h('thead', {}, h('tr', {}, ['Device', 'Platform', 'Last seen'].map(t => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, ws.devices.map(d => h('tr', {},
            h('td', { class: 'value' }, Object.entries(d.identities).map(([k, v]) => h('div', {}, `${k}: ${v}`)),
              d.device_application_stamp && !Object.values(d.identities).includes(d.device_application_stamp) ? h('div', {}, `device_application_stamp: ${d.device_application_stamp}`) : null),
            h('td', {}, d.platform ?? '—', d.att_authorization_status ? h('div', { class: 'muted' }, `ATT: ${d.att_authorization_status}`) : null),
            h('td', {}, time(d.last_seen)))))),
        ws.attribution ? [h('h3', {}, 'Attribution'), h('p', {}, `${ws.attribution.publisher} · ${ws.attribution.campaign} (`, time(ws.attribution.at), ')')] : null)),
    panel);
}

const order = (name) => { const i = reservedAttributes.indexOf(name); return i < 0 ? reservedAttributes.length : i; };

function consent(state) {
  const rows = state.gdpr.map(g => ['GDPR', g.purpose, g.consented, g.at, g.document]);
  if (state.ccpa) rows.push(['CCPA', 'data_sale_opt_out', state.ccpa.consented, state.ccpa.at, state.ccpa.document]);
  if (rows.length === 0) return empty('No consent state recorded.');
  return h('table', {},
    h('thead', {}, h('tr', {}, ['Regulation', 'Purpose', 'Consented', 'Since'].map(t => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows.map(([regulation, purpose, consented, at, document]) => h('tr', {},
      h('td', {}, regulation), h('td', {}, purpose, document ? h('div', { class: 'muted' }, document) : null),
      h('td', {}, badge(consented ? 'yes' : 'no')), h('td', {}, time(at))))));
}

function aliases(person) {
  return h('section', { class: 'card', 'aria-labelledby': 'aliases-title' },
    h('h2', { id: 'aliases-title' }, 'Aliases'),
    h('table', {},
      h('thead', {}, h('tr', {}, ['From', 'To', 'Events copied', 'When'].map(t => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, person.aliases.map(a => h('tr', {},
        h('td', { class: 'value' }, link(`/ui/people/${a.source_mpid}`, a.source_mpid)),
        h('td', { class: 'value' }, link(`/ui/people/${a.destination_mpid}`, a.destination_mpid)),
        h('td', {}, a.events_copied), h('td', {}, time(a.at)))))));
}

// ---- splits and merges (issue 21 §1): the record, undo, and a form to split off identities that belong to someone else.

function splits(person) {
  const status = h('p', { role: 'status' });
  const undone = new Set(person.moves.filter(m => m.undoes_split).map(m => m.undoes_split));
  const record = person.moves.length === 0 ? empty('No splits or merges.') : h('table', {},
    h('thead', {}, h('tr', {}, ['What', 'With', 'Identities', 'Events moved', 'By', 'Why', 'When', ''].map(t => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, person.moves.map(m => h('tr', {},
      h('td', {}, `${m.kind.replace('_', ' ')}${m.gave ? ' (gave)' : ' (received)'}`),
      h('td', { class: 'value' }, link(`/ui/people/${m.other_mpid}`, m.other_mpid)),
      h('td', { class: 'value' }, m.identities.map(i => h('div', {}, i))),
      h('td', {}, m.events_moved), h('td', {}, m.by), h('td', {}, m.reason), h('td', {}, time(m.at)),
      h('td', {}, m.kind === 'split' && !undone.has(m.id) ? h('button', { type: 'button', class: 'secondary', onclick: async () => {
        const reason = prompt('Why undo this split? (shown in the history)');
        if (!reason) return;
        try {
          await apiPost(`/api/admin/people/${person.mpid}/splits/${m.id}/undo`, { reason });
          location.reload();
        } catch (error) { status.className = 'error'; status.textContent = error.message; }
      } }, 'Undo') : null)))));
  const form = h('form', { 'aria-label': 'Split identities off to a new person', onsubmit: async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const chosen = data.getAll('split-identity').map(v => JSON.parse(String(v)));
      const reason = String(data.get('split-reason') ?? '').trim();
      if (chosen.length === 0) { status.className = 'error'; status.textContent = 'Choose the identities that belong to someone else.'; return; }
      if (!confirm(`Move ${chosen.map(i => `${i.type} ${i.value}`).join(', ')} and every batch that carried them to a new person?`)) return;
      try {
        const split = await apiPost(`/api/admin/people/${person.mpid}/split`, { identities: chosen, reason });
        location.assign(`/ui/people/${split.new_mpid}`);
      } catch (error) { status.className = 'error'; status.textContent = error.message; }
    } },
    h('fieldset', {}, h('legend', {}, 'Identities that belong to someone else'),
      person.identities.map((i, n) => h('div', {},
        h('input', { type: 'checkbox', id: `split-${n}`, name: 'split-identity', value: JSON.stringify({ type: i.type, value: i.value }) }),
        h('label', { for: `split-${n}` }, ` ${i.type}: ${i.value}`)))),
    h('div', { class: 'field' }, h('label', { for: 'split-reason' }, 'Why'), h('input', { id: 'split-reason', name: 'split-reason', required: true })),
    h('button', { type: 'submit' }, 'Split'));
  return h('section', { class: 'card', 'aria-labelledby': 'splits-title' },
    h('h2', { id: 'splits-title' }, 'Splits and merges'), record, form, status);
}

// ---- privacy: a GDPR/CCPA request for this person, processed like one sent to the OpenDSR API.

function privacy(person) {
  const list = h('div', { 'aria-live': 'polite' }, loading('requests'));
  const status = h('p', { role: 'status' });
  const select = (id, label, options) => h('div', { class: 'field' }, h('label', { for: id }, label),
    h('select', { id, name: id.replace('dsr-', '') }, options.map(([value, text]) => h('option', { value }, text))));
  const form = h('form', { class: 'inline', 'aria-label': 'Start a data subject request', onsubmit: async (event) => {
      event.preventDefault();
      const data = Object.fromEntries(new FormData(form).entries());
      const workspace = person.workspaces.find(w => String(w.id) === data.workspace);
      const what = `${data.regulation.toUpperCase()} ${data.type} request for MPID ${person.mpid} in workspace ${workspace?.name}`;
      const note = data.type === 'erasure' ? ' It deletes everything about the person after the 7-day waiting period.' : '';
      if (!confirm(`Submit a ${what}?${note}`)) return;
      try {
        const created = await apiPost(`/ui/api/people/${person.mpid}/requests`, { workspace_id: Number(data.workspace), regulation: data.regulation, type: data.type });
        status.className = 'notice';
        status.textContent = `Submitted: ${what} (${created.subject_request_id}), ${created.status}.`;
        await refresh();
      } catch (error) {
        status.className = 'error';
        status.textContent = error.message;
      }
    } },
    select('dsr-workspace', 'Workspace', person.workspaces.map(w => [w.id, w.name])),
    select('dsr-regulation', 'Regulation', [['gdpr', 'GDPR'], ['ccpa', 'CCPA']]),
    select('dsr-type', 'Request', [['access', 'Access'], ['portability', 'Portability'], ['erasure', 'Erasure']]),
    h('button', { type: 'submit' }, 'Submit request'));
  async function refresh() {
    try {
      const requests = await api(`/ui/api/people/${person.mpid}/requests`);
      show(list, requests.length === 0 ? empty('No open requests for this person.') : h('table', {},
        h('thead', {}, h('tr', {}, ['Request', 'Workspace', 'Status', 'Runs at'].map(t => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, requests.map(r => h('tr', {},
          h('td', {}, `${r.regulation.toUpperCase()} ${r.type}`, h('div', { class: 'muted mono' }, r.subject_request_id)),
          h('td', {}, person.workspaces.find(w => w.id === r.workspace_id)?.name ?? r.workspace_id),
          h('td', {}, badge(r.status, r.status === 'pending' ? 'calculating' : 'ready')),
          h('td', {}, time(r.process_at)))))));
    } catch (error) {
      show(list, failure(error));
    }
  }
  refresh();
  return h('section', { class: 'card', 'aria-labelledby': 'privacy-title' },
    h('h2', { id: 'privacy-title' }, 'Privacy requests'),
    h('p', { class: 'muted' }, 'Access and portability requests run at once; erasures wait 7 days (cancel them with DELETE /v3/requests/{id}). ',
      link(`/ui/privacy?mpid=${person.mpid}`, 'Follow this person’s requests on the Privacy page'), '.'),
    form, status, list);
}

// ---- timeline: filters live in the address (shareable), the chart shows the retention period.

async function renderTimeline(section, mpid) {
  const params = new URLSearchParams(location.search);
  const filters = { type: params.get('type') ?? '', name: params.get('name') ?? '', input: params.get('input') ?? '', from: params.get('from') ?? '', to: params.get('to') ?? '' };
  const pageNumber = Math.max(1, Number(params.get('page') ?? 1) || 1);
  const chart = h('div', { class: 'chart' }, loading('activity'));
  const list = h('div', { 'aria-live': 'polite' }, loading('events'));
  const typeSelect = h('select', { id: 'filter-type', name: 'type' }, h('option', { value: '' }, 'All event types'));
  const inputSelect = h('select', { id: 'filter-input', name: 'input' }, h('option', { value: '' }, 'All inputs'));
  const field = (id, label, input) => h('div', { class: 'field' }, h('label', { for: id }, label), input);
  const form = h('form', { class: 'inline', 'aria-label': 'Filter events', onsubmit: (event) => {
      event.preventDefault();
      const data = new FormData(form);
      apply(Object.fromEntries([...data.entries()].map(([k, v]) => [k, String(v).trim()])), 1);
    } },
    field('filter-type', 'Event type', typeSelect),
    field('filter-name', 'Event name contains', h('input', { id: 'filter-name', name: 'name', value: filters.name })),
    field('filter-input', 'Input', inputSelect),
    field('filter-from', 'From', h('input', { id: 'filter-from', name: 'from', type: 'date', value: filters.from })),
    field('filter-to', 'To', h('input', { id: 'filter-to', name: 'to', type: 'date', value: filters.to })),
    h('button', { type: 'submit' }, 'Apply filters'),
    h('button', { type: 'button', class: 'secondary', onclick: () => apply({ type: '', name: '', input: '', from: '', to: '' }, 1) }, 'Clear'));

  function apply(next, page) {
    const query = new URLSearchParams(Object.entries({ ...next, page: page > 1 ? page : '' }).filter(([, v]) => v));
    history.pushState(null, '', `${location.pathname}${query.size ? '?' + query : ''}`);
    renderTimeline(section, mpid);
  }

  show(section, h('h2', { id: 'timeline-title' }, 'Timeline'), chart, h('div', { class: 'card' }, form), list);
  api(`/ui/api/people/${mpid}/activity`).then(activity => show(chart, activityChart(activity))).catch(error => show(chart, failure(error)));
  try {
    const events = await api(`/ui/api/people/${mpid}/events`, { ...filters, page: pageNumber, size: pageSize });
    for (const type of events.event_types) typeSelect.append(h('option', { value: type, selected: type === filters.type }, type));
    for (const input of events.inputs) inputSelect.append(h('option', { value: input, selected: input === filters.input }, input));
    const pages = Math.max(1, Math.ceil(events.total / events.size));
    const filtered = Object.values(filters).some(Boolean);
    show(list,
      h('p', { class: 'muted' }, `${events.total} event${events.total === 1 ? '' : 's'}${filtered ? ' match the filters' : ''}, newest first.`),
      events.events.length === 0 ? empty(filtered ? 'No events match these filters.' : 'No events stored for this person.') :
        h('ul', { class: 'events' }, events.events.map(eventItem)),
      pages > 1 ? h('nav', { class: 'pager', 'aria-label': 'Timeline pages' },
        h('button', { type: 'button', class: 'secondary', disabled: pageNumber <= 1, onclick: () => apply(filters, pageNumber - 1) }, 'Newer'),
        h('span', {}, `Page ${pageNumber} of ${pages}`),
        h('button', { type: 'button', class: 'secondary', disabled: pageNumber >= pages, onclick: () => apply(filters, pageNumber + 1) }, 'Older')) : null);
  } catch (error) {
    show(list, failure(error));
  }
}

function eventItem(event) {
  return h('li', { 'data-event-type': event.event_type },
    h('details', {},
      h('summary', {},
        time(event.timestamp, { seconds: true }),
        h('span', {}, badge(event.event_type.replaceAll('_', ' '), 'inbound')),
        h('strong', { class: 'event-name' }, event.name ?? '(no name)', event.copied_from ? h('span', { class: 'muted' }, ` · copied from ${event.copied_from}`) : null),
        h('span', { class: 'muted' }, `${event.input ?? '?'} · ${event.workspace.name}`)),
      h('p', { class: 'muted' }, `Batch ${event.batch_id}, received `, time(event.received_at), event.environment ? ` (${event.environment})` : ''),
      h('pre', { tabindex: 0, 'aria-label': 'Event and batch JSON' }, event.json)));
}

const dayMs = 86400000;

function activityChart(activity) {
  // The retention period from the person's first active day (nothing exists before it), at least the last 30 days.
  const end = Date.parse(activity.to + 'T00:00:00Z');
  const firstActive = activity.days.length ? Date.parse(activity.days[0].date + 'T00:00:00Z') : end;
  const start = Math.max(Date.parse(activity.from + 'T00:00:00Z'), Math.min(firstActive - dayMs, end - 29 * dayMs));
  const dayCount = Math.round((end - start) / dayMs) + 1;
  const from = new Date(start).toISOString().slice(0, 10);
  const max = Math.max(1, ...activity.days.map(d => d.count));
  const svgNs = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(svgNs, 'svg');
  svg.setAttribute('viewBox', `0 0 ${dayCount} 100`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('role', 'img');
  const summary = `${activity.total} event${activity.total === 1 ? '' : 's'} on ${activity.days.length} day${activity.days.length === 1 ? '' : 's'} between ${formatDate(from)} and ${formatDate(activity.to)}`;
  svg.setAttribute('aria-label', `Activity per day: ${summary}`);
  for (const day of activity.days) {
    const index = Math.round((Date.parse(day.date + 'T00:00:00Z') - start) / dayMs);
    if (index < 0) continue;
    const height = Math.max(2, 100 * day.count / max);
    const bar = document.createElementNS(svgNs, 'rect');
    bar.setAttribute('y', 100 - height);
    bar.setAttribute('x', index + 0.1);
    bar.setAttribute('width', 0.8);
    bar.setAttribute('height', height);
    const title = document.createElementNS(svgNs, 'title');
    title.textContent = `${day.date}: ${day.count} event${day.count === 1 ? '' : 's'}`;
    bar.append(title);
    svg.append(bar);
  }
  return [
    h('p', { class: 'muted', id: 'activity-summary' },
      `Activity per day (events are kept ${activity.retention_days} days; the chart starts at the first of them that has activity, or 30 days ago): ${summary}. Busiest day: ${max} event${max === 1 ? '' : 's'}.`),
    svg,
    h('div', { class: 'axis', 'aria-hidden': 'true' }, h('span', {}, formatDate(from)), h('span', {}, formatDate(activity.to))),
  ];
}
