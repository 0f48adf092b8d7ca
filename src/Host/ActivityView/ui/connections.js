// Connections: outputs and their health over the last hour (delivered, failed attempts, dead letters, waiting, last
// error), pause/resume, edit and delete, dead letters with their reasons and a replay button; a form per output kind
// (webhook, RabbitMQ, warehouse, files) to add one; connections per input with their filter
// and consent rules edited as forms (names picked from the catalog).
import { api, badge, empty, failure, h, link, loading, show, time } from './dom.js';
import { apiExact, sessionWorkspaces, workspaceSelect } from './admin.js';
import { field, problem, send } from './console.js';

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
  const editorSlot = h('div', { id: 'output-editor-slot' });
  show(main,
    h('h1', {}, 'Connections'),
    h('p', { class: 'muted' }, 'Where each input’s data goes: outputs with their health over the last hour, and the connections that feed them.'),
    status, outputsCard, editorSlot, newOutputForm(workspaces, status, refresh), connectionsCard);

  let outputs = [];
  async function refresh() {
    try {
      outputs = await api('/api/admin/outputs/health');
      renderOutputs(outputsCard, outputs, status, refresh, (output) => editOutput(editorSlot, output, status, refresh));
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
  const timer = setInterval(() => { if (!document.querySelector('#connections-editor, #output-editor')) refresh(); }, 10_000);
  return () => clearInterval(timer);
}

function say(status, text, kind = 'notice') { status.className = kind; status.textContent = text; }

function renderOutputs(card, outputs, status, refresh, edit) {
  show(card, h('h2', { id: 'outputs-title' }, 'Outputs'),
    outputs.length === 0 ? empty('No outputs yet: add one below (webhook, RabbitMQ, warehouse or files).') : h('table', {},
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
              } }, `Dead letters (${health.dead_letters_total})`),
            h('button', { type: 'button', class: 'secondary', 'aria-label': `Edit ${output.name}`, onclick: () => edit(output) }, 'Edit'),
            h('button', { type: 'button', class: 'secondary', 'aria-label': `Delete ${output.name}`, onclick: async () => {
                if (!confirm(`Delete the output ${output.name} and its connections? Nothing more is sent to it (a files output's folder and a warehouse's tables stay).`)) return;
                try { await send('DELETE', `/api/admin/outputs/${output.id}`); say(status, `Output ${output.name} is deleted.`); await refresh(); }
                catch (error) { say(status, error.message, 'error'); }
              } }, 'Delete'))),
          h('tr', { class: 'detail-row' }, h('td', { colspan: 6 }, letters))];
      }))));
}

const target = (output) => output.webhook?.url
  ?? (output.rabbitmq && `${output.rabbitmq.uri} → ${output.rabbitmq.exchange}`)
  ?? (output.warehouse && `${output.warehouse.host}:${output.warehouse.port}/${output.warehouse.database} · schema ${output.warehouse.schema}`)
  ?? output.files?.folder ?? '';

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

// Every output kind the admin API takes (docs/outputs.md), with what it does, as the form offers it.
const kinds = {
  webhook: { label: 'webhook', title: 'Webhook', explain: 'One POST per message (an enriched batch, an audience change or an erasure notice) to your URL; 2xx is delivered, 5xx and timeouts are retried, other answers are refused for good.' },
  rabbitmq: { label: 'RabbitMQ', title: 'RabbitMQ', explain: 'Each message published to an existing exchange of your broker, with publisher confirms: delivered once the broker has confirmed it. The delivery id is the message id.' },
  warehouse: { label: 'warehouse', title: 'Warehouse (PostgreSQL)', explain: 'Keeps tables of people, their history, events and audience memberships current in a PostgreSQL database of yours, in micro-batches.' },
  files: { label: 'files', title: 'Files (Parquet)', explain: 'Writes events, audience changes and erasure notices as Parquet files, partitioned by workspace and day, in a folder of this server, for DuckDB, Spark or pandas.' },
};

