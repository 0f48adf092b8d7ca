// Audiences: the list (status, size, 24-hour changes, connected outputs), the builder (every criterion kind of the
// model, joined by and / or / exclude, with a size estimate before saving), and one audience's page (activate or
// deactivate, connect outputs, send a standard audience, download members, "why (not) a member").
import { api, badge, empty, failure, h, link, loading, navigate, show, time } from './dom.js';
import { catalogSuggestions, field, poll, problem, progress, select, send } from './console.js';

const kindLabels = {
  event: 'Event', user_attribute: 'User attribute', user_attribute_list: 'User attribute list', calculated_attribute: 'Calculated attribute',
  identity: 'Identity', consent: 'Consent', first_seen: 'First seen', device: 'Device', audience_membership: 'Audience membership',
};
const joinLabels = { and: 'and', or: 'or', exclude: 'exclude (and not)' };
export const operatorLabels = {
  exists: 'exists', not_exists: 'does not exist', empty: 'is empty', equals: 'equals', not_equals: 'does not equal', contains: 'contains',
  not_contains: 'does not contain', pattern: 'matches pattern (* ?)', in_list: 'is one of', greater_than: 'greater than',
  greater_or_equal: 'at least', less_than: 'less than', less_than_or_equal: 'at most', between: 'between', before: 'before', after: 'after',
  on: 'on', within_last_days: 'within the last … days', includes: 'includes', does_not_include: 'does not include', partial_match: 'partially matches',
  between_dates: 'between dates',
};
const frequencyLabels = { greater_than: 'more than', greater_or_equal: 'at least', less_than: 'fewer than', less_than_or_equal: 'at most', equals: 'exactly' };
const deviceFields = ['platform', 'os_version', 'device_model', 'device_manufacturer', 'brand', 'locale_country', 'locale_language'];

// ---- the list

