// Calculated attributes: the list (status, initialisation progress, sync/async mode, seeding), the builder for all
// twelve calculation types with conditions and windows, and one attribute's page (activate or deactivate, progress,
// the distribution of current values, seeding status).
import { api, badge, empty, failure, h, link, loading, navigate, show, time } from './dom.js';
import { catalogSuggestions, field, poll, problem, progress, select, send } from './console.js';
import { conditionToApi, conditionsBlock } from './audiences.js';

const typeLabels = {
  count: 'Count', sum: 'Sum', min: 'Minimum', max: 'Maximum', average: 'Average', most_frequent: 'Most frequent',
  unique_values_count: 'Unique values count', first_occurrence: 'First value', last_occurrence: 'Last value',
  first_occurrence_timestamp: 'First timestamp', last_occurrence_timestamp: 'Last timestamp', unique_list: 'Unique list',
};
const statusKind = (s) => ({ ready: 'ready', calculating: 'calculating', draft: 'draft', inactive: 'inactive' }[s] ?? s);

export async function calculatedAttributesPage(main) {
  document.title = 'Calculated attributes · EventProfiles';
  show(main, h('h1', {}, 'Calculated attributes'), loading('calculated attributes'));
  const list = await api('/ui/api/calculated-attributes');
  show(main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Calculated attributes'), link('/ui/calculated-attributes/new', 'New calculated attribute')),
    h('p', { class: 'muted' }, 'Values computed per person from their events. Synchronous types count a batch’s own events in its enrichment and in a read right after its 202; asynchronous ones follow within seconds.'),
    h('section', { class: 'card', 'aria-label': 'All calculated attributes' },
      list.attributes.length === 0 ? empty('No calculated attributes yet: build one with “New calculated attribute”.') : h('table', {},
        h('thead', {}, h('tr', {}, ['Name', 'Workspace', 'Calculation', 'Mode', 'Status', 'Initialisation', 'Seeding'].map(t => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, list.attributes.map(({ workspace, attribute: a, seeding }) => h('tr', {},
          h('td', {}, link(`/ui/calculated-attributes/${a.id}`, a.name)),
          h('td', {}, workspace.name),
          h('td', {}, typeLabels[(a.active_definition ?? a.draft_definition)?.calculation_type] ?? '—'),
          h('td', {}, a.calculation_mode),
          h('td', {}, badge(a.status, statusKind(a.status))),
          h('td', {}, a.initialization ? progress(a.initialization.percent, `Initialisation of ${a.name}`) : '—'),
          h('td', {}, seeding.status)))))));
}

/** The builder: a new calculated attribute, or (given an id) an existing one opened with its draft filled in. */
export async function calculatedAttributeBuilderPage(main, id = null) {
  const title = id ? 'Edit calculated attribute' : 'New calculated attribute';
  document.title = `${title} · EventProfiles`;
  show(main, h('h1', {}, title), loading('the builder'));
  const [model, existing] = await Promise.all([api('/ui/api/calculated-attributes/builder'), id ? api(`/ui/api/calculated-attributes/${id}`) : null]);
  const s = {
    workspace_id: String(model.workspaces[0]?.id ?? ''), name: '', description: '', calculation_type: 'count', event_type: 'custom_event', event_name: '',
    custom_event_type: '', attribute_name: '', attribute_category: 'event_attribute', use_product_quantity: 'false', conditions: [],
    period: 'within', within: '30', within_unit: 'days', since: '', cutoff: '',
  };
  const a = existing?.attribute;
  // Active: the draft saved here is activated at once, which calculates it again from the stored events (as the product re-calculates).
  const active = a && ['ready', 'calculating'].includes(a.status);
  if (a) {
    const d = a.draft_definition ?? a.active_definition ?? {};
    const p = d.data_point ?? d.datapoint ?? {};
    const text = (v) => (v === null || v === undefined ? '' : String(v));
    Object.assign(s, {
      workspace_id: String(existing.workspace.id), name: a.name, description: text(a.description), calculation_type: d.calculation_type ?? 'count',
      event_type: p.event_type ?? 'custom_event', event_name: text(p.event_name), custom_event_type: text(p.custom_event_type), attribute_name: text(p.attribute_name),
      attribute_category: p.attribute_category ?? 'event_attribute', use_product_quantity: String(p.use_product_quantity === true),
      conditions: (d.conditions ?? []).map(k => ({ attribute_name: text(k.attribute_name), type: k.type ?? 'string', operator: k.operator ?? 'equals',
        value: text(k.value), values: (k.values ?? []).join(', '), min_value: text(k.min_value), max_value: text(k.max_value) })),
      period: d.time_period?.type === 'since' ? 'since' : 'within', within: text(d.time_period?.within ?? 30), within_unit: d.time_period?.within_unit ?? 'days',
      since: d.time_period?.date ? d.time_period.date.slice(0, 10) : '', cutoff: d.seeding?.cutoff_date ? d.seeding.cutoff_date.slice(0, 10) : '',
    });
  }
  const definitionArea = h('div', {});
  const errors = h('div', { 'aria-live': 'assertive' });
  const bind = (control, key, structural = false) => {
    control.addEventListener(control.tagName === 'SELECT' ? 'change' : 'input', () => { s[key] = control.value; if (structural) renderDefinition(control.id); });
    return control;
  };
  const input = (key, attributes = {}) => bind(h('input', { value: s[key], autocomplete: 'off', ...attributes }), key);
  const choose = (key, options, structural = false) => bind(select(options, s[key]), key, structural);

  function renderDefinition(focusId) {
    const type = model.calculation_types.find(t => t.type === s.calculation_type);
    const commerce = s.event_type === 'commerce_event';
    // Names are suggested from the catalog of the workspace picked above.
    const eventName = input('event_name');
    const eventNames = catalogSuggestions(eventName, 'ca-event-names', () => ({ workspaceId: s.workspace_id,
      kind: s.event_type === 'screen_view' ? 'screen' : 'event', eventType: s.event_type === 'screen_view' ? null : s.event_type }));
    if (!commerce) { s.attribute_category = 'event_attribute'; s.use_product_quantity = 'false'; }
    const fields = [
      field('ca-type', 'Calculation', choose('calculation_type', model.calculation_types.map(t => [t.type, `${typeLabels[t.type] ?? t.type} (${t.mode})`]), true),
        `${type.mode === 'sync' ? 'synchronous: counted at ingestion' : 'asynchronous: computed within seconds'}${type.numeric ? '; reads a number' : ''}`),
      field('ca-event-type', 'Event type', choose('event_type', model.event_types, true)),
      field('ca-event-name', 'Event name', eventName, ['custom_event', 'screen_view'].includes(s.event_type) ? 'required for custom events and screen views' : 'optional'),
      eventNames,
    ];
    if (['custom_event', 'commerce_event'].includes(s.event_type)) fields.push(field('ca-custom-type', 'Custom event type', input('custom_event_type', { placeholder: 'any' })));
    if (type.needs_attribute) {
      const attribute = input('attribute_name');
      fields.push(field('ca-attribute', 'Attribute', attribute, type.numeric ? 'its value is read as a number' : null),
        catalogSuggestions(attribute, 'ca-attribute-names', () => ({ workspaceId: s.workspace_id, kind: 'event_attribute' })));
      fields.push(field('ca-category', 'Attribute of', choose('attribute_category', model.attribute_categories.map(c => [c, c.replace('_attribute', ''),
        c !== 'event_attribute' && !commerce ? 'commerce events only' : null]))));
      if (commerce && type.numeric) fields.push(field('ca-quantity', 'Use product quantity', choose('use_product_quantity', [['false', 'no'], ['true', 'yes']])));
    } else {
      fields.push(h('p', { class: 'hint' }, `${typeLabels[type.type]} reads no attribute: it ${type.type === 'count' ? 'counts' : 'times'} the matching events.`));
    }
    const period = [field('ca-period', 'Time period', choose('period', [['within', 'within the last'], ['since', 'since a date']], true))];
    if (s.period === 'within') period.push(
      field('ca-within', 'Length', input('within', { type: 'number', min: 1, step: 1 }), `at most ${model.lookback_days} days (the real-time lookback)`),
      field('ca-unit', 'Unit', choose('within_unit', [['days', 'days'], ['weeks', 'weeks']])));
    else period.push(field('ca-since', 'Since (UTC)', input('since', { type: 'date' })));
    period.push(field('ca-cutoff', 'Seeding cutoff', input('cutoff', { type: 'date' }), 'optional: seeds hold the value before this day; live data counts from it'));
    show(definitionArea,
      h('fieldset', { class: 'criterion', 'aria-labelledby': 'ca-what' }, h('legend', { id: 'ca-what' }, 'What to calculate'), h('div', { class: 'inline-fields' }, fields)),
      h('fieldset', { class: 'criterion', 'aria-labelledby': 'ca-conditions' }, h('legend', { id: 'ca-conditions' }, 'Conditions'),
        conditionsBlock(model, s.conditions, 'cacond', (focus) => renderDefinition(focus), () => s.workspace_id)),
      h('fieldset', { class: 'criterion', 'aria-labelledby': 'ca-window' }, h('legend', { id: 'ca-window' }, 'Window and seeding'), h('div', { class: 'inline-fields' }, period)));
    if (focusId) document.getElementById(focusId)?.focus();
  }

  const definition = () => {
    const type = model.calculation_types.find(t => t.type === s.calculation_type);
    return {
      recipe_type: 'event',
      data_point: {
        type: 'event', event_type: s.event_type, event_name: s.event_name.trim() || null, custom_event_type: s.custom_event_type.trim() || null,
        attribute_name: type.needs_attribute ? s.attribute_name.trim() || null : null,
        attribute_category: type.needs_attribute && s.attribute_category !== 'event_attribute' ? s.attribute_category : null,
        use_product_quantity: s.use_product_quantity === 'true' ? true : null,
      },
      conditions: s.conditions.map(conditionToApi),
      calculation_type: s.calculation_type,
      time_period: s.period === 'within' ? { type: 'within', within: Number(s.within), within_unit: s.within_unit } : { type: 'since', date: s.since ? `${s.since}T00:00:00Z` : null },
      seeding: s.cutoff ? { cutoff_date: `${s.cutoff}T00:00:00Z` } : null,
    };
  };

  const form = h('form', { class: 'builder', 'aria-label': 'Calculated attribute builder', novalidate: true, onsubmit: async (event) => {
      event.preventDefault();
      show(errors);
      try {
        if (a) {
          // The name is frozen once activated (§A1): sent only while it may change.
          await send('PUT', `/ui/api/calculated-attributes/${id}`,
            { name: a.activated_on ? null : s.name.trim(), description: s.description.trim(), draft_definition: definition() });
          if (active) await send('POST', `/ui/api/calculated-attributes/${id}/activation`);
          navigate(`/ui/calculated-attributes/${id}`);
          return;
        }
        const created = await send('POST', '/ui/api/calculated-attributes',
          { workspace_id: Number(s.workspace_id), name: s.name.trim(), description: s.description.trim() || null, draft_definition: definition() });
        navigate(`/ui/calculated-attributes/${created}`);
      } catch (error) {
        show(errors, problem(error));
      }
    } },
    h('section', { class: 'card', 'aria-labelledby': 'ca-about' },
      h('h2', { id: 'ca-about' }, 'Calculated attribute'),
      h('div', { class: 'inline-fields' },
        field('ca-workspace', 'Workspace', frozen(choose('workspace_id', model.workspaces.map(w => [w.id, w.name])), Boolean(a)), a ? 'cannot change' : null),
        field('ca-name', 'Name', frozen(input('name', { maxlength: 100 }), Boolean(a?.activated_on)), a?.activated_on ? 'cannot change once activated' : null),
        field('ca-description', 'Description', input('description')))),
    h('section', { class: 'card', 'aria-labelledby': 'ca-definition' }, h('h2', { id: 'ca-definition' }, 'Definition'), definitionArea),
    errors,
    h('div', { class: 'actions' },
      h('button', { type: 'submit' }, a ? (active ? 'Save and recalculate' : 'Save changes') : 'Save as draft'),
      a ? link(`/ui/calculated-attributes/${id}`, 'Cancel') : null),
    active ? h('p', { class: 'hint', id: 'recalculate-note' }, 'This attribute is active: saving activates the new definition, which calculates every value again from the stored events; the page shows the progress until it is ready.') : null);
  renderDefinition();
  show(main, h('h1', {}, a ? `Edit “${a.name}”` : 'New calculated attribute'), form);
  document.getElementById('ca-name')?.focus();
}

const frozen = (control, yes) => { if (yes) control.disabled = true; return control; };

export async function calculatedAttributePage(main, id) {
  document.title = `Calculated attribute ${id} · EventProfiles`;
  show(main, loading('the calculated attribute'));
  let stop = () => {};
  const body = h('div', {});
  const status = h('div', { 'aria-live': 'polite' });
  const distribution = h('section', { class: 'card', 'aria-labelledby': 'distribution-title' });

  async function refresh() {
    const view = await api(`/ui/api/calculated-attributes/${id}`);
    render(view);
    await renderDistribution(view.attribute);
    return view.attribute.status === 'calculating';
  }

  async function act(path, done) {
    show(status);
    try {
      await send('POST', path);
      show(status, h('p', { class: 'notice', role: 'status' }, done));
      stop();
      if (await refresh()) stop = poll(refresh);
    } catch (error) {
      show(status, problem(error));
    }
  }

  function render({ workspace, attribute: a, seeding }) {
    document.title = `${a.name} · Calculated attributes · EventProfiles`;
    const d = a.active_definition ?? a.draft_definition;
    const p = d?.data_point ?? d?.datapoint ?? {};
    const period = d?.time_period?.type === 'since' ? `since ${d.time_period.date?.slice(0, 10)}` : `within the last ${d?.time_period?.within} ${d?.time_period?.within_unit}`;
    show(body,
      h('section', { class: 'card', 'aria-labelledby': 'ca-title' },
        h('div', { class: 'person-head' }, h('h1', { id: 'ca-title' }, a.name), badge(a.status, statusKind(a.status)),
          h('span', { class: 'muted' }, `#${a.id} · workspace ${workspace.name}`)),
        a.description ? h('p', {}, a.description) : null,
        h('dl', { class: 'facts' },
          h('dt', {}, 'Calculation'), h('dd', {}, `${typeLabels[d?.calculation_type] ?? d?.calculation_type}${p.attribute_name ? ` of ${p.attribute_name}` : ''}`),
          h('dt', {}, 'Mode'), h('dd', {}, a.calculation_mode === 'sync' ? 'sync (counted at ingestion)' : 'async (computed within seconds)'),
          h('dt', {}, 'Events'), h('dd', {}, `${p.event_type}${p.event_name ? ` “${p.event_name}”` : ''}${(d?.conditions ?? []).length ? `, ${d.conditions.length} condition${d.conditions.length === 1 ? '' : 's'}` : ''}`),
          h('dt', {}, 'Window'), h('dd', {}, period),
          h('dt', {}, 'Initialisation'), h('dd', {}, a.initialization
            ? [progress(a.initialization.percent, 'Initialisation progress'), ` ${a.initialization.events_done} of ${a.initialization.events_total} events, ${a.initialization.people} people`,
               a.initialization.finished_on ? [', finished ', time(a.initialization.finished_on)] : '']
            : 'not started (activate it)'),
          h('dt', {}, 'Seeding'), h('dd', {}, seeding.status, seeding.cutoff_date ? ` · cutoff ${seeding.cutoff_date.slice(0, 10)}` : ''),
          h('dt', {}, 'Last modified'), h('dd', {}, time(a.last_modified_on), ` by ${a.last_modified_by}`)),
        h('div', { class: 'actions' },
          h('a', { class: 'button secondary', href: `/ui/calculated-attributes/${id}/edit`, 'data-internal': true }, 'Edit'),
          a.status === 'ready' || a.status === 'calculating'
            ? h('button', { type: 'button', class: 'secondary', onclick: () => act(`/ui/api/calculated-attributes/${id}/deactivation`, 'Deactivated.') }, 'Deactivate')
            : h('button', { type: 'button', onclick: () => act(`/ui/api/calculated-attributes/${id}/activation`, 'Activated: initialising from the stored events…') }, 'Activate')),
        status),
      distribution);
  }

  async function renderDistribution(a) {
    try {
      const x = await api(`/ui/api/calculated-attributes/${id}/distribution`);
      const dist = x.distribution;
      const max = Math.max(1, ...dist.buckets.map(b => b.count));
      show(distribution,
        h('h2', { id: 'distribution-title' }, dist.kind === 'histogram' ? 'Distribution of current values' : 'Most common current values'),
        a.status === 'draft' || a.status === 'inactive' ? empty('Not computed: activate it to see its values.') : [
          h('p', { class: 'muted' }, `${dist.people_with_value} of ${x.people_read} people with state have a value${x.limited ? ` (the first ${x.people_read} by MPID)` : ''}; ${x.people_seeded} seeded.`,
            dist.mean !== undefined && dist.mean !== null ? ` Minimum ${dist.min}, maximum ${dist.max}, mean ${dist.mean}.` : ''),
          dist.buckets.length === 0 ? empty('No values yet.') : h('table', { class: 'distribution' },
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, dist.kind === 'histogram' ? 'Value' : 'Value'), h('th', { scope: 'col' }, 'People'), h('th', { scope: 'col' }, 'Share'))),
            h('tbody', {}, dist.buckets.map(b => h('tr', {},
              h('td', { class: 'value' }, b.label), h('td', { class: 'num' }, b.count),
              h('td', {}, h('meter', { min: 0, max, value: b.count, 'aria-label': `${b.label}: ${b.count}` }))))))]);
    } catch (error) {
      show(distribution, h('h2', { id: 'distribution-title' }, 'Distribution'), failure(error));
    }
  }

  try {
    show(main, body);
    if (await refresh()) stop = poll(refresh);
  } catch (error) {
    show(main, h('h1', {}, `Calculated attribute ${id}`), failure(error), h('p', {}, link('/ui/calculated-attributes', 'All calculated attributes')));
  }
  return () => stop();
}
