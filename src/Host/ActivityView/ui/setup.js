// Setup: the platform's configuration (docs/operations.md, "Configuration") through the admin API with this session:
// workspaces, inputs with their keys (copy buttons, SDK snippets with this server's URLs), secret rotation, API clients,
// admin users and identity settings. Secrets are shown once, right after they are made.
import { empty, failure, h, show, time } from './dom.js';
import { send } from './console.js';

const scopes = ['profiles:read', 'audiences:read', 'audiences:write', 'calculated_attributes:read', 'calculated_attributes:write'];

/** Any method to the admin API (console.js's send(): a problem's fields and reasons become the error's message). */
const call = (method, path, body) => send(method, path, body);

/** A button that copies text to the clipboard and says so (for screen readers too). */
function copyButton(text, what) {
  const button = h('button', { type: 'button', class: 'secondary small', 'aria-label': `Copy ${what}` }, 'Copy');
  button.addEventListener('click', async () => {
    try { await navigator.clipboard.writeText(text); button.textContent = 'Copied'; }
    catch { button.textContent = 'Select and copy'; }
    setTimeout(() => { button.textContent = 'Copy'; }, 2000);
  });
  return button;
}

const field = (id, label, control) => h('div', { class: 'field' }, h('label', { for: id }, label), control);

/** The SDK snippet to paste, for the input's kind, with this server's URLs. */
export function snippet(input, secret) {
  const origin = location.origin, host = location.host;
  const s = secret ?? '<the secret shown when it was made>';
  switch (input.kind) {
    case 'web': return `mParticle.init('${input.key}', {
  isDevelopmentMode: ${input.environment === 'development'},
  v3SecureServiceUrl: '${host}/v3/JS/', identityUrl: '${host}/v1/',
  aliasUrl: '${host}/v1/identity/', configUrl: '${host}/JS/v2/',
});`;
    case 'ios': return `let options = MParticleOptions(key: "${input.key}", secret: "${s}")
let network = MPNetworkOptions()
network.customBaseURL = "${origin}"
options.networkOptions = network
MParticle.sharedInstance().start(with: options)`;
    case 'android': return `val options = MParticleOptions.builder(context)
    .credentials("${input.key}", "${s}")
    .networkOptions(NetworkOptions.builder().setCustomBaseURL("${origin}").build())
    .build()
MParticle.start(options)`;
    default: return `curl -u '${input.key}:${s}' -H 'content-type: application/json' ${origin}/v2/events -d '{
  "environment": "${input.environment}", "user_identities": { "customerid": "c-1" },
  "events": [ { "event_type": "custom_event", "data": { "event_name": "Signed Up", "custom_event_type": "other" } } ] }'`;
  }
}

