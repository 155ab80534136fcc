/**
 * Dialer tasks from a CSV file, through the API (`POST /v1/campaigns/:name/tasks`), in batches,
 * so a CSV gets exactly the checks an API client gets. Columns (headers, any case, spaces or "_"):
 * - `external_id` (or the column named by `idColumn`): the task's id; without it the row's content is its id;
 * - `phone`, `phone2` ... `phone5`, or `phones` with numbers separated by ";" or ",";
 * - `name` (or `full_name`), `time_zone` (or `timezone`), `priority`;
 * - every other non-empty column is kept as a field for the agent, under its header.
 * Re-running the same file adds nothing (the API is idempotent per task), so a run cut short by a
 * crash, a network error or Ctrl-C is finished by running it again. Network errors and 5xx answers
 * are retried with backoff; rejected rows are reported with their line numbers.
 */
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';

export interface ImportOptions {
  file: string;
  campaign: string;
  /** API base URL, e.g. http://127.0.0.1:3000 */
  baseUrl: string;
  apiKey: string;
  batchSize?: number;
  idColumn?: string;
  onProgress?: (progress: ImportProgress) => void;
  /** Attempts per batch on network errors and 5xx (default 8). */
  maxAttempts?: number;
  fetch?: typeof fetch;
}

export interface ImportProgress {
  rowsRead: number;
  rowsSent: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  /** File bytes read so far and in all, for a progress bar. */
  bytesRead: number;
  bytesTotal: number;
}

export interface RejectedRow {
  /** Line in the file (1 = the header). */
  line: number;
  errors: { field: string; message: string }[];
}

export interface ImportResult extends ImportProgress {
  rejectedRows: RejectedRow[];
}

export class ImportRefusedError extends Error {
  constructor(
    readonly status: number,
    readonly problem: unknown,
  ) {
    super(`the API refused the import (HTTP ${status}): ${describeProblem(problem)}`);
  }
}

const phoneColumn = /^phone_?([1-5])?$/;

export async function importTasksFromCsv(options: ImportOptions): Promise<ImportResult> {
  const batchSize = options.batchSize ?? 500;
  const { size } = await import('node:fs/promises').then((fs) => fs.stat(options.file));
  const progress: ImportProgress = { rowsRead: 0, rowsSent: 0, accepted: 0, duplicates: 0, rejected: 0, bytesRead: 0, bytesTotal: size };
  const rejectedRows: RejectedRow[] = [];
  const stream = createReadStream(options.file);
  stream.on('data', (chunk) => {
    progress.bytesRead += chunk.length;
  });
  const parser = stream.pipe(parse({ columns: (header: string[]) => header.map(normalizeHeader), bom: true, skip_empty_lines: true, trim: true, relax_column_count: true, info: true }));

  let batch: { line: number; task: Record<string, unknown> }[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const sent = batch;
    batch = [];
    const answer = await sendBatch(options, sent.map((row) => row.task));
    progress.rowsSent += sent.length;
    progress.accepted += answer.accepted;
    progress.duplicates += answer.duplicates;
    progress.rejected += answer.rejected;
    for (const result of answer.results) {
      if (result.status !== 'rejected') continue;
      const row = sent[result.index];
      if (row) rejectedRows.push({ line: row.line, errors: (result.errors ?? []).map((error) => ({ ...error, field: error.field.replace(/^tasks\.\d+\.?/, '') || '(row)' })) });
    }
    options.onProgress?.({ ...progress });
  };

  for await (const record of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
    progress.rowsRead += 1;
    batch.push({ line: record.info.lines, task: taskFromRow(record.record, options.idColumn) });
    if (batch.length >= batchSize) await flush();
  }
  await flush();
  progress.bytesRead = progress.bytesTotal;
  options.onProgress?.({ ...progress });
  return { ...progress, rejectedRows };
}

function normalizeHeader(header: string): string {
  return header.trim().toLowerCase().replace(/[\s-]+/g, '_');
}

/** One CSV row as the API's task input; the API judges it (a missing phone is its error to name). */
export function taskFromRow(row: Record<string, string>, idColumn?: string): Record<string, unknown> {
  const idKey = idColumn ? normalizeHeader(idColumn) : 'external_id';
  const phones: string[] = [];
  const fields: Record<string, string> = {};
  const task: Record<string, unknown> = {};
  for (const [column, raw] of Object.entries(row)) {
    const value = (raw ?? '').trim();
    if (value === '') continue;
    if (column === 'phones') phones.push(...value.split(/[;,]/).map((phone) => phone.trim()).filter(Boolean));
    else if (phoneColumn.test(column)) phones.push(value);
    else if (column === 'name' || column === 'full_name') task.name = value;
    else if (column === 'time_zone' || column === 'timezone') task.timeZone = value;
    else if (column === 'priority') task.priority = /^\d+$/.test(value) ? Number(value) : value;
    else if (column === 'external_id') task.externalId = value;
    else fields[column] = value;
    if (column === idKey && idKey !== 'external_id') task.externalId = value;
  }
  task.phones = phones;
  if (Object.keys(fields).length > 0) task.fields = fields;
  return task;
}

interface BatchAnswer {
  accepted: number;
  duplicates: number;
  rejected: number;
  results: { index: number; status: string; errors?: { field: string; message: string }[] }[];
}

async function sendBatch(options: ImportOptions, tasks: Record<string, unknown>[]): Promise<BatchAnswer> {
  const doFetch = options.fetch ?? fetch;
  const url = `${options.baseUrl.replace(/\/$/, '')}/v1/campaigns/${encodeURIComponent(options.campaign)}/tasks`;
  const maxAttempts = options.maxAttempts ?? 8;
  for (let attempt = 1; ; attempt += 1) {
    let response: Response;
    try {
      response = await doFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${options.apiKey}` },
        body: JSON.stringify({ tasks }),
      });
    } catch (error) {
      if (attempt >= maxAttempts) throw error;
      await backoff(attempt);
      continue;
    }
    const body: unknown = await response.json().catch(() => undefined);
    if (response.ok) return body as BatchAnswer;
    // Every row bad: the API answers 422 with the fields; reported per row like a partial batch.
    if (response.status === 422 && isProblemWithRows(body)) return rowsFromProblem(body, tasks.length);
    if ((response.status >= 500 || response.status === 429) && attempt < maxAttempts) {
      await backoff(attempt);
      continue;
    }
    throw new ImportRefusedError(response.status, body);
  }
}

function isProblemWithRows(body: unknown): body is { errors: { field: string; message: string }[] } {
  return typeof body === 'object' && body !== null && Array.isArray((body as { errors?: unknown }).errors) && (body as { errors: { field: string }[] }).errors.every((error) => /^tasks\.\d+/.test(error.field));
}

function rowsFromProblem(problem: { errors: { field: string; message: string }[] }, count: number): BatchAnswer {
  const byRow = new Map<number, { field: string; message: string }[]>();
  for (const error of problem.errors) {
    const index = Number(/^tasks\.(\d+)/.exec(error.field)?.[1]);
    byRow.set(index, [...(byRow.get(index) ?? []), error]);
  }
  return { accepted: 0, duplicates: 0, rejected: count, results: [...byRow.entries()].map(([index, errors]) => ({ index, status: 'rejected', errors })) };
}

function backoff(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.min(200 * 2 ** (attempt - 1), 10_000)));
}

function describeProblem(problem: unknown): string {
  if (typeof problem !== 'object' || problem === null) return String(problem);
  const { title, detail } = problem as { title?: string; detail?: string };
  return [title, detail].filter(Boolean).join(': ') || JSON.stringify(problem);
}
