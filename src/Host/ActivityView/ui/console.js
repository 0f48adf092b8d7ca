// Helpers the console's builder pages share (Audiences, Calculated attributes): sending JSON with any method, showing
// an API refusal field by field, labelled form fields, and polling while something runs.
import { ApiError, h } from './dom.js';

/** Sends JSON (POST, PUT, DELETE) to a console endpoint; same session rules as api(). Answers the parsed body, or null. */
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
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new ApiError(response.status, answer?.detail || answer?.title || `The server answered ${response.status}.`);
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