export async function audiencesPage(main) {
  document.title = 'Audiences · EventProfiles';
  show(main, h('h1', {}, 'Audiences'), loading('audiences'));
  const list = await api('/ui/api/audiences');
  show(main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Audiences'), link('/ui/audiences/new', 'New audience')),
    h('p', { class: 'muted' }, 'Real-time audiences are evaluated continuously and send add/remove messages to their outputs; standard audiences are calculated once over a date range.'),
    h('section', { class: 'card', 'aria-label': 'All audiences' },
      list.audiences.length === 0 ? empty('No audiences yet: build one with “New audience”.') : h('table', {},
        h('thead', {}, h('tr', {}, ['Name', 'Type', 'Status', 'Size', 'Added (24 h)', 'Dropped (24 h)', 'Outputs', 'Workspaces'].map(t => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, list.audiences.map(a => h('tr', {},
          h('td', {}, link(`/ui/audiences/${a.id}`, a.name)),
          h('td', {}, a.audience_type === 'standard' ? 'standard' : 'real-time'),
          h('td', {}, statusBadge(a.status), a.calculation && !a.calculation.finished_on ? [' ', progress(a.calculation.percent, `Calculation of ${a.name}`)] : null),
          h('td', { class: 'num' }, a.size),
          h('td', { class: 'num' }, `+${a.added_last_24_hours}`),
          h('td', { class: 'num' }, `−${a.dropped_last_24_hours}`),
          h('td', {}, a.connected_outputs.length ? a.connected_outputs.map(o => o.configurations[0]?.name ?? o.provider_name).join(', ') : '—'),
          h('td', {}, a.workspaces.map(w => w.name).join(', '))))))));
}

export const statusBadge = (status) => badge(status, { active: 'ready', ready: 'ready', calculating: 'calculating', draft: 'draft', inactive: 'inactive', expired: 'inactive' }[status] ?? status);

// ---- the builder

/** The builder: a new audience, or (given an id) an existing one opened with its definition filled in. */
export async function audienceBuilderPage(main, id = null) {
  const title = id ? 'Edit audience' : 'New audience';
  document.title = `${title} · EventProfiles`;
  show(main, h('h1', {}, title), loading('the builder'));
  const [model, existing] = await Promise.all([api('/ui/api/audiences/builder'), id ? api(`/ui/api/audiences/${id}`).then(v => v.audience) : null]);
  const state = existing ? {
    name: existing.name, type: existing.audience_type, workspaces: existing.workspaces.map(w => w.id),
    from: existing.date_range?.from ?? '', to: existing.date_range?.to ?? '',
    criteria: existing.criteria.length ? existing.criteria.map(c => fromApi(c, model)) : [newCriterion(model)],
  } : {
    name: '', type: 'real_time', workspaces: model.workspaces.length ? [model.workspaces[0].id] : [], from: '', to: '',
    criteria: [newCriterion(model)],
  };
  // An evaluated real-time audience whose criteria change is a new version: everyone is evaluated again.
  const evaluated = existing && existing.audience_type === 'real_time' && ['active', 'calculating'].includes(existing.status);
  const criteriaList = h('div', { class: 'criteria' });
  const errors = h('div', { 'aria-live': 'assertive' });
  const estimate = h('div', { class: 'estimate', role: 'status', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'No estimate yet.'));
  const rangeNote = h('p', { class: 'muted', id: 'data-range' });
  const dates = h('div', { class: 'inline-fields' });
  let stopEstimate = () => {};

  const name = h('input', { required: true, maxlength: 100, autocomplete: 'off', value: state.name });
  name.addEventListener('input', () => { state.name = name.value; });
  const type = select([['real_time', 'Real-time (evaluated continuously)'], ['standard', 'Standard (calculated once over a date range)']], state.type);
  if (existing) type.disabled = true; // the type cannot change: create another audience
  type.addEventListener('change', () => { state.type = type.value; renderRange(); renderCriteria(); });
  const workspaceBoxes = h('fieldset', { class: 'checks' }, h('legend', {}, 'Workspaces'),
    model.workspaces.map(w => {
      const box = h('input', { type: 'checkbox', id: `ws-${w.id}`, value: w.id, checked: state.workspaces.includes(w.id) });
      box.addEventListener('change', () => {
        state.workspaces = model.workspaces.filter(x => document.getElementById(`ws-${x.id}`).checked).map(x => x.id);
        renderCriteria();
      });
      return h('label', { class: 'check', for: `ws-${w.id}` }, box, ` ${w.name}`);
    }));

  function renderRange() {
    const standard = state.type === 'standard';
    rangeNote.textContent = standard
      ? 'Data range: the stored events of the days below (empty: all retained data); profile criteria read each person’s profile as it is when the audience is calculated.'
      : `Data range: event criteria read event data of the last ${model.data_range.event_data_days} days (the real-time lookback); profile criteria and what the audience keeps read profile data, kept for ${model.data_range.profile_data_days} days after a person’s last activity${model.data_range.lifetime_profiles ? ' (Lifetime Profiles on)' : ''}.`;
    const from = h('input', { type: 'date', value: state.from });
    from.addEventListener('change', () => { state.from = from.value; });
    const to = h('input', { type: 'date', value: state.to });
    to.addEventListener('change', () => { state.to = to.value; });
    show(dates, standard ? [field('range-from', 'From (UTC day)', from), field('range-to', 'To (UTC day)', to)] : null);
  }

  function renderCriteria(focusId) {
    show(criteriaList, state.criteria.map((c, i) => criterionBlock(model, state, i, renderCriteria)));
    if (focusId) document.getElementById(focusId)?.focus();
  }

  const body = () => ({
    name: state.name.trim(), workspaces: state.workspaces, audience_type: existing ? null : state.type,
    date_range: state.type === 'standard' && (state.from || state.to) ? { from: state.from || null, to: state.to || null } : null,
    criteria: state.criteria.map((c, i) => toApi(c, i)),
  });

  async function runEstimate() {
    stopEstimate();
    show(errors);
    show(estimate, loading('the estimate'));
    try {
      const started = await send('POST', '/ui/api/audiences/estimates', body());
      const render = (e) => show(estimate, e.status === 'finished'
        ? h('p', { class: 'notice' }, h('strong', {}, `Estimated size: ${e.size} ${e.size === 1 ? 'person' : 'people'}`),
            ` of ${e.people_total} evaluated (${e.events_read} events read, ${describeRange(e)}).`)
        : h('p', {}, 'Estimating… ', progress(e.percent, 'Estimate progress'), ` ${e.people_done} of ${e.people_total || '?'} people, ${e.matched_so_far} match so far.`));
      render(started);
      stopEstimate = poll(async () => {
        const e = await api(`/ui/api/audiences/estimates/${started.id}`);
        render(e);
        return e.status !== 'finished';
      }, 700);
    } catch (error) {
      show(estimate, h('p', { class: 'muted' }, 'No estimate: fix the definition first.'));
      show(errors, problem(error));
    }
  }

  const form = h('form', { class: 'builder', 'aria-label': 'Audience builder', novalidate: true, onsubmit: async (event) => {
      event.preventDefault();
      show(errors);
      try {
        if (existing) {
          await send('PUT', `/ui/api/audiences/${id}`, body());
          navigate(`/ui/audiences/${id}`);
          return;
        }
        const created = await send('POST', '/ui/api/audiences', body());
        navigate(`/ui/audiences/${created.id}`);
      } catch (error) {
        show(errors, problem(error));
        errors.querySelector('[role=alert]')?.focus?.();
      }
    } },
    h('section', { class: 'card', 'aria-labelledby': 'about-title' },
      h('h2', { id: 'about-title' }, 'Audience'),
      h('div', { class: 'inline-fields' }, field('audience-name', 'Name', name), field('audience-type', 'Type', type, existing ? 'cannot change' : null)),
      workspaceBoxes, rangeNote, dates),
    h('section', { class: 'card', 'aria-labelledby': 'criteria-title' },
      h('h2', { id: 'criteria-title' }, 'Criteria'),
      h('p', { class: 'muted' }, 'Evaluated left to right: each criterion joins the result so far with and, or, or exclude (the result so far, and not this).'),
      criteriaList,
      h('button', { type: 'button', class: 'secondary', onclick: () => {
        state.criteria.push(newCriterion(model, 'and'));
        renderCriteria(`c${state.criteria.length - 1}-kind`);
      } }, 'Add criterion')),
    h('section', { class: 'card', 'aria-labelledby': 'estimate-title' },
      h('h2', { id: 'estimate-title' }, 'Size estimate'),
      h('p', { class: 'muted' }, 'Evaluates everyone in the workspaces against this definition, as a calculation would, without storing any membership.'),
      estimate,
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'secondary', onclick: runEstimate }, 'Estimate size'),
        h('button', { type: 'submit' }, existing ? (evaluated ? 'Save as a new version' : 'Save changes') : 'Save as draft'),
        existing ? link(`/ui/audiences/${id}`, 'Cancel') : null),
      evaluated ? h('p', { class: 'hint', id: 'new-version-note' }, 'This audience is active: saving changed criteria or workspaces re-evaluates everyone. ' +
        'People the new definition no longer holds are removed (its outputs get a delete message), new ones are added, and those it still holds stay members without a message.') : null),
    errors);
  renderRange();
  renderCriteria();
  show(main, h('h1', {}, existing ? `Edit “${existing.name}”` : 'New audience'), form);
  name.focus();
  return () => stopEstimate();
}

