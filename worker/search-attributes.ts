// Custom search attributes must exist in the namespace before a workflow sets
// them. The embedded dev server gets them as flags; against any other Temporal
// the worker registers them at boot (a no-op when they are there).
import type { Connection } from '@temporalio/client';
import type { SearchAttributeType } from '@temporalio/common';
import { hubSearchAttributes } from '../workflows/search-attributes.js';

// temporal.api.enums.v1.IndexedValueType
const indexedValueType: Record<SearchAttributeType, number> = {
  TEXT: 1,
  KEYWORD: 2,
  INT: 3,
  DOUBLE: 4,
  BOOL: 5,
  DATETIME: 6,
  KEYWORD_LIST: 7,
};

export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing = hubSearchAttributes.filter((key) => !known.has(key.name));
  if (missing.length === 0) return;
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(
      missing.map((key) => [key.name, indexedValueType[key.type]]),
    ),
  });
}

/** The attributes in the form the embedded dev server takes them (Name -> Keyword...). */
export function devServerSearchAttributes(): Record<string, 'Keyword' | 'KeywordList' | 'Text' | 'Int' | 'Datetime' | 'Bool' | 'Double'> {
  const names = { TEXT: 'Text', KEYWORD: 'Keyword', INT: 'Int', DOUBLE: 'Double', BOOL: 'Bool', DATETIME: 'Datetime', KEYWORD_LIST: 'KeywordList' } as const;
  return Object.fromEntries(hubSearchAttributes.map((key) => [key.name, names[key.type]]));
}