export async function setupPage(main) {
  document.title = 'Setup · EventProfiles';
  const status = h('p', { class: 'visually-hidden', role: 'status', id: 'setup-status' });
  const regions = {
    workspaces: h('section', { class: 'card', 'aria-labelledby': 'setup-workspaces' }),
    inputs: h('section', { class: 'card', 'aria-labelledby': 'setup-inputs' }),
    clients: h('section', { class: 'card', 'aria-labelledby': 'setup-clients' }),
    users: h('section', { class: 'card', 'aria-labelledby': 'setup-users' }),
    identity: h('section', { class: 'card', 'aria-labelledby': 'setup-identity' }),
  };
  const revealed = h('div', { id: 'setup-revealed' });
  show(main, h('h1', {}, 'Setup'),
    h('p', { class: 'muted' }, 'Workspaces, inputs and their keys, API clients, admin users and identity settings. Changes apply on every node within seconds.'),
    status, revealed, regions.workspaces, regions.inputs, regions.clients, regions.users, regions.identity);

  let workspaces = [];
  const say = (text) => { status.textContent = text; };

  /** Runs an admin call from a control; its error is shown next to the control's form. */
  async function act(where, work, done) {
    where.querySelector(':scope > .error')?.remove();
    try { const result = await work(); await reload(); say(done); return result; }
    catch (error) { where.append(failure(error)); return null; }
  }

  /** A secret (and key) shown once, with copy buttons and the SDK snippet. */
  function reveal(title, entries, input, secret) {
    const code = input ? snippet(input, secret) : null;
    show(revealed, h('div', { class: 'card notice', role: 'alert', id: 'setup-secret' },
      h('h2', {}, title),
      h('p', {}, 'Copy it now: the secret is never shown again.'),
      h('dl', { class: 'facts' }, entries.map(([label, value]) => [h('dt', {}, label),
        h('dd', {}, h('code', { class: 'secret' }, value), ' ', copyButton(value, label))])),
      code && [h('h3', {}, `SDK snippet (${input.kind})`), h('pre', { class: 'snippet' }, code), copyButton(code, 'SDK snippet')],
      h('button', { type: 'button', class: 'secondary', onclick: () => revealed.replaceChildren() }, 'Done, hide it')));
    revealed.querySelector('button')?.focus();
  }

  async function reload() {
    const [ws, inputs, clients] = await Promise.all([call('GET', '/api/admin/workspaces'), call('GET', '/api/admin/inputs'), call('GET', '/api/admin/api-clients')]);
    workspaces = ws;
    renderWorkspaces();
    renderInputs(inputs);
    renderClients(clients);
    await renderUsers();
    await renderIdentity();
  }

  const workspaceName = (id) => workspaces.find(w => w.id === id)?.name ?? `#${id}`;
  const workspaceOptions = (id) => workspaces.map(w => h('option', { value: w.id }, `${w.name} (${w.id})`));

  function renderWorkspaces() {
    const name = h('input', { id: 'new-workspace-name', name: 'name', required: true, maxlength: 200 });
    const form = h('form', { class: 'inline', 'aria-label': 'New workspace', onsubmit: async (event) => {
      event.preventDefault();
      await act(form, () => call('POST', '/api/admin/workspaces', { name: name.value.trim() }), `Workspace ${name.value} created.`);
    } }, field('new-workspace-name', 'New workspace', name), h('button', { type: 'submit' }, 'Create workspace'));
    show(regions.workspaces, h('h2', { id: 'setup-workspaces' }, 'Workspaces'),
      workspaces.length ? h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Id'), h('th', {}, 'Name'), h('th', {}, 'Account'), h('th', {}, 'Created'))),
        h('tbody', {}, workspaces.map(w => h('tr', {}, h('td', {}, w.id), h('td', {}, w.name), h('td', {}, w.account_id), h('td', {}, time(w.created_at))))))
        : empty('No workspaces yet.'),
      form);
  }

  function renderInputs(inputs) {
    const name = h('input', { id: 'new-input-name', name: 'name', required: true, pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]{0,99}' });
    const workspace = h('select', { id: 'new-input-workspace', name: 'workspace_id' }, workspaceOptions());
    const kind = h('select', { id: 'new-input-kind', name: 'kind' }, ['web', 'ios', 'android', 'server'].map(k => h('option', { value: k }, k)));
    const environment = h('select', { id: 'new-input-environment', name: 'environment' },
      ['development', 'production'].map(e => h('option', { value: e }, e)));
    const form = h('form', { class: 'inline', 'aria-label': 'New input', onsubmit: async (event) => {
      event.preventDefault();
      const created = await act(form, () => call('POST', '/api/admin/inputs',
        { name: name.value.trim(), workspace_id: Number(workspace.value), kind: kind.value, environment: environment.value }), `Input ${name.value} created.`);
      if (created) reveal(`Input ${created.name} created`, [['Key', created.key], ['Secret', created.secret]], created, created.secret);
    } }, field('new-input-name', 'Name', name), field('new-input-workspace', 'Workspace', workspace), field('new-input-kind', 'Kind', kind),
      field('new-input-environment', 'Environment', environment), h('button', { type: 'submit' }, 'Create input'));

    const rows = inputs.map(input => {
      const cell = h('td', {});
      const secrets = input.secrets.map(secret => h('li', {}, h('span', { class: 'mono' }, secret.id), ' ', time(secret.created_at), ' ',
        h('button', { type: 'button', class: 'secondary small', 'aria-label': `Revoke secret ${secret.id} of ${input.name}`, onclick: () =>
          act(cell, () => call('DELETE', `/api/admin/inputs/${encodeURIComponent(input.name)}/secrets/${secret.id}`), `Secret ${secret.id} revoked.`) }, 'Revoke')));
      cell.append(h('ul', { class: 'plain' }, secrets),
        h('button', { type: 'button', class: 'secondary small', 'aria-label': `Add a secret to ${input.name} (rotate)`, disabled: input.disabled, onclick: async () => {
          const added = await act(cell, () => call('POST', `/api/admin/inputs/${encodeURIComponent(input.name)}/secrets`), `A second secret was added to ${input.name}.`);
          if (added) reveal(`New secret of ${input.name}`, [['Secret', added.secret]], input, added.secret);
        } }, 'Add secret'));
      const details = h('details', {}, h('summary', {}, 'SDK snippet'), h('pre', { class: 'snippet' }, snippet(input)), copyButton(snippet(input), `SDK snippet of ${input.name}`));
      return h('tr', { 'data-input': input.name },
        h('td', {}, h('strong', {}, input.name), input.disabled ? [' ', h('span', { class: 'badge no' }, 'disabled')] : null),
        h('td', {}, workspaceName(input.workspace_id)), h('td', {}, input.kind), h('td', {}, input.environment),
        h('td', { class: 'value' }, h('code', {}, input.key), ' ', copyButton(input.key, `key of ${input.name}`), details),
        cell,
        h('td', {}, input.disabled ? '' : h('button', { type: 'button', class: 'secondary small', 'aria-label': `Disable ${input.name}`, onclick: () => {
          if (confirm(`Disable ${input.name}? Its key is refused from now on.`))
            act(cell, () => call('DELETE', `/api/admin/inputs/${encodeURIComponent(input.name)}`), `${input.name} disabled.`);
        } }, 'Disable')));
    });
    show(regions.inputs, h('h2', { id: 'setup-inputs' }, 'Inputs and keys'),
      h('p', { class: 'muted' }, 'Rotate a secret without downtime: add a secret, move your clients to it, then revoke the old one.'),
      rows.length ? h('table', { id: 'inputs-table' }, h('thead', {}, h('tr', {}, ['Name', 'Workspace', 'Kind', 'Environment', 'Key', 'Secrets', 'Actions'].map(t => h('th', {}, t)))),
        h('tbody', {}, rows)) : empty('No inputs yet.'),
      h('h3', {}, 'New input'), form);
  }

  const checkboxes = (prefix, values, label) => h('fieldset', { class: 'checks' }, h('legend', {}, label),
    values.map(([value, text]) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name: prefix, value }), ` ${text}`)));
  const checked = (form, name) => [...form.querySelectorAll(`input[name="${name}"]:checked`)].map(i => i.value);

  function renderClients(clients) {
    const id = h('input', { id: 'new-client-id', name: 'client_id', placeholder: 'made by the server' });
    const form = h('form', { class: 'inline', 'aria-label': 'New API client', onsubmit: async (event) => {
      event.preventDefault();
      const created = await act(form, () => call('POST', '/api/admin/api-clients', {
        client_id: id.value.trim() || undefined, workspaces: checked(form, 'client-workspace').map(Number), scopes: checked(form, 'client-scope') }), 'API client created.');
      if (created) reveal(`API client ${created.client_id} created`, [['Client id', created.client_id], ['Client secret', created.client_secret]]);
    } }, field('new-client-id', 'Client id', id),
      checkboxes('client-workspace', workspaces.map(w => [w.id, w.name]), 'Workspaces'), checkboxes('client-scope', scopes.map(s => [s, s]), 'Scopes'),
      h('button', { type: 'submit' }, 'Create client'));
    const rows = clients.map(client => {
      const cell = h('td', {});
      cell.append(h('ul', { class: 'plain' }, client.secrets.map(secret => h('li', {}, h('span', { class: 'mono' }, secret.id), ' ', time(secret.created_at), ' ',
        h('button', { type: 'button', class: 'secondary small', 'aria-label': `Revoke secret ${secret.id} of ${client.client_id}`, onclick: () =>
          act(cell, () => call('DELETE', `/api/admin/api-clients/${encodeURIComponent(client.client_id)}/secrets/${secret.id}`), 'Secret revoked.') }, 'Revoke')))),
        h('button', { type: 'button', class: 'secondary small', 'aria-label': `Add a secret to ${client.client_id} (rotate)`, onclick: async () => {
          const added = await act(cell, () => call('POST', `/api/admin/api-clients/${encodeURIComponent(client.client_id)}/secrets`), 'A second secret was added.');
          if (added) reveal(`New secret of ${client.client_id}`, [['Client secret', added.secret]]);
        } }, 'Add secret'));
      return h('tr', {}, h('td', { class: 'mono' }, client.client_id), h('td', {}, client.workspaces.map(workspaceName).join(', ')),
        h('td', {}, h('ul', { class: 'plain' }, client.scopes.map(s => h('li', {}, s)))), cell,
        h('td', {}, h('button', { type: 'button', class: 'secondary small', 'aria-label': `Delete ${client.client_id}`, onclick: () => {
          if (confirm(`Delete ${client.client_id}? Its tokens stop working at once.`))
            act(cell, () => call('DELETE', `/api/admin/api-clients/${encodeURIComponent(client.client_id)}`), 'Client deleted.');
        } }, 'Delete')));
    });
    show(regions.clients, h('h2', { id: 'setup-clients' }, 'API clients (Profile and Platform API)'),
      rows.length ? h('table', {}, h('thead', {}, h('tr', {}, ['Client id', 'Workspaces', 'Scopes', 'Secrets', 'Actions'].map(t => h('th', {}, t)))), h('tbody', {}, rows))
        : empty('No API clients yet.'),
      h('h3', {}, 'New API client'), form);
  }

  async function renderUsers() {
    let users;
    try { users = await call('GET', '/api/admin/users'); }
    catch (error) {
      if (error.status !== 403) throw error;
      show(regions.users, h('h2', { id: 'setup-users' }, 'Admin users'), empty('Only admins of every workspace manage users.'));
      return;
    }
    const name = h('input', { id: 'new-user-name', name: 'name', required: true, autocomplete: 'off' });
    const password = h('input', { id: 'new-user-password', name: 'password', type: 'password', required: true, minlength: 12, autocomplete: 'new-password' });
    const form = h('form', { class: 'inline', 'aria-label': 'New admin user', onsubmit: async (event) => {
      event.preventDefault();
      await act(form, () => call('POST', '/api/admin/users', { name: name.value.trim(), password: password.value, workspaces: checked(form, 'user-workspace').map(Number) }),
        `User ${name.value} created.`);
    } }, field('new-user-name', 'Name', name), field('new-user-password', 'Password (12+ characters)', password),
      checkboxes('user-workspace', workspaces.map(w => [w.id, w.name]), 'Workspaces (none: every workspace)'), h('button', { type: 'submit' }, 'Create user'));
    const rows = users.map(user => {
      const cell = h('td', {});
      cell.append(h('button', { type: 'button', class: 'secondary small', 'aria-label': `Delete user ${user.name}`, onclick: () => {
        if (confirm(`Delete ${user.name}?`)) act(cell, () => call('DELETE', `/api/admin/users/${encodeURIComponent(user.name)}`), `${user.name} deleted.`);
      } }, 'Delete'));
      return h('tr', {}, h('td', {}, user.name), h('td', {}, user.every_workspace ? 'every workspace' : user.workspaces.map(workspaceName).join(', ')),
        h('td', {}, time(user.created_at)), cell);
    });
    show(regions.users, h('h2', { id: 'setup-users' }, 'Admin users'),
      h('table', {}, h('thead', {}, h('tr', {}, ['Name', 'Workspaces', 'Created', 'Actions'].map(t => h('th', {}, t)))), h('tbody', {}, rows)),
      h('h3', {}, 'New admin user'), form);
  }

  async function renderIdentity() {
    const { stored, running } = await call('GET', '/api/admin/identity-settings');
    const strategy = h('select', { id: 'identity-strategy', name: 'strategy' },
      ['profile_conversion', 'profile_link', 'profile_isolation'].map(s => h('option', { value: s, selected: s === stored.strategy }, s.replace('_', ' '))));
    const immutable = h('input', { id: 'identity-immutable', name: 'immutable', value: stored.immutable, required: true });
    const login = h('input', { id: 'identity-login', name: 'login', value: stored.login.join(', ') });
    const unique = h('input', { id: 'identity-unique', name: 'unique', value: stored.unique.join(', ') });
    const ignored = h('textarea', { id: 'identity-ignored', name: 'ignored_values', rows: 3 });
    ignored.value = stored.ignored_values.join('\n');
    const zeros = h('input', { id: 'identity-zeros', name: 'ignore_all_zero_values', type: 'checkbox', checked: stored.ignore_all_zero_values });
    const list = (text) => text.split(',').map(t => t.trim()).filter(Boolean);
    // The merge guards (docs/identity.md, "Merge guards"): a link that looks like damage is held for an operator; 0 turns a rule off.
    const guards = stored.merge_guards;
    const limit = (id, name, value) => h('input', { id, name, type: 'number', min: 0, step: 1, required: true, value: String(value), 'aria-describedby': `${id}-hint` });
    const guardField = (id, label, control, hint) => h('div', { class: 'field' }, h('label', { for: id }, label), control, h('p', { class: 'hint', id: `${id}-hint` }, hint));
    const peoplePerValue = limit('identity-guard-people', 'people_per_value', guards.people_per_value);
    const perTypePerDay = limit('identity-guard-per-day', 'identities_per_type_per_day', guards.identities_per_type_per_day);
    const devicesPerHour = limit('identity-guard-devices', 'devices_per_hour', guards.devices_per_hour);
    const number = (input) => Number.parseInt(input.value, 10);
    const form = h('form', { class: 'stacked', 'aria-label': 'Identity settings', onsubmit: async (event) => {
      event.preventDefault();
      await act(form, () => call('PUT', '/api/admin/identity-settings', {
        strategy: strategy.value, immutable: immutable.value.trim(), login: list(login.value), unique: list(unique.value),
        ignored_values: ignored.value.split('\n').map(v => v.trim()).filter(v => v.length), ignore_all_zero_values: zeros.checked,
        merge_guards: { people_per_value: number(peoplePerValue), identities_per_type_per_day: number(perTypePerDay), devices_per_hour: number(devicesPerHour) } }),
        'Identity settings saved: every node resolves by them within seconds.');
    } },
      field('identity-strategy', 'Strategy', strategy), field('identity-immutable', 'Immutable identity type (Profile API look-ups)', immutable),
      field('identity-login', 'Login identity types (comma-separated)', login), field('identity-unique', 'Unique identity types (comma-separated)', unique),
      field('identity-ignored', 'Placeholder values never matched (one per line)', ignored),
      h('label', { class: 'check' }, zeros, ' Also ignore all-zero device ids'),
      h('fieldset', { class: 'criterion' }, h('legend', {}, 'Merge guards (0 turns a rule off)'),
        h('p', { class: 'hint' }, 'A link that looks like damage is held instead of made: the batch is stored, the person is flagged and an operator accepts the link on the Search page.'),
        guardField('identity-guard-people', 'Identity value linked to more than N people', peoplePerValue,
          'A value of a type that is not unique (a shared kiosk device, a test value) already held by more than this many people is linked to no one else.'),
        guardField('identity-guard-per-day', 'Identities of one type per person per day', perTypePerDay,
          'A person gains at most this many identities of one type within a day (a list of emails sent under one id is held beyond it).'),
        guardField('identity-guard-devices', 'Devices per value per hour', devicesPerHour,
          'One person (one email or customer id) is seen on at most this many new devices within an hour; further devices are held.')),
      h('button', { type: 'submit' }, 'Save identity settings'));
    const pending = JSON.stringify(stored) !== JSON.stringify(running);
    show(regions.identity, h('h2', { id: 'setup-identity' }, 'Identity settings'),
      h('p', { class: pending ? 'notice' : 'muted' }, pending
        ? 'Saved settings differ from those this node runs with: it reads them within a second or two.'
        : 'A change applies on every node within seconds, to resolutions from then on: people already resolved are not merged or split by it.'),
      form);
  }

  try { await reload(); }
  catch (error) { show(main, h('h1', {}, 'Setup'), failure(error)); }
}