const describeRange = (e) => e.audience_type === 'standard'
  ? (e.range.from || e.range.to ? `events from ${e.range.from ?? 'the start'} to ${e.range.to ?? 'today'}` : 'all retained events')
  : `events of the last ${e.range.event_data_days} days`;

function newCriterion(model, join = null) {
  return { join, kind: 'event', event_type: 'custom_event', event_name: '', custom_event_type: '', conditions: [],
    frequency_operator: 'greater_than', frequency_count: 0, recency: 'within', within_days: '', from_days_ago: '', to_days_ago: '',
    workspace_id: '', attribute_name: '', identity_type: model.identity_types[0], regulation: 'gdpr', purpose: '', consented: 'true',
    field: 'platform', audience_id: '', member: 'true', type: 'string', operator: 'equals', value: '', values: '', min_value: '', max_value: '' };
}

/** A stored criterion as the builder's form state (the inverse of toApi). */
function fromApi(c, model) {
  const text = (v) => (v === null || v === undefined ? '' : String(v));
  return {
    ...newCriterion(model, c.join ?? null),
    kind: c.kind, event_type: c.event_type ?? 'custom_event', event_name: text(c.event_name), custom_event_type: text(c.custom_event_type),
    conditions: (c.conditions ?? []).map(k => ({ attribute_name: text(k.attribute_name), type: k.type ?? 'string', operator: k.operator ?? 'equals',
      value: text(k.value), values: (k.values ?? []).join(', '), min_value: text(k.min_value), max_value: text(k.max_value) })),
    frequency_operator: c.frequency?.operator ?? 'greater_than', frequency_count: text(c.frequency?.count ?? 0),
    recency: c.recency && (c.recency.from_days_ago !== null && c.recency.from_days_ago !== undefined || c.recency.to_days_ago) ? 'between' : 'within',
    within_days: text(c.recency?.within_days), from_days_ago: text(c.recency?.from_days_ago), to_days_ago: text(c.recency?.to_days_ago),
    workspace_id: text(c.workspace_id), attribute_name: text(c.attribute_name), identity_type: c.identity_type ?? model.identity_types[0],
    regulation: c.regulation ?? 'gdpr', purpose: text(c.purpose), consented: String(c.consented ?? true), field: c.field ?? 'platform',
    audience_id: text(c.audience_id), member: String(c.member ?? true), type: c.type ?? 'string', operator: c.operator ?? 'equals',
    value: text(c.value), values: (c.values ?? []).join(', '), min_value: text(c.min_value), max_value: text(c.max_value),
  };
}