/** A Npgsql connection-string value, quoted when it would otherwise end the pair or the string. */
const connectionValue = (value) => /[;'"=]|^\s|\s$/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
/** The admin API shows a stored password as Password=********: the form leaves it out (sent back, it would become the password). */
const withoutMaskedPassword = (text) => (text ?? '').replace(/(^|;)\s*password\s*=\s*\*{8}\s*(?=;|$)/i, '').replace(/^;/, '');
/** And a broker URI's as user:***@: left out too (a URI without a password keeps the stored one). */
const withoutMaskedUserPassword = (uri) => (uri ?? '').replace(/^(amqps?:\/\/[^:@/]*):\*\*\*@/i, '$1@');

/** The password typed in its own field goes into the connection string (replacing one written there). */
function connectionWithPassword(text, password) {
  if (!password) return text.trim();
  const rest = text.trim().replace(/(^|;)\s*(password|pwd)\s*=\s*("([^"]|"")*"|'([^']|'')*'|[^;]*)/gi, '').replace(/^;/, '');
  return `${rest}${rest && !rest.endsWith(';') ? ';' : ''}Password=${connectionValue(password)}`;
}

/** The password typed in its own field goes into the broker URI (percent-encoded by the URL parser). */
function uriWithPassword(text, password) {
  if (!password) return text.trim();
  try { const uri = new URL(text.trim()); uri.password = password; return uri.href; }
  catch { return text.trim(); } // not a URI: the server names the field and the reason
}

/**
 * The form of one output kind, to add one (output: null) or edit one. Only that kind's fields, each explained; a secret
 * or password is typed in its own field and never filled in again (the API never shows it: left empty on an edit, the
 * stored one is kept). The server's refusal is shown next to each field it names (data-fields lists the API's names).
 */
function outputFields(prefix, kind, output) {
  const id = (name) => `${prefix}-${name}`;
  const input = (name, fields, attributes) => h('input', { id: id(name), name, 'data-fields': fields, ...attributes });
  const editing = Boolean(output);
  switch (kind) {
    case 'rabbitmq': {
      const r = output?.rabbitmq;
      return [
        field(id('uri'), 'Broker URI', input('uri', 'rabbitmq rabbitmq.uri', { required: true, autocomplete: 'off', value: withoutMaskedUserPassword(r?.uri), placeholder: 'amqps://user@broker.example.org:5671/vhost' }),
          'amqp:// or amqps://, with the user, host, port and virtual host. The broker’s address is checked against the outbound-address policy now and at every connection. Type the password in the next field.'),
        field(id('password'), 'Broker password', input('password', '', { type: 'password', autocomplete: 'new-password' }),
          editing ? (r?.has_password ? 'A password is stored and never shown: leave this empty to keep it (same user and host), or type a new one.' : 'None stored.')
            : 'Stored with the output and never shown again.'),
        field(id('exchange'), 'Exchange', input('exchange', 'rabbitmq.exchange', { required: true, maxlength: 255, autocomplete: 'off', value: r?.exchange ?? '', placeholder: 'eventprofiles' }),
          'An existing exchange: EventProfiles never declares, binds or changes the broker’s topology. Bind your queues to it.'),
        field(id('routing-key'), 'Routing key template (optional)', input('routing_key', 'rabbitmq.routing_key', { autocomplete: 'off', value: r?.routing_key ?? '', placeholder: '{workspace}.{input}.{event_type}' }),
          'Placeholders {workspace}, {input} and {event_type}; empty: {workspace}.{input}.{event_type}.'),
      ];
    }
    case 'warehouse': {
      const w = output?.warehouse;
      return [
        field(id('connection'), 'Connection string (without the password)', input('connection_string', 'warehouse warehouse.connection_string', { required: true, autocomplete: 'off', size: 60,
            value: withoutMaskedPassword(w?.connection_string), placeholder: 'Host=dw.example.org;Port=5432;Database=analytics;Username=ep;SSL Mode=Require' }),
          'An Npgsql connection string naming one network host (no socket path, no host list) and a database. The host is checked against the outbound-address policy now and at every flush; connections go to the checked address, so use SSL Mode=Require or VerifyCA, not VerifyFull.'),
        field(id('password'), 'Database password', input('password', '', { type: 'password', autocomplete: 'new-password' }),
          editing ? (w?.has_password ? 'A password is stored and never shown: leave this empty to keep it, or type a new one.' : 'None stored.')
            : 'Stored with the output, never shown again and never written to logs.'),
        field(id('schema'), 'Schema', input('schema', 'warehouse.schema', { autocomplete: 'off', maxlength: 63, value: w?.schema ?? '', placeholder: 'eventprofiles' }),
          'Where EventProfiles keeps its tables: a lower-case name (letters, digits, _), created if missing; empty: eventprofiles.'),
      ];
    }
    case 'files': {
      const f = output?.files;
      return [
        field(id('folder'), 'Folder', input('folder', 'files files.folder', { required: true, autocomplete: 'off', size: 50, value: f?.folder ?? '', placeholder: '/srv/lake/eventprofiles' }),
          'An absolute folder of this server, under its EventProfiles:Forwarding:Files:Root (without one, files outputs are refused), not through a symbolic link. Deleting the output leaves the files.'),
        field(id('max-mib'), 'Largest file (MiB)', input('max_file_mib', 'files.max_file_bytes', { type: 'number', min: 1, max: 1048576, step: 1,
            value: f ? Math.max(1, Math.round(f.max_file_bytes / 1048576)) : 128, 'data-bytes': f?.max_file_bytes }),
          'A new file begins once one passes this size (checked after each row group). Every flush closes its files too.'),
        h('div', { class: 'checks' }, h('label', {}, h('input', { type: 'checkbox', id: id('rewrite'), name: 'rewrite_on_erasure', 'data-fields': 'files.rewrite_on_erasure',
          'aria-describedby': id('rewrite-hint'), checked: f?.rewrite_on_erasure ?? false }), ' Rewrite published files when a person is erased')),
        h('p', { class: 'hint', id: id('rewrite-hint') }, 'Off: an erasure adds a tombstone row and readers leave tombstoned people out. On: every published file of the workspace holding the person is rewritten without them (reads them all once per flush with an erasure).'),
      ];
    }
    default: {
      const w = output?.webhook;
      return [
        field(id('url'), 'Webhook URL', input('url', 'webhook webhook.url', { type: 'url', required: true, autocomplete: 'off', size: 50, value: w?.url ?? '', placeholder: 'https://…' }),
          'http or https. Checked against the outbound-address policy now and at every delivery (public addresses only, unless the server allows the host); redirects are not followed.'),
        field(id('secret'), 'Signing secret (optional)', input('secret', 'webhook.secret', { type: 'password', autocomplete: 'new-password' }),
          editing ? (w?.has_secret ? 'A secret is stored and never shown: leave this empty to keep it, or type a new one.' : 'None stored: type one to sign from now on.')
            : 'Signs each body (X-EventProfiles-Signature: sha256=<HMAC of the body>). Stored, never shown again.'),
      ];
    }
  }
}

/** The admin API's body for the form's kind; passwords typed in their own fields go into the URI or connection string. */
function outputBody(form, kind, workspaceId) {
  const v = (name) => form.elements[name]?.value ?? '';
  const body = { name: v('name').trim(), kind, workspace_id: workspaceId };
  if (kind === 'rabbitmq') body.rabbitmq = { uri: uriWithPassword(v('uri'), v('password')), exchange: v('exchange').trim(), routing_key: v('routing_key').trim() || null };
  else if (kind === 'warehouse') body.warehouse = { connection_string: connectionWithPassword(v('connection_string'), v('password')), schema: v('schema').trim() || null };
  else if (kind === 'files') {
    // An edit that leaves the size as shown keeps the stored bytes (the API takes any size; the form shows whole MiB).
    const size = form.elements.max_file_mib;
    const bytes = size.dataset.bytes && size.value === size.defaultValue ? Number(size.dataset.bytes) : size.value ? Number(size.value) * 1048576 : null;
    body.files = { folder: v('folder').trim(), max_file_bytes: bytes, rewrite_on_erasure: form.elements.rewrite_on_erasure.checked };
  }
  else body.webhook = { url: v('url').trim(), secret: v('secret') || null };
  return body;
}

/** Clears the form's field errors, then shows a refusal's reasons next to the fields it names; the rest above the form. */
function showFieldErrors(form, errors, error) {
  form.querySelectorAll('.field-error').forEach(e => e.remove());
  form.querySelectorAll('[aria-invalid]').forEach(c => {
    c.removeAttribute('aria-invalid');
    c.setAttribute('aria-describedby', (c.getAttribute('aria-describedby') ?? '').split(' ').filter(d => !d.endsWith('-error')).join(' '));
  });
  show(errors);
  if (!error) return;
  const rest = [];
  for (const e of error.fields ?? []) {
    const control = e.field && form.querySelector(`[data-fields~="${CSS.escape(e.field)}"]`);
    if (!control) { rest.push(e); continue; }
    const message = h('p', { class: 'field-error', id: `${control.id}-error` }, `${e.message}`);
    control.setAttribute('aria-invalid', 'true');
    control.setAttribute('aria-describedby', [control.getAttribute('aria-describedby'), message.id].filter(Boolean).join(' '));
    (control.closest('.field') ?? control.closest('.checks') ?? control.parentElement).append(message);
  }
  show(errors, rest.length ? problem({ title: error.title, message: error.message, fields: rest })
    : !error.fields?.length ? problem(error)
    : h('div', { class: 'error', role: 'alert' }, `${error.title ?? 'Refused'}: the reasons are next to the fields.`));
  (form.querySelector('[aria-invalid=true]') ?? errors).focus?.();
}

function newOutputForm(workspaces, status, refresh) {
  const kindSelect = h('select', { id: 'output-kind', name: 'kind' }, Object.entries(kinds).map(([k, d]) => h('option', { value: k }, d.title)));
  const explain = h('p', { class: 'hint', id: 'output-kind-hint' });
  const kindFields = h('div', { class: 'kind-fields' });
  const errors = h('div', { tabindex: -1 });
  const submit = h('button', { type: 'submit' });
  const workspace = workspaceSelect('output-workspace', workspaces, workspaces.length === 1 ? workspaces[0].id : '', { all: workspaces.length > 1 ? 'All workspaces' : null });
  workspace.dataset.fields = 'workspace_id';
  const name = h('input', { id: 'output-name', name: 'name', required: true, maxlength: 200, autocomplete: 'off', 'data-fields': 'name' });
  const form = h('form', { class: 'stack', 'aria-labelledby': 'new-output-title', onsubmit: async (event) => {
      event.preventDefault();
      const kind = kindSelect.value;
      try {
        const created = await send('POST', '/api/admin/outputs', outputBody(form, kind, form.elements.workspace.value ? Number(form.elements.workspace.value) : null));
        showFieldErrors(form, errors, null);
        say(status, `Output ${created.name} added. Connect an input to it below.`);
        form.reset(); // the secrets typed are gone from the page; the kind stays for the next one
        kindSelect.value = kind;
        renderKind();
        await refresh();
      } catch (error) { showFieldErrors(form, errors, error); }
    } },
    errors,
    h('div', { class: 'inline' },
      field('output-kind', 'Kind', kindSelect),
      field('output-name', 'Name', name),
      field('output-workspace', 'Workspace', workspace)),
    explain, kindFields, h('div', { class: 'inline' }, submit));
  kindSelect.setAttribute('aria-describedby', 'output-kind-hint');
  function renderKind() {
    const kind = kindSelect.value;
    explain.textContent = kinds[kind].explain;
    show(kindFields, outputFields('output', kind, null));
    submit.textContent = `Add ${kinds[kind].label} output`;
    showFieldErrors(form, errors, null);
  }
  kindSelect.addEventListener('change', renderKind);
  renderKind();
  return h('section', { class: 'card', 'aria-labelledby': 'new-output-title' },
    h('h2', { id: 'new-output-title' }, 'Add an output'),
    h('p', { class: 'muted' }, 'Pick the kind: the form asks only for what that kind needs. Every address is checked against the outbound-address policy when saved and again when used; secrets and passwords are typed once and never shown again.'),
    form);
}

/** An output's settings as a form (its kind and workspace stay: its connections were checked against them). */
function editOutput(slot, output, status, refresh) {
  const errors = h('div', { tabindex: -1 });
  const titleId = 'output-editor-title';
  const form = h('form', { class: 'stack', 'aria-labelledby': titleId, onsubmit: async (event) => {
      event.preventDefault();
      try {
        const saved = await send('PUT', `/api/admin/outputs/${output.id}`, outputBody(form, output.kind, output.workspace_id ?? null));
        show(slot);
        say(status, `Output ${saved.name} is saved.`);
        await refresh();
      } catch (error) { showFieldErrors(form, errors, error); }
    } },
    errors,
    h('p', { class: 'muted' }, `${kinds[output.kind]?.title ?? output.kind} · ${output.workspace_id ? `workspace ${output.workspace_id}` : 'all workspaces'} (neither changes: create another output for that).`),
    h('div', { class: 'inline' }, field('edit-output-name', 'Output name', h('input', { name: 'name', required: true, maxlength: 200, autocomplete: 'off', value: output.name, 'data-fields': 'name' }))),
    h('div', { class: 'kind-fields' }, outputFields('edit-output', output.kind, output)),
    h('div', { class: 'inline' }, h('button', { type: 'submit' }, 'Save output'),
      h('button', { type: 'button', class: 'secondary', onclick: () => show(slot) }, 'Cancel')));
  show(slot, h('section', { class: 'card editor', id: 'output-editor', 'aria-labelledby': titleId },
    h('h2', { id: titleId }, `Edit output ${output.name}`), form));
  slot.scrollIntoView({ block: 'nearest' });
  form.elements.name.focus();
}

function renderConnections(card, inputs, outputs, connections, status, refresh) {
  const outputName = (id) => outputs.find(o => o.id === id)?.name ?? id;
  // The 10-second refresh draws this form again: what the user picked stays picked.
  const [pickedInput, pickedOutput] = [document.getElementById('connect-input')?.value, document.getElementById('connect-output')?.value];
  const inputSelect = h('select', { id: 'connect-input', name: 'input', required: true },
    inputs.map(i => h('option', { value: i.name, selected: i.name === pickedInput }, `${i.name} (${i.workspace_name})`)));
  const outputSelect = h('select', { id: 'connect-output', name: 'output_id', required: true },
    outputs.map(o => h('option', { value: o.id, selected: o.id === pickedOutput }, o.name)));
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
