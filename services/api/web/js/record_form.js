// The resident record's fields in the admission and profile forms (docs/api.md, "The resident
// record"): sex, birth date, identifiers, contacts, ICD-10 diagnoses, allergies, medications and
// the GB/T 42195-2022 ability assessment. Only what changed is sent when editing.
import { h } from './dom.js';
import { t } from './i18n.js';

const SEXES = ['male', 'female', 'other', 'unknown'];
const LEVELS = ['intact', 'mild', 'moderate', 'severe', 'complete_loss'];
const SPLIT = /[,，、]/;

function select(name, values, chosen, labelOf, extra = {}) {
  return h(
    'select',
    { name, ...extra },
    h('option', { value: '', selected: !chosen }, t('admin.not_given')),
    values.map((v) => h('option', { value: v, selected: chosen === v }, labelOf(v))),
  );
}

const contactsText = (contacts) => contacts.map((c) => `${c.name}, ${c.relation}, ${c.phone}`).join('\n');
const diagnosesText = (diagnoses) => diagnoses.map((d) => `${d.code} ${d.display}`).join('\n');

/** The record's fields; `field(name, control)` makes a labelled field with its error slot. */
export function recordFields(resident, field) {
  const text = (name, value, extra = {}) =>
    h('input', { name, value: value ?? '', autocapitalize: 'none', spellcheck: 'false', ...extra });
  const area = (name, value) => h('textarea', { name, rows: '2', spellcheck: 'false' }, value ?? '');
  // A masked identifier is never put back into the form (nor sent): typed anew, it replaces.
  const identifier = (name) =>
    text(name, resident?.identifiers_masked ? '' : resident?.[name], {
      placeholder: resident?.identifiers_masked ? resident?.[name] ?? '' : '',
      inputmode: name === 'national_id' ? 'text' : null,
    });
  const ability = resident?.ability;
  return [
    field('sex', select('sex', SEXES, resident?.sex, (v) => t(`sex.${v}`))),
    field('birth_date', text('birth_date', resident?.birth_date, { type: 'date' })),
    field('national_id', identifier('national_id')),
    field('insurance_no', identifier('insurance_no')),
    field('phone', text('phone', resident?.phone, { type: 'tel' })),
    field('address', text('address', resident?.address)),
    field('emergency_contacts', area('emergency_contacts', contactsText(resident?.emergency_contacts ?? []))),
    field('diagnoses', area('diagnoses', diagnosesText(resident?.diagnoses ?? []))),
    field('allergies', text('allergies', (resident?.allergies ?? []).join(', '))),
    field('medications', area('medications', resident?.medications)),
    // Three controls: a group, not one label (labels do not nest).
    h(
      'div',
      { class: 'field', role: 'group', dataset: { field: 'ability' } },
      h('span', {}, t('admin.field_ability')),
      select('ability_level', LEVELS, ability?.level, (v) => t(`ability.${v}`), { 'aria-label': t('admin.field_ability') }),
      h('label', {}, h('span', {}, t('admin.ability_assessed_on')), text('ability_assessed_on', ability?.assessed_on, { type: 'date' })),
      h('label', {}, h('span', {}, t('admin.ability_due_on')), text('ability_due_on', ability?.due_on, { type: 'date' })),
      h('span', { class: 'field-error', role: 'alert' }),
    ),
  ];
}

/** { body, problems }: the record's part of the request body (when editing, only the fields
 * that differ from `resident`), and the lines of a list field that do not parse. */
export function recordBody(form, resident) {
  const value = (name) => form.elements[name].value.trim();
  const problems = [];
  const lines = (name) => value(name).split('\n').map((line) => line.trim()).filter(Boolean);
  const contacts = lines('emergency_contacts').map((line, n) => {
    const parts = line.split(SPLIT).map((p) => p.trim());
    if (parts.length !== 3 || parts.some((p) => !p)) {
      problems.push({ loc: ['body', 'emergency_contacts'], type: 'value_error', msg: t('admin.bad_contact', { n: n + 1 }) });
    }
    return { name: parts[0], relation: parts[1], phone: parts[2] };
  });
  const diagnoses = lines('diagnoses').map((line) => {
    const [code, ...rest] = line.split(/\s+/);
    return { code, display: rest.join(' ') };
  });
  const level = value('ability_level');
  const record = {
    sex: value('sex') || null,
    birth_date: value('birth_date') || null,
    phone: value('phone') || null,
    address: value('address') || null,
    emergency_contacts: contacts,
    diagnoses,
    allergies: value('allergies').split(SPLIT).map((a) => a.trim()).filter(Boolean),
    medications: value('medications') || null,
    ability: level ? { level, assessed_on: value('ability_assessed_on'), due_on: value('ability_due_on') } : null,
  };
  for (const name of ['national_id', 'insurance_no']) {
    // Blank on a masked one means "unchanged"; blank on one shown whole means "clear".
    if (value(name) || (resident && !resident.identifiers_masked)) record[name] = value(name) || null;
  }
  if (resident) {
    for (const [name, v] of Object.entries(record)) {
      if (JSON.stringify(v) === JSON.stringify(resident[name] ?? null)) delete record[name];
    }
  }
  return { body: record, problems };
}