/** The criterion as the API's model has it: only the fields its kind reads. */
function toApi(c, index) {
  const out = { kind: c.kind };
  if (index > 0) out.join = c.join;
  const operand = () => {
    out.operator = c.operator;
    if (['exists', 'not_exists'].includes(c.operator)) return;
    if (c.operator === 'in_list') out.values = c.values.split(',').map(v => v.trim()).filter(Boolean);
    else if (c.operator === 'between') { out.min_value = c.min_value; out.max_value = c.max_value; }
    else out.value = c.value;
  };
  const ws = c.workspace_id ? Number(c.workspace_id) : undefined;
  switch (c.kind) {
    case 'event':
      Object.assign(out, { workspace_id: ws, event_type: c.event_type, event_name: c.event_name.trim() || null, custom_event_type: c.custom_event_type || null,
        conditions: c.conditions.map(conditionToApi),
        frequency: { operator: c.frequency_operator, count: Number(c.frequency_count || 0) } });
      if (c.recency === 'within' && c.within_days) out.recency = { within_days: Number(c.within_days) };
      if (c.recency === 'between' && (c.from_days_ago || c.to_days_ago)) out.recency = { from_days_ago: Number(c.from_days_ago), to_days_ago: Number(c.to_days_ago) };
      break;
    case 'user_attribute': case 'calculated_attribute':
      Object.assign(out, { workspace_id: ws, attribute_name: c.attribute_name.trim(), type: c.type }); operand(); break;
    case 'user_attribute_list':
      Object.assign(out, { workspace_id: ws, attribute_name: c.attribute_name.trim() }); operand(); break;
    case 'identity':
      Object.assign(out, { identity_type: c.identity_type }); operand(); break;
    case 'consent':
      Object.assign(out, { workspace_id: ws, regulation: c.regulation, purpose: c.regulation === 'gdpr' ? c.purpose.trim() : null, consented: c.consented === 'true' }); break;
    case 'first_seen':
      Object.assign(out, { workspace_id: ws }); operand(); break;
    case 'device':
      Object.assign(out, { workspace_id: ws, field: c.field.trim() }); operand(); break;
    case 'audience_membership':
      Object.assign(out, { audience_id: c.audience_id ? Number(c.audience_id) : null, member: c.member === 'true' }); break;
  }
  return out;
}

export function conditionToApi(k) {
  const out = { type: k.type, operator: k.operator, attribute_name: k.attribute_name.trim() };
  if (['exists', 'not_exists', 'empty'].includes(k.operator)) return out;
  if (k.operator === 'in_list') out.values = k.values.split(',').map(v => v.trim()).filter(Boolean);
  else if (['between', 'between_dates'].includes(k.operator)) { out.min_value = k.min_value; out.max_value = k.max_value; }
  else out.value = k.value;
  return out;
}

