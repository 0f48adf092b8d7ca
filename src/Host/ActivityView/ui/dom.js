// Shared helpers of the User Activity View: building DOM safely (text is never parsed as HTML), calling the data API,
// formatting dates and values.

/** Creates an element: h('a', { href: '/x', class: 'y' }, 'text', child, [more]). Text is always set as text. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name === 'class') element.className = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Thrown for API answers that are not 2xx; carries the ProblemDetails text. */
export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

/** GET a UI data endpoint. No session (401): back to the sign-in page, then back here. */
export async function api(path, params = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '' && v !== null && v !== undefined));
  const url = query.size ? `${path}?${query}` : path;
  const response = await fetch(url, { headers: { accept: 'application/json' }, credentials: 'same-origin' });
  if (response.status === 401) {
    location.assign(`/ui/sign-in?returnUrl=${encodeURIComponent(location.pathname + location.search)}`);
    throw new ApiError(401, 'Your session has expired: signing in again…');
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body?.detail || body?.title || `The server answered ${response.status}.`);
  return body;
}

/** POST JSON to a UI data endpoint (same session rules as api()). */
export async function apiPost(path, body) {
  const response = await fetch(path, {
    method: 'POST', headers: { accept: 'application/json', 'content-type': 'application/json' }, credentials: 'same-origin', body: JSON.stringify(body),
  });
  if (response.status === 401) {
    location.assign(`/ui/sign-in?returnUrl=${encodeURIComponent(location.pathname + location.search)}`);
    throw new ApiError(401, 'Your session has expired: signing in again…');
  }
  const answer = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, answer?.detail || answer?.title || `The server answered ${response.status}.`);
  return answer;
}

export const formatDate = (iso) => iso ? new Date(iso).toLocaleDateString(undefined, { dateStyle: 'medium' }) : '—';
/** A moment, shown in the reader's time zone (to the minute, or to the second), with its exact UTC value on hover. */
export const time = (iso, { seconds = false, dateless = false } = {}) => iso
  ? h('time', { datetime: iso, title: iso }, dateless
      ? new Date(iso).toLocaleTimeString(undefined, { timeStyle: 'medium' })
      : new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: seconds ? 'medium' : 'short' }))
  : '—';

/** A JSON value for a table cell: strings as they are, everything else as compact JSON. */
export const formatValue = (value) => value === null || value === undefined ? '—' : typeof value === 'string' ? value : JSON.stringify(value);

export const badge = (text, kind = text) => h('span', { class: `badge ${kind}` }, text.replace('_', ' '));

export const loading = (what) => h('p', { class: 'loading', role: 'status' }, `Loading ${what}…`);
export const empty = (text) => h('p', { class: 'empty' }, text);
export const failure = (error) => h('p', { class: 'error', role: 'alert' }, error.message || String(error));

/** Replaces a region's content. */
export function show(region, ...children) {
  region.replaceChildren();
  append(region, children);
}

/** Moves within the application without reloading (links keep working as links). */
export function navigate(url) {
  history.pushState(null, '', url);
  window.dispatchEvent(new Event('ep:navigate'));
}

/** A link to a page of the application. */
export const link = (href, ...children) => h('a', { href, 'data-internal': true }, ...children);

/**
 * Indents JSON text without parsing it into JavaScript numbers, so 64-bit integers (MPIDs) stay exact.
 */
export function indentJson(text) {
  let out = '', depth = 0, inString = false;
  const newline = () => '\n' + '  '.repeat(depth);
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i];
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') { inString = true; out += c; }
    else if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      if (text[i + 1] === close) { out += c + close; i++; } else { depth++; out += c + newline(); }
    }
    else if (c === '}' || c === ']') { depth--; out += newline() + c; }
    else if (c === ',') out += ',' + newline();
    else if (c === ':') out += ': ';
    else if (c.trim()) out += c;
  }
  return out;
}
