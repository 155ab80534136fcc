// The optional file a private server's output is appended to, shared by every
// embedded launcher so each opens and closes it the same way.
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

/** Appends to the file (a run adds to the previous runs' output), creating its directory; undefined when there is no file. */
export async function openServerLog(logFile: string | undefined): Promise<WriteStream | undefined> {
  if (logFile === undefined) return undefined;
  await mkdir(path.dirname(path.resolve(logFile)), { recursive: true });
  return createWriteStream(logFile, { flags: 'a' });
}

/** Resolves once everything written has reached the file. */
export async function closeServerLog(stream: WriteStream | undefined): Promise<void> {
  if (stream === undefined) return;
  await new Promise<void>((resolve, reject) => stream.end((error?: Error | null) => (error ? reject(error) : resolve())));
}