/** One criterion: a group of fields that changes with its kind (and, for values, with the operator). */
function criterionBlock(model, state, i, rerender) {
  const c = state.criteria[i];
  const id = (name) => `c${i}-${name}`;
  const standard = state.type === 'standard';
  // A workspace taken off the audience is no longer a criterion's workspace.
  if (c.workspace_id && !state.workspaces.includes(Number(c.workspace_id))) c.workspace_id = '';
  const bind = (control, key, { structural = false } = {}) => {
    control.addEventListener(control.tagName === 'SELECT' ? 'change' : 'input', () => {
      c[key] = control.value;
      if (structural) rerender(control.id);
    });
    return control;
  };
  const input = (key, attributes = {}) => bind(h('input', { value: c[key], autocomplete: 'off', ...attributes }), key);
  const choose = (key, options, structural = false) => bind(select(options, c[key]), key, { structural });

  // The workspace whose catalog suggests names: the criterion's own, else the audience's first.
  const criterionWorkspace = () => c.workspace_id || state.workspaces[0] || null;
  let userAttributes = null;
  const userAttribute = () => {
    const control = input('attribute_name');
    userAttributes = catalogSuggestions(control, id('attribute-names'), () => ({ workspaceId: criterionWorkspace(), kind: 'user_attribute' }));
    return control;
  };

  const fields = [];
  if (i > 0) fields.push(field(id('join'), 'Join', choose('join', Object.entries(joinLabels))));
  fields.push(field(id('kind'), 'Kind', choose('kind', model.kinds.map(k => [k, kindLabels[k] ?? k]), true)));
  // Profile criteria read one workspace's profile: the first of the audience's unless another is picked.
  const workspaceField = () => state.workspaces.length > 1
    ? field(id('workspace'), 'Profile of workspace', choose('workspace_id', [['', 'the first of the audience’s'],
        ...model.workspaces.filter(w => state.workspaces.includes(w.id)).map(w => [w.id, w.name])]))
    : null;

  switch (c.kind) {
    case 'event': {
      // Event names come from the catalog of the criterion's workspace, for the event type picked.
      const nameInput = input('event_name');
      const names = catalogSuggestions(nameInput, id('event-names'), () => ({ workspaceId: criterionWorkspace(),
        kind: c.event_type === 'screen_view' ? 'screen' : 'event', eventType: c.event_type === 'screen_view' ? null : c.event_type }));
      // An event criterion counts one workspace's events (the audience's first unless another is picked).
      if (state.workspaces.length > 1) fields.push(field(id('workspace'), 'Events of workspace', choose('workspace_id', [['', 'the first of the audience’s'],
        ...model.workspaces.filter(w => state.workspaces.includes(w.id)).map(w => [w.id, w.name])])));
      fields.push(field(id('event-type'), 'Event type', choose('event_type', model.event_types, true)),
        field(id('event-name'), 'Event name', nameInput,
          ['custom_event', 'screen_view'].includes(c.event_type) ? 'required for custom events and screen views' : 'optional'),
        names);
      if (c.event_type === 'custom_event') fields.push(field(id('custom-event-type'), 'Custom event type', input('custom_event_type', { placeholder: 'any' })));
      fields.push(field(id('frequency-operator'), 'How often', choose('frequency_operator', model.frequency_operators.map(o => [o, frequencyLabels[o] ?? o]))),
        field(id('frequency-count'), 'Times', input('frequency_count', { type: 'number', min: 0, step: 1 })));
      if (standard) {
        fields.push(h('p', { class: 'hint', id: id('recency-note') }, 'When: a standard audience counts the events of its whole date range (no recency).'));
      } else {
        fields.push(field(id('recency'), 'When', choose('recency', [['within', 'within the last … days'], ['between', 'between … and … days ago']], true)));
        const max = model.lookback_days;
        const hint = `at most ${max} days back (the real-time lookback)`;
        if (c.recency === 'within') fields.push(field(id('within-days'), 'Days', input('within_days', { type: 'number', min: 1, max, step: 1, placeholder: String(max) }), hint));
        else fields.push(field(id('from-days'), 'From days ago', input('from_days_ago', { type: 'number', min: 0, max: max - 1, step: 1 })),
          field(id('to-days'), 'To days ago', input('to_days_ago', { type: 'number', min: 1, max, step: 1 }), hint));
      }
      fields.push(conditionsBlock(model, c.conditions, id('cond'), (focus) => rerender(focus), criterionWorkspace));
      break;
    }
    case 'user_attribute': case 'calculated_attribute': {
      const attributes = c.kind === 'calculated_attribute'
        ? model.calculated_attributes.filter(a => state.workspaces.includes(a.workspace_id)) : [];
      fields.push(workspaceField(),
        c.kind === 'calculated_attribute' && attributes.length
          ? field(id('attribute'), 'Calculated attribute', choose('attribute_name', [['', 'choose…'], ...[...new Set(attributes.map(a => a.name))].map(n => [n, n])]))
          : field(id('attribute'), c.kind === 'calculated_attribute' ? 'Calculated attribute name' : 'Attribute name',
            c.kind === 'user_attribute' ? userAttribute() : input('attribute_name')),
        c.kind === 'user_attribute' ? userAttributes : null,
        field(id('type'), 'Value type', choose('type', Object.keys(model.operators_by_type), true)));
      fields.push(...operand(model.operators_by_type[c.type] ?? [], c.type));
      break;
    }
    case 'user_attribute_list':
      fields.push(workspaceField(), field(id('attribute'), 'Attribute name', userAttribute()), userAttributes, ...operand(model.operators_by_type.list, 'list'));
      break;
    case 'identity':
      fields.push(field(id('identity-type'), 'Identity type', choose('identity_type', model.identity_types)), ...operand(model.operators_by_type.string, 'string'));
      break;
    case 'consent':
      fields.push(workspaceField(), field(id('regulation'), 'Regulation', choose('regulation', [['gdpr', 'GDPR'], ['ccpa', 'CCPA']], true)));
      if (c.regulation === 'gdpr') fields.push(field(id('purpose'), 'Purpose', input('purpose', { placeholder: 'e.g. marketing' })));
      else fields.push(h('p', { class: 'hint' }, 'CCPA has one purpose: data sale opt-out.'));
      fields.push(field(id('consented'), 'State', choose('consented', [['true', 'consented'], ['false', 'not consented']])));
      break;
    case 'first_seen':
      fields.push(workspaceField(), ...operand(model.operators_by_type.date, 'date'));
      break;
    case 'device': {
      const list = h('datalist', { id: id('device-fields') }, deviceFields.map(f => h('option', { value: f })));
      fields.push(workspaceField(), field(id('field'), 'Device field', input('field', { list: id('device-fields') })), list, ...operand(model.operators_by_type.string, 'string'));
      break;
    }
    case 'audience_membership': {
      // One level of nesting, audiences sharing a workspace: the others are listed but cannot be picked, with the reason.
      const options = model.audiences.map(a => [a.id, a.name,
        a.not_nestable_because ?? (!a.workspaces.some(w => state.workspaces.includes(w)) ? 'shares no workspace with this audience' : null)]);
      fields.push(field(id('audience'), 'Audience', choose('audience_id', [['', options.length ? 'choose…' : 'no other audiences yet'], ...options])),
        field(id('member'), 'Membership', choose('member', [['true', 'is a member'], ['false', 'is not a member']])));
      break;
    }
  }

  function operand(operators, valueType) {
    if (!operators.includes(c.operator)) c.operator = operators[0];
    const out = [field(id('operator'), 'Operator', choose('operator', operators.map(o => [o, operatorLabels[o] ?? o]), true))];
    const inputType = valueType === 'number' ? 'number' : valueType === 'date' && c.operator !== 'within_last_days' ? 'date' : 'text';
    if (['exists', 'not_exists'].includes(c.operator)) return out;
    if (c.operator === 'in_list') out.push(field(id('values'), 'Values', input('values'), 'comma-separated'));
    else if (c.operator === 'between') out.push(field(id('min'), 'From', input('min_value', { type: inputType })), field(id('max'), 'To', input('max_value', { type: inputType })));
    else if (c.operator === 'within_last_days') out.push(field(id('value'), 'Days', input('value', { type: 'number', min: 0, step: 1 })));
    else if (valueType === 'boolean') { if (c.value === '') c.value = 'true'; out.push(field(id('value'), 'Value', choose('value', [['true', 'true'], ['false', 'false']]))); }
    else out.push(field(id('value'), 'Value', input('value', { type: inputType, step: inputType === 'number' ? 'any' : null })));
    return out;
  }

  return h('fieldset', { class: 'criterion', 'aria-labelledby': id('legend') },
    h('legend', { id: id('legend') }, `Criterion ${i + 1}`),
    h('div', { class: 'inline-fields' }, fields),
    state.criteria.length > 1 ? h('button', { type: 'button', class: 'secondary small', onclick: () => {
      state.criteria.splice(i, 1);
      if (state.criteria[0]) state.criteria[0].join = null;
      rerender(`c${Math.max(0, i - 1)}-kind`);
    } }, `Remove criterion ${i + 1}`) : null);
}

