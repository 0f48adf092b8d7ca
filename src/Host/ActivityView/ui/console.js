// Helpers every console page shares: the one way to send JSON to the server (the builders, Setup, Connections and
// Privacy all call it), showing an API refusal field by field, labelled form fields, polling while something runs, and
// names suggested from the workspace's catalog.
import { ApiError, api, h } from './dom.js';

/**
 * Sends JSON (POST, PUT, DELETE) to a console or admin endpoint; same session rules as api(). Answers the parsed body,
 * or null. A refusal's message names its fields and reasons (pages that show error.message say what to fix); the
 * fields and the title are kept too, for problem().
 */
export async function send(method, path, body) {
  const response = await fetch(path, {
    method, credentials: 'same-origin',
    headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    location.assign(`/ui/sign-in?returnUrl=${encodeURIComponent(location.pathname + location.search)}`);
    throw new ApiError(401, 'Your session has expired: signing in again…');
  }
  const answer = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const fields = Array.isArray(answer?.errors) ? answer.errors.map(e => `${e.field}: ${e.message}`).join(' ') : '';
    const error = new ApiError(response.status, fields || answer?.detail || answer?.title || `The server answered ${response.status}.`);
    error.fields = answer?.errors ?? answer?.extensions?.errors ?? null;
    error.title = answer?.title ?? null;
    throw error;
  }
  return answer;
}

/** An API refusal as an alert: the summary, then each field and its reason. */
export function problem(error) {
  const fields = fieldErrors(error);
  return h('div', { class: 'error', role: 'alert' },
    h('p', {}, fields.length && error.title ? `${error.title}:` : error.message || String(error)),
    fields.length ? h('ul', {}, fields.map(([field, reason]) => h('li', {}, h('code', {}, field), ': ', reason))) : null);
}

function fieldErrors(error) {
  const errors = error?.fields;
  if (!errors) return [];
  if (Array.isArray(errors)) return errors.map(e => [e.field ?? e.name ?? '', e.message ?? e.reason ?? JSON.stringify(e)]);
  return Object.entries(errors).flatMap(([field, reasons]) => (Array.isArray(reasons) ? reasons : [reasons]).map(r => [field, String(r)]));
}

/** A label and its control, side by side in an inline form; the control gets the id the label points at. */
export function field(id, label, control, hint) {
  control.id = id;
  if (hint) control.setAttribute('aria-describedby', `${id}-hint`);
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hint ? h('span', { class: 'hint', id: `${id}-hint` }, hint) : null);
}

export const select = (options, value) => h('select', {}, options.map(o => {
  const [v, text, disabledBecause] = Array.isArray(o) ? o : [o, o.replaceAll('_', ' ')];
  return h('option', { value: v, selected: String(v) === String(value ?? ''), disabled: Boolean(disabledBecause), title: disabledBecause || null },
    disabledBecause ? `${text} (${disabledBecause})` : text);
}));

/** Calls step every interval until it answers false or the page is left; answers the function that stops it. */
export function poll(step, interval = 1500) {
  let stopped = false, timer = null;
  const run = async () => {
    if (stopped) return;
    let again = false;
    try { again = await step(); } catch { again = true; }
    if (again && !stopped) timer = setTimeout(run, interval);
  };
  timer = setTimeout(run, interval);
  return () => { stopped = true; clearTimeout(timer); };
}

/** A progress bar with its text (percent), for jobs that report progress. */
export const progress = (percent, label) => h('span', { class: 'progress' },
  h('progress', { max: 100, value: percent, 'aria-label': label }), ` ${percent}%`);

/**
 * Suggests names from the workspace's catalog (GET /api/admin/workspaces/{id}/catalog) in a datalist for a text
 * control, as the user focuses it and types. lookup() answers { workspaceId, kind, eventType } at that moment, so the
 * suggestions follow the workspace and event type picked in the form. Answers the datalist to place beside the control.
 */
export function catalogSuggestions(control, listId, lookup) {
  const list = h('datalist', { id: listId });
  control.setAttribute('list', listId);
  let asked = null;
  const fill = async () => {
    const { workspaceId, kind, eventType = null } = lookup();
    if (!workspaceId) return;
    const key = JSON.stringify([workspaceId, kind, eventType, control.value]);
    if (key === asked) return;
    asked = key;
    try {
      const found = await api(`/api/admin/workspaces/${workspaceId}/catalog`, { kind, q: control.value, size: 50 });
      if (asked !== key) return; // a later keystroke asked again
      const names = [...new Set(found.items.filter(i => !eventType || i.event_type === eventType).map(i => i.name))];
      list.replaceChildren(...names.map(name => h('option', { value: name })));
    } catch { /* suggestions are a convenience: typing still works */ }
  };
  control.addEventListener('focus', fill);
  control.addEventListener('input', fill);
  return list;
}
