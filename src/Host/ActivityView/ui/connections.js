// Connections: outputs and their health over the last hour (delivered, failed attempts, dead letters, waiting, last
// error), pause/resume, dead letters with their reasons and a replay button; connections per input with their filter
// and consent rules edited as forms (names picked from the catalog).
import { api, badge, empty, failure, h, link, loading, show, time } from './dom.js';
import { apiExact, field, sessionWorkspaces, workspaceSelect } from './admin.js';
import { send } from './console.js';

// The Events API's event types (what a connection can block), as the server validates them.
const eventTypes = ['custom_event', 'screen_view', 'commerce_event', 'session_start', 'session_end', 'application_state_transition', 'opt_out',
  'push_registration', 'push_message', 'crash_report', 'breadcrumb', 'network_performance', 'uninstall', 'user_attribute_change',
  'user_identity_change', 'first_run', 'profile', 'pre_attribution', 'push_reaction', 'unknown', 'validation_result'];

export async function connectionsPage(main) {
  document.title = 'Connections · EventProfiles';
  show(main, loading('outputs and connections'));
  // The admin API's inputs of the user's workspaces; a disabled input takes no data, so it is not offered.
  const [workspaces, allInputs] = await Promise.all([sessionWorkspaces(), api('/api/admin/inputs')]);
  const workspaceNames = new Map(workspaces.map(w => [w.id, w.name]));
  const inputs = allInputs.filter(i => !i.disabled).map(i => ({ ...i, workspace_name: workspaceNames.get(i.workspace_id) ?? String(i.workspace_id) }));
  const outputsCard = h('section', { class: 'card', 'aria-labelledby': 'outputs-title' });
  const connectionsCard = h('section', { class: 'card', 'aria-labelledby': 'connections-title' });
  const status = h('p', { role: 'status', id: 'connections-status' });
  show(main,
    h('h1', {}, 'Connections'),
    h('p', { class: 'muted' }, 'Where each input’s data goes: outputs with their health over the last hour, and the connections that feed them.'),
    status, outputsCard, newOutputForm(workspaces, status, refresh), connectionsCard);

  let outputs = [];
  async function refresh() {
    try {
      outputs = await api('/api/admin/outputs/health');
      renderOutputs(outputsCard, outputs, status, refresh);
      const connections = await api('/api/admin/connections');
      renderConnections(connectionsCard, inputs, outputs.map(o => o.output), connections, status, refresh);
      const wanted = new URLSearchParams(location.search).get('output');
      const row = wanted && document.getElementById(`output-${wanted}`);
      if (row && !row.dataset.shown) { row.dataset.shown = 'true'; row.classList.add('highlight'); row.scrollIntoView({ block: 'center' }); }
    } catch (error) {
      show(outputsCard, failure(error));
    }
  }
  await refresh();
  // Health moves as deliveries happen: refreshed every 10 seconds while the page is open.
  const timer = setInterval(() => { if (!document.querySelector('#connections-editor')) refresh(); }, 10_000);
  return () => clearInterval(timer);
}

function say(status, text, kind = 'notice') { status.className = kind; status.textContent = text; }