/** Conditions on the event's attributes (the calculated attributes' condition model): each with a type, operator and value. */
export function conditionsBlock(model, conditions, prefix, rerender, workspaceOf = () => null) {
  const rows = conditions.map((k, j) => {
    const id = (name) => `${prefix}${j}-${name}`;
    const operators = model.condition_operators[k.type] ?? [];
    if (!operators.includes(k.operator)) k.operator = operators[0];
    const bind = (control, key, structural = false) => {
      control.addEventListener(control.tagName === 'SELECT' ? 'change' : 'input', () => { k[key] = control.value; if (structural) rerender(control.id); });
      return control;
    };
    const input = (key, attributes = {}) => bind(h('input', { value: k[key], autocomplete: 'off', ...attributes }), key);
    const attribute = input('attribute_name');
    const attributes = catalogSuggestions(attribute, id('attribute-names'), () => ({ workspaceId: workspaceOf(), kind: 'event_attribute' }));
    const inputType = k.type === 'number' ? 'number' : k.type === 'date' ? 'date' : 'text';
    const value = ['exists', 'not_exists', 'empty'].includes(k.operator) ? []
      : k.operator === 'in_list' ? [field(id('values'), 'Values', input('values'), 'comma-separated')]
      : ['between', 'between_dates'].includes(k.operator) ? [field(id('min'), 'From', input('min_value', { type: inputType })), field(id('max'), 'To', input('max_value', { type: inputType }))]
      : k.type === 'boolean' ? [field(id('value'), 'Value', bind(select([['true', 'true'], ['false', 'false']], k.value || (k.value = 'true')), 'value'))]
      : [field(id('value'), 'Value', input('value', { type: inputType, step: inputType === 'number' ? 'any' : null }))];
    return h('fieldset', { class: 'condition', 'aria-labelledby': id('legend') },
      h('legend', { id: id('legend') }, `Condition ${j + 1}`),
      h('div', { class: 'inline-fields' },
        field(id('attribute'), 'Attribute', attribute), attributes,
        field(id('type'), 'Type', bind(select(Object.keys(model.condition_operators), k.type), 'type', true)),
        field(id('operator'), 'Operator', bind(select(operators.map(o => [o, operatorLabels[o] ?? o]), k.operator), 'operator', true)),
        value,
        h('button', { type: 'button', class: 'secondary small', onclick: () => { conditions.splice(j, 1); rerender(`${prefix}-add`); } }, `Remove condition ${j + 1}`)));
  });
  return h('div', { class: 'conditions' }, rows,
    h('button', { type: 'button', class: 'secondary small', id: `${prefix}-add`, onclick: () => {
      conditions.push({ attribute_name: '', type: 'string', operator: 'equals', value: '', values: '', min_value: '', max_value: '' });
      rerender(`${prefix}${conditions.length - 1}-attribute`);
    } }, 'Add condition on an event attribute'));
}

// ---- one audience

