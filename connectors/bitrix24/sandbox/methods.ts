// The REST methods the sandbox portal answers, by name. Parameter names are
// case-insensitive as on a real portal (`fields` and `FIELDS` both work); error
// words are the ones the method pages document.
import { refused, type MethodOutput } from './envelope.js';
import { phoneDigits, type EntityKind, type Portal } from './portal.js';
import { listRows, project, type Row } from './query.js';

export type MethodHandler = (params: Row, portal: Portal) => MethodOutput;

/** crm.activity TYPE_ID values (crm_enum_activitytype): 1 meeting, 2 call, 3 task, 4 e-mail, 5 action, 6 custom. */
const activityTypes = new Set(['1', '2', '3', '4', '5', '6']);
/** OWNER_TYPE_ID -> entity (crm object types: 1 lead, 2 deal, 3 contact, 4 company). */
const ownerKinds: Record<string, EntityKind> = { '2': 'deal', '3': 'contact' };
const commentEntityKinds: Record<string, EntityKind> = { deal: 'deal', contact: 'contact' };
const maxDuplicateValues = 20;
/** "Returns at most 20 duplicates per entity, the 20 oldest rather than the newest" (crm.duplicate.findbycomm). */
const maxDuplicatesPerEntity = 20;

function upperKeys(params: Row): Row {
  return Object.fromEntries(Object.entries(params).map(([key, value]) => [key.toUpperCase(), value]));
}

function fieldsOf(params: Row): Row {
  const fields = params.FIELDS;
  if (fields === null || typeof fields !== 'object' || Array.isArray(fields)) throw refused("Parameter 'fields' must be array.");
  return fields as Row;
}

function idOf(params: Row): number {
  const id = Number(params.ID);
  if (!Number.isInteger(id) || id <= 0) throw refused('ID is not defined or invalid.');
  return id;
}

function crud(kind: EntityKind, prefix: string): Record<string, MethodHandler> {
  return {
    [`${prefix}.add`]: (params, portal) => ({ result: portal.add(kind, fieldsOf(params)) }),
    [`${prefix}.update`]: (params, portal) => {
      const id = idOf(params);
      portal.update(kind, id, fieldsOf(params));
      return { result: true };
    },
    [`${prefix}.get`]: (params, portal) => {
      const shape = portal.shape(kind);
      return { result: project(portal.require(kind, idOf(params)), ['*', 'UF_*', ...shape.multiple], shape) };
    },
    [`${prefix}.list`]: (params, portal) =>
      listRows(portal.rows(kind), { filter: params.FILTER, select: params.SELECT, order: params.ORDER, start: params.START }, portal.shape(kind)),
  };
}

const findByComm: MethodHandler = (params, portal) => {
  const type = params.TYPE === undefined ? '' : String(params.TYPE).toUpperCase();
  if (type === '') throw refused('Communication type is not defined.');
  if (type !== 'PHONE' && type !== 'EMAIL') throw refused(`Communication type '${type}' is not supported in current context.`);
  const values = Array.isArray(params.VALUES) ? params.VALUES.map(String) : params.VALUES === undefined ? [] : [String(params.VALUES)];
  if (values.length === 0) throw refused('Communication values is not defined.');
  if (values.length > maxDuplicateValues) throw refused(`Too many communication values: at most ${maxDuplicateValues} are allowed.`);
  const entityType = params.ENTITY_TYPE === undefined ? '' : String(params.ENTITY_TYPE).toUpperCase();
  // The sandbox portal holds no leads or companies; asking only for those finds nothing.
  if (entityType !== '' && entityType !== 'CONTACT') return { result: [] };
  const normalize = type === 'PHONE' ? phoneDigits : (value: string) => value.trim().toLowerCase();
  const wanted = new Set(values.map(normalize).filter((value) => value !== ''));
  const ids = portal
    .rows('contact')
    .filter((row) => ((row[type] as Row[] | undefined) ?? []).some((entry) => wanted.has(normalize(String(entry.VALUE)))))
    .map((row) => Number(row.ID))
    .sort((a, b) => a - b)
    .slice(0, maxDuplicatesPerEntity);
  // PHP's json_encode prints an empty array for "nothing found", not an object.
  return { result: ids.length === 0 ? [] : { CONTACT: ids } };
};

const addActivity: MethodHandler = (params, portal) => {
  const fields = fieldsOf(params);
  const get = (name: string) => (fields[name] === undefined || fields[name] === null ? '' : String(fields[name]));
  if (get('SUBJECT') === '') throw refused('The field SUBJECT is not defined or empty.');
  if (!(Number(get('RESPONSIBLE_ID')) > 0)) throw refused('The field RESPONSIBLE_ID is not defined or invalid.');
  if (!activityTypes.has(get('TYPE_ID'))) throw refused('The field TYPE_ID is not defined or invalid.');
  const communications = fields.COMMUNICATIONS;
  const hasCommunications = communications !== null && typeof communications === 'object' && Object.keys(communications).length > 0;
  if (!hasCommunications) throw refused('The field COMMUNICATIONS is not defined or invalid.');
  const ownerKind = ownerKinds[get('OWNER_TYPE_ID')];
  if (!ownerKind || !portal.find(ownerKind, get('OWNER_ID'))) {
    throw refused('Could not build binding. Please ensure that owner info and communications are defined correctly.');
  }
  return { result: portal.add('activity', fields) };
};

const addComment: MethodHandler = (params, portal) => {
  const fields = fieldsOf(params);
  const kind = commentEntityKinds[String(fields.ENTITY_TYPE ?? '').toLowerCase()];
  if (!kind) throw refused('ENTITY_TYPE is not defined or invalid.');
  portal.require(kind, fields.ENTITY_ID);
  if (String(fields.COMMENT ?? '').trim() === '') throw refused('COMMENT is not defined or empty.');
  return { result: portal.add('comment', { ...fields, ENTITY_TYPE: String(fields.ENTITY_TYPE).toLowerCase(), AUTHOR_ID: portal.userId }) };
};

const handlers: Record<string, MethodHandler> = {
  ...crud('contact', 'crm.contact'),
  ...crud('deal', 'crm.deal'),
  'crm.duplicate.findbycomm': findByComm,
  'crm.activity.add': addActivity,
  'crm.activity.get': crud('activity', 'crm.activity')['crm.activity.get'] as MethodHandler,
  'crm.activity.list': crud('activity', 'crm.activity')['crm.activity.list'] as MethodHandler,
  'crm.timeline.comment.add': addComment,
  'crm.timeline.comment.list': crud('comment', 'crm.timeline.comment')['crm.timeline.comment.list'] as MethodHandler,
};

/** The handler for a method name (case-insensitive, ".json" transport suffix allowed), or undefined. */
export function findMethod(name: string): MethodHandler | undefined {
  const handler = handlers[name.toLowerCase().replace(/\.json$/, '')];
  return handler ? (params, portal) => handler(upperKeys(params), portal) : undefined;
}