function renderOutputs(card, outputs, status, refresh) {
  show(card, h('h2', { id: 'outputs-title' }, 'Outputs'),
    outputs.length === 0 ? empty('No outputs yet: add a webhook below, or any kind through the admin API (POST /api/admin/outputs).') : h('table', {},
      h('thead', {}, h('tr', {}, ['Output', 'Health', 'Last hour', 'Waiting', 'Last error', 'Actions'].map(t => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, outputs.map(({ output, health }) => {
        const letters = h('div', { class: 'dead-letters', id: `dead-${output.id}`, hidden: true });
        return [h('tr', { id: `output-${output.id}`, 'data-output': output.name },
          h('th', { scope: 'row' }, output.name, h('div', { class: 'muted' }, `${output.kind} · `, h('span', { class: 'mono' }, target(output))),
            h('div', { class: 'muted' }, output.workspace_id ? `workspace ${output.workspace_id}` : 'all workspaces', ` · id ${output.id}`)),
          h('td', {}, badge(health.status, { healthy: 'ready', paused: 'draft', degraded: 'calculating', failing: 'erased' }[health.status])),
          h('td', {}, `${health.delivered} delivered`, h('div', {}, `${health.failed_attempts} failed attempts`), h('div', {}, `${health.dead_letters} dead letters`)),
          h('td', {}, String(health.pending)),
          h('td', {}, health.last_error ? [h('span', { class: 'error-text' }, health.last_error), h('div', { class: 'muted' }, time(health.last_error_at))] : '—'),
          h('td', { class: 'actions' },
            h('button', { type: 'button', class: 'secondary', 'aria-label': `${output.paused ? 'Resume' : 'Pause'} ${output.name}`, onclick: async () => {
                try {
                  await send('POST', `/api/admin/outputs/${output.id}/${output.paused ? 'resume' : 'pause'}`);
                  say(status, `${output.name} is ${output.paused ? 'resumed' : 'paused'}.`);
                  await refresh();
                } catch (error) { say(status, error.message, 'error'); }
              } }, output.paused ? 'Resume' : 'Pause'),
            h('button', { type: 'button', class: 'secondary', 'aria-expanded': 'false', 'aria-controls': `dead-${output.id}`,
              'aria-label': `Dead letters of ${output.name} (${health.dead_letters_total})`, onclick: async (event) => {
                const open = letters.hidden;
                event.currentTarget.setAttribute('aria-expanded', String(open));
                letters.hidden = !open;
                if (open) await renderDeadLetters(letters, output, status, refresh);
              } }, `Dead letters (${health.dead_letters_total})`))),
          h('tr', { class: 'detail-row' }, h('td', { colspan: 6 }, letters))];
      }))));
}

const target = (output) => output.webhook?.url ?? output.rabbitmq?.uri ?? output.rabbitmq?.exchange ?? output.warehouse?.host ?? output.files?.folder ?? '';

async function renderDeadLetters(region, output, status, refresh) {
  show(region, loading('dead letters'));
  try {
    const letters = await apiExact(`/api/admin/outputs/${output.id}/dead-letters`, 'mpid'); // MPIDs are 64-bit
    show(region, h('h3', {}, `Dead letters of ${output.name}`),
      letters.length === 0 ? empty('None: every delivery arrived or is still being tried.') : [
        h('table', {},
          h('thead', {}, h('tr', {}, ['Failed at', 'Person', 'Kind', 'Reason'].map(t => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, letters.map(l => h('tr', {},
            h('td', {}, time(l.failed_at, { seconds: true })),
            h('td', { class: 'value' }, link(`/ui/people/${l.mpid}`, l.mpid)),
            h('td', {}, l.kind.replace('_', ' ')),
            h('td', { class: 'error-text' }, l.error))))),
        h('button', { type: 'button', onclick: async () => {
            try {
              const replayed = await send('POST', `/api/admin/outputs/${output.id}/dead-letters/replay`);
              say(status, `${replayed.replayed} dead letter${replayed.replayed === 1 ? '' : 's'} of ${output.name} sent again.`);
              await refresh();
            } catch (error) { say(status, error.message, 'error'); }
          } }, `Replay ${letters.length} dead letter${letters.length === 1 ? '' : 's'}`)]);
  } catch (error) {
    show(region, failure(error));
  }
}

function newOutputForm(workspaces, status, refresh) {
  const form = h('form', { class: 'inline', 'aria-labelledby': 'new-output-title', onsubmit: async (event) => {
      event.preventDefault();
      const data = Object.fromEntries(new FormData(form).entries());
      try {
        const created = await send('POST', '/api/admin/outputs', {
          name: data.name.trim(), kind: 'webhook', webhook: { url: data.url.trim(), secret: data.secret || null },
          workspace_id: data.workspace ? Number(data.workspace) : null,
        });
        say(status, `Output ${created.name} added. Connect an input to it below.`);
        form.reset();
        await refresh();
      } catch (error) { say(status, error.message, 'error'); }
    } },
    field('output-name', 'Name', h('input', { id: 'output-name', name: 'name', required: true, maxlength: 200 })),
    field('output-url', 'Webhook URL', h('input', { id: 'output-url', name: 'url', type: 'url', required: true, placeholder: 'https://…' })),
    field('output-secret', 'Signing secret (optional)', h('input', { id: 'output-secret', name: 'secret', type: 'password', autocomplete: 'new-password' })),
    field('output-workspace', 'Workspace', workspaceSelect('output-workspace', workspaces, workspaces.length === 1 ? workspaces[0].id : '',
      { all: workspaces.length > 1 ? 'All workspaces' : null })),
    h('button', { type: 'submit' }, 'Add webhook output'));
  return h('section', { class: 'card', 'aria-labelledby': 'new-output-title' },
    h('h2', { id: 'new-output-title' }, 'Add a webhook output'),
    h('p', { class: 'muted' }, 'The address is checked against the outbound-address policy now and at every delivery. RabbitMQ, warehouse and files outputs are created through the admin API (docs/outputs.md) and listed here.'),
    form);
}

function renderConnections(card, inputs, outputs, connections, status, refresh) {
  const outputName = (id) => outputs.find(o => o.id === id)?.name ?? id;
  const inputSelect = h('select', { id: 'connect-input', name: 'input', required: true }, inputs.map(i => h('option', { value: i.name }, `${i.name} (${i.workspace_name})`)));
  const outputSelect = h('select', { id: 'connect-output', name: 'output_id', required: true }, outputs.map(o => h('option', { value: o.id }, o.name)));
  const connect = h('form', { class: 'inline', 'aria-label': 'Connect an input to an output', onsubmit: async (event) => {
      event.preventDefault();
      try {
        await send('POST', '/api/admin/connections', { input: inputSelect.value, output_id: outputSelect.value, active: true });
        say(status, `${inputSelect.value} is connected to ${outputName(outputSelect.value)}.`);
        await refresh();
      } catch (error) { say(status, error.message, 'error'); }
    } },
    field('connect-input', 'Input', inputSelect), field('connect-output', 'Output', outputSelect),
    h('button', { type: 'submit', disabled: outputs.length === 0 || inputs.length === 0 }, 'Connect'));
  show(card, h('h2', { id: 'connections-title' }, 'Connections by input'), connect,
    inputs.map(input => {
      const mine = connections.filter(c => c.input === input.name);
      const titleId = `input-${input.name}-title`;
      return h('section', { class: 'input-connections', 'aria-labelledby': titleId },
        h('h3', { id: titleId }, `Input ${input.name}`, h('span', { class: 'muted' }, ` · ${input.kind}, ${input.environment} · ${input.workspace_name}`)),
        mine.length === 0 ? empty('Not connected to any output.') : h('table', {},
          h('thead', {}, h('tr', {}, ['Output', 'State', 'Filter', 'Consent rules', 'Actions'].map(t => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, mine.map(c => h('tr', { 'data-connection': c.id },
            h('th', { scope: 'row' }, outputName(c.output_id)),
            h('td', {}, badge(c.active ? 'active' : 'inactive', c.active ? 'ready' : 'inactive')),
            h('td', {}, filterSummary(c.filter)),
            h('td', {}, c.consent_rules.length ? c.consent_rules.map(r => h('div', {}, r.kind === 'require_gdpr_consent' ? `GDPR consent to “${r.purpose}”` : 'No CCPA opt-out')) : 'none'),
            h('td', { class: 'actions' },
              h('button', { type: 'button', class: 'secondary', 'aria-label': `Edit the connection of ${input.name} to ${outputName(c.output_id)}`,
                onclick: () => editConnection(card, input, c, outputName(c.output_id), status, refresh) }, 'Edit'),
              h('button', { type: 'button', class: 'secondary', 'aria-label': `Delete the connection of ${input.name} to ${outputName(c.output_id)}`, onclick: async () => {
                  if (!confirm(`Stop sending ${input.name}'s data to ${outputName(c.output_id)}?`)) return;
                  try { await send('DELETE', `/api/admin/connections/${c.id}`); say(status, 'Connection deleted.'); await refresh(); }
                  catch (error) { say(status, error.message, 'error'); }
                } }, 'Delete')))))));
    }));
}

function filterSummary(filter) {
  const parts = [];
  if (filter.blocked_event_types.length) parts.push(`types: ${filter.blocked_event_types.join(', ')}`);
  if (filter.blocked_event_names.length) parts.push(`events: ${filter.blocked_event_names.map(n => n.event_name).join(', ')}`);
  if (filter.blocked_user_attributes.length) parts.push(`user attributes: ${filter.blocked_user_attributes.join(', ')}`);
  if (filter.blocked_event_attributes.length) parts.push(`event attributes: ${filter.blocked_event_attributes.map(a => a.attribute).join(', ')}`);
  if (filter.blocked_identity_types.length) parts.push(`identities: ${filter.blocked_identity_types.join(', ')}`);
  return parts.length ? parts.map(p => h('div', {}, `Blocks ${p}`)) : 'everything passes';
}

/** The connection's form: event types as checkboxes, event names and user attributes picked from the catalog, consent rules. */
function editConnection(card, input, connection, outputName, status, refresh) {
  document.getElementById('connections-editor')?.remove();
  const names = [...connection.filter.blocked_event_names];
  const attributes = [...connection.filter.blocked_user_attributes];
  const purposes = connection.consent_rules.filter(r => r.kind === 'require_gdpr_consent').map(r => r.purpose);
  const eventNames = h('datalist', { id: 'catalog-event-names' });
  const attributeNames = h('datalist', { id: 'catalog-user-attributes' });
  const catalog = async (kind, q, list) => {
    try {
      const found = await api(`/api/admin/workspaces/${input.workspace_id}/catalog`, { kind, q, size: 50 });
      list.replaceChildren(...found.items.map(i => h('option', { value: i.name, 'data-event-type': i.event_type }, i.event_type ? `${i.name} (${i.event_type})` : i.name)));
    } catch { /* autocomplete is a convenience: typing still works */ }
  };
  const chips = (items, label, remove) => h('ul', { class: 'chips editable' }, items.map((item, i) => h('li', {}, label(item),
    h('button', { type: 'button', class: 'link-dark', 'aria-label': `Remove ${label(item)}`, onclick: () => { remove(i); render(); } }, '×'))));
  const editor = h('section', { class: 'card editor', id: 'connections-editor', 'aria-labelledby': 'editor-title' });

  function render() {
    const nameType = h('select', { id: 'block-name-type' }, ['custom_event', 'screen_view', 'commerce_event'].map(t => h('option', { value: t }, t.replace('_', ' '))));
    const nameInput = h('input', { id: 'block-name', list: 'catalog-event-names', autocomplete: 'off', oninput: () => catalog(nameType.value === 'screen_view' ? 'screen' : 'event', nameInput.value, eventNames) });
    const attributeInput = h('input', { id: 'block-attribute', list: 'catalog-user-attributes', autocomplete: 'off', oninput: () => catalog('user_attribute', attributeInput.value, attributeNames) });
    const purposeInput = h('input', { id: 'consent-purpose', autocomplete: 'off', placeholder: 'e.g. marketing' });
    const checked = new Set([...editor.querySelectorAll('input[name=blocked_event_type]:checked')].map(c => c.value));
    const initial = editor.childElementCount === 0;
    const was = (name, fallback) => initial ? fallback : editor.querySelector(`input[name=${name}]`)?.checked ?? fallback;
    show(editor,
      h('h2', { id: 'editor-title' }, `Connection ${input.name} → ${outputName}`),
      h('form', { class: 'stack', 'aria-labelledby': 'editor-title', onsubmit: async (event) => {
          event.preventDefault();
          const form = event.currentTarget;
          const body = {
            input: connection.input, output_id: connection.output_id,
            active: form.elements.active.checked, forward_erasures: form.elements.forward_erasures.checked,
            filter: {
              blocked_event_types: [...form.querySelectorAll('input[name=blocked_event_type]:checked')].map(c => c.value),
              blocked_event_names: names, blocked_user_attributes: attributes,
              blocked_event_attributes: connection.filter.blocked_event_attributes, blocked_identity_types: connection.filter.blocked_identity_types,
            },
            consent_rules: [...purposes.map(purpose => ({ kind: 'require_gdpr_consent', purpose })),
              ...(form.elements.ccpa.checked ? [{ kind: 'require_no_ccpa_opt_out' }] : [])],
          };
          try {
            await send('PUT', `/api/admin/connections/${connection.id}`, body);
            editor.remove();
            say(status, `The connection ${input.name} → ${outputName} is saved.`);
            await refresh();
          } catch (error) { say(status, error.message, 'error'); }
        } },
        h('div', { class: 'checks' },
          h('label', {}, h('input', { type: 'checkbox', name: 'active', checked: was('active', connection.active) }), ' Active (forward this input’s batches)'),
          h('label', {}, h('input', { type: 'checkbox', name: 'forward_erasures', checked: was('forward_erasures', connection.forward_erasures) }), ' Tell the output when a person is erased')),
        h('fieldset', {}, h('legend', {}, 'Blocked event types'),
          h('div', { class: 'checks grid-checks' }, eventTypes.map(t => h('label', {},
            h('input', { type: 'checkbox', name: 'blocked_event_type', value: t, checked: initial ? connection.filter.blocked_event_types.includes(t) : checked.has(t) }),
            ` ${t.replaceAll('_', ' ')}`)))),
        h('fieldset', {}, h('legend', {}, 'Blocked event names'),
          chips(names, n => `${n.event_name} (${n.event_type})`, i => names.splice(i, 1)),
          h('div', { class: 'inline' },
            field('block-name-type', 'Event type', nameType), field('block-name', 'Event name (from the catalog)', nameInput),
            h('button', { type: 'button', class: 'secondary', onclick: () => {
                const name = nameInput.value.trim();
                if (name && !names.some(n => n.event_name === name && n.event_type === nameType.value)) names.push({ event_type: nameType.value, event_name: name });
                render();
              } }, 'Block this event'))),
        h('fieldset', {}, h('legend', {}, 'Blocked user attributes'),
          chips(attributes, a => a, i => attributes.splice(i, 1)),
          h('div', { class: 'inline' },
            field('block-attribute', 'User attribute (from the catalog)', attributeInput),
            h('button', { type: 'button', class: 'secondary', onclick: () => {
                const name = attributeInput.value.trim();
                if (name && !attributes.includes(name)) attributes.push(name);
                render();
              } }, 'Block this attribute'))),
        h('fieldset', {}, h('legend', {}, 'Consent rules'),
          h('p', { class: 'muted' }, 'A batch is forwarded only when the person gave every GDPR consent listed, and (if ticked) has not opted out of sale under CCPA.'),
          chips(purposes, p => `GDPR consent to “${p}”`, i => purposes.splice(i, 1)),
          h('div', { class: 'inline' },
            field('consent-purpose', 'GDPR purpose', purposeInput),
            h('button', { type: 'button', class: 'secondary', onclick: () => {
                const purpose = purposeInput.value.trim().toLowerCase();
                if (purpose && !purposes.includes(purpose)) purposes.push(purpose);
                render();
              } }, 'Require this consent')),
          h('label', {}, h('input', { type: 'checkbox', name: 'ccpa', checked: was('ccpa', connection.consent_rules.some(r => r.kind === 'require_no_ccpa_opt_out')) }),
            ' Require no CCPA opt-out')),
        eventNames, attributeNames,
        h('div', { class: 'inline' }, h('button', { type: 'submit' }, 'Save connection'),
          h('button', { type: 'button', class: 'secondary', onclick: () => editor.remove() }, 'Cancel'))));
    catalog('event', '', eventNames);
    catalog('user_attribute', '', attributeNames);
  }
  render();
  card.append(editor);
  editor.querySelector('input')?.focus();
}