export async function audiencePage(main, id) {
  document.title = `Audience ${id} · EventProfiles`;
  show(main, loading('the audience'));
  let stop = () => {};
  const explainRegion = h('div', { 'aria-live': 'polite' });
  const actionStatus = h('div', { 'aria-live': 'polite' });
  const body = h('div', {});

  async function refresh() {
    const view = await api(`/ui/api/audiences/${id}`);
    render(view);
    return ['calculating'].includes(view.audience.status);
  }

  async function act(method, path, payload, done) {
    show(actionStatus);
    try {
      await send(method, path, payload);
      if (done) show(actionStatus, h('p', { class: 'notice', role: 'status' }, done));
      stop();
      if (await refresh()) stop = poll(refresh);
    } catch (error) {
      show(actionStatus, problem(error));
    }
  }

  function render({ audience: a, connections, available_outputs: outputs, revisions = [] }) {
    document.title = `${a.name} · Audiences · EventProfiles`;
    const standard = a.audience_type === 'standard';
    const outputSelect = select(outputs.length ? outputs.map(o => [o.id, `${o.name} (${o.kind})`]) : [['', 'no output left to connect']]);
    show(body,
      h('section', { class: 'card', 'aria-labelledby': 'audience-title' },
        h('div', { class: 'person-head' }, h('h1', { id: 'audience-title' }, a.name), statusBadge(a.status),
          h('span', { class: 'muted' }, `${standard ? 'standard' : 'real-time'} audience #${a.id}`)),
        h('dl', { class: 'facts' },
          h('dt', {}, 'Size'), h('dd', {}, `${a.size} ${a.size === 1 ? 'person' : 'people'}`),
          h('dt', {}, 'Last 24 hours'), h('dd', {}, `${a.added_last_24_hours} added, ${a.dropped_last_24_hours} dropped`),
          h('dt', {}, 'Workspaces'), h('dd', {}, a.workspaces.map(w => w.name).join(', ')),
          h('dt', {}, 'Data range'), h('dd', {}, standard
            ? (a.date_range ? `events from ${a.date_range.from ?? 'the start'} to ${a.date_range.to ?? 'today'}` : 'all retained events')
            : a.data_range ? `event data: last ${a.data_range.event_data_days} days · profile data: ${a.data_range.profile_data_days} days after last activity${a.data_range.lifetime_profiles ? ' (Lifetime Profiles)' : ''}` : '—'),
          a.calculation ? [h('dt', {}, 'Calculation'), h('dd', {}, progress(a.calculation.percent, 'Calculation progress'),
            ` ${a.calculation.people_done} of ${a.calculation.people_total} people`, a.calculation.finished_on ? [', finished ', time(a.calculation.finished_on)] : '')] : null,
          h('dt', {}, 'Last modified'), h('dd', {}, time(a.last_modified_on), ` by ${a.last_modified_by}`)),
        h('h2', {}, 'Criteria'),
        h('ol', { class: 'criteria-text' }, a.criteria.map((c, i) => h('li', {}, i > 0 ? h('strong', {}, `${c.join ?? 'and'} `) : null, describe(c)))),
        h('div', { class: 'actions' },
          ['active', 'calculating', 'ready'].includes(a.status)
            ? h('button', { type: 'button', class: 'secondary', onclick: () => act('POST', `/ui/api/audiences/${id}/deactivation`, undefined, 'Deactivated.') }, 'Deactivate')
            : h('button', { type: 'button', onclick: () => act('POST', `/ui/api/audiences/${id}/activation`, undefined, 'Activated: calculating…') }, a.status === 'expired' ? 'Calculate again' : 'Activate'),
          standard && a.status === 'ready' ? h('button', { type: 'button', class: 'secondary', onclick: () => act('POST', `/ui/api/audiences/${id}/send`, undefined, 'Sent to the connected outputs.') }, 'Send to outputs') : null,
          h('a', { class: 'button secondary', href: `/ui/audiences/${id}/edit`, 'data-internal': true }, 'Edit'),
          h('a', { class: 'button secondary', href: `/ui/api/audiences/${id}/members.csv`, download: `audience-${id}-members.csv` }, 'Download members (CSV)')),
        actionStatus,
        revisions.length ? [h('h2', { id: 'revisions-title' }, 'Edits'), h('ul', { class: 'plain', 'aria-labelledby': 'revisions-title' }, revisions.map(r => h('li', {},
          time(r.at), ` by ${r.by}: ${r.changed.join(', ')} changed`, r.reactivated ? ' (a new version: everyone evaluated again)' : '')))] : null),
      h('section', { class: 'card', 'aria-labelledby': 'connections-title' },
        h('h2', { id: 'connections-title' }, 'Connected outputs'),
        h('p', { class: 'muted' }, standard ? 'A standard audience is sent to its outputs when calculated, and again with “Send to outputs”.' : 'Every membership change is sent to these outputs as an add or delete message.'),
        connections.length === 0 ? empty('Not connected to any output.') : h('ul', { class: 'plain' }, connections.map(c => h('li', {},
          `${c.output_name} (${c.kind}) `,
          h('button', { type: 'button', class: 'secondary small', onclick: () => act('DELETE', `/ui/api/audiences/${id}/connections/${c.id}`, undefined, `Disconnected ${c.output_name}.`) }, `Disconnect ${c.output_name}`)))),
        h('form', { class: 'inline', 'aria-label': 'Connect an output', onsubmit: (e) => { e.preventDefault(); act('POST', `/ui/api/audiences/${id}/connections`, { output_id: outputSelect.value }, 'Connected.'); } },
          field('connect-output', 'Output', outputSelect),
          h('button', { type: 'submit', disabled: outputs.length === 0 }, 'Connect'))),
      h('section', { class: 'card', 'aria-labelledby': 'explain-title' },
        h('h2', { id: 'explain-title' }, 'Why (not) a member?'),
        explainForm(id, explainRegion), explainRegion));
  }

  try {
    show(main, body);
    if (await refresh()) stop = poll(refresh);
  } catch (error) {
    show(main, h('h1', {}, `Audience ${id}`), failure(error), h('p', {}, link('/ui/audiences', 'All audiences')));
  }
  return () => stop();
}

function explainForm(id, region) {
  const mpid = h('input', { inputmode: 'numeric', pattern: '-?[0-9]+', required: true, autocomplete: 'off' });
  const params = new URLSearchParams(location.search);
  if (params.get('mpid')) { mpid.value = params.get('mpid'); setTimeout(() => form.requestSubmit(), 0); }
  const form = h('form', { class: 'inline', 'aria-label': 'Explain a membership', onsubmit: async (e) => {
      e.preventDefault();
      show(region, loading('the explanation'));
      try {
        const x = await api(`/ui/api/audiences/${id}/explain/${encodeURIComponent(mpid.value.trim())}`);
        show(region,
          h('p', { class: x.is_member_now ? 'notice' : 'muted' }, 'MPID ', link(`/ui/people/${x.mpid}`, x.mpid),
            x.is_member_now ? ' is a member now' : ' is not a member now', x.recorded_member !== x.is_member_now ? ` (recorded: ${x.recorded_member ? 'member' : 'not a member'}; the evaluation catches up)` : '', `: ${x.reason}`),
          h('table', {},
            h('thead', {}, h('tr', {}, ['#', 'Join', 'Criterion', 'Holds', 'Why'].map(t => h('th', { scope: 'col' }, t)))),
            h('tbody', {}, x.criteria.map(c => h('tr', {}, h('td', {}, c.index), h('td', {}, c.join ?? ''), h('td', {}, kindLabels[c.kind] ?? c.kind),
              h('td', {}, badge(c.holds ? 'yes' : 'no')), h('td', {}, c.why))))));
      } catch (error) {
        show(region, problem(error));
      }
    } },
    field('explain-mpid', 'MPID', mpid),
    h('button', { type: 'submit' }, 'Explain'));
  return form;
}

/** A criterion in words, as the builder would show it. */
export function describe(c) {
  const op = () => {
    const o = operatorLabels[c.operator] ?? c.operator;
    if (['exists', 'not_exists'].includes(c.operator)) return o;
    if (c.operator === 'in_list') return `${o} ${(c.values ?? []).join(', ')}`;
    if (c.operator === 'between') return `${o} ${c.min_value} and ${c.max_value}`;
    if (c.operator === 'within_last_days') return `within the last ${c.value} days`;
    return `${o} ${c.value}`;
  };
  switch (c.kind) {
    case 'event': {
      const f = c.frequency ?? {};
      const when = c.recency?.within_days ? ` within the last ${c.recency.within_days} days`
        : c.recency?.to_days_ago ? ` between ${c.recency.from_days_ago} and ${c.recency.to_days_ago} days ago` : '';
      const conditions = (c.conditions ?? []).map(k => `${k.attribute_name} ${operatorLabels[k.operator] ?? k.operator} ${k.value ?? (k.values ?? []).join(', ') ?? ''}`.trim());
      return `${c.event_type}${c.event_name ? ` “${c.event_name}”` : ''} ${frequencyLabels[f.operator ?? 'greater_than']} ${f.count ?? 0} times${when}${conditions.length ? ` where ${conditions.join(' and ')}` : ''}`;
    }
    case 'user_attribute': return `user attribute ${c.attribute_name} ${op()}`;
    case 'user_attribute_list': return `user attribute list ${c.attribute_name} ${op()}`;
    case 'calculated_attribute': return `calculated attribute ${c.attribute_name} ${op()}`;
    case 'identity': return `identity ${c.identity_type} ${op()}`;
    case 'consent': return `${c.regulation?.toUpperCase()} consent${c.purpose ? ` for ${c.purpose}` : ''}: ${c.consented === false ? 'not consented' : 'consented'}`;
    case 'first_seen': return `first seen ${op()}`;
    case 'device': return `device ${c.field} ${op()}`;
    case 'audience_membership': return `${c.member === false ? 'not a member' : 'a member'} of audience #${c.audience_id}`;
    default: return c.kind;
  }
}

