// Reads the header of a RIFF/WAVE file: enough to check a generated prompt's
// format and to know how long it plays.
import { open } from 'node:fs/promises';

export interface WavInfo {
  audioFormat: number; // 1 = PCM
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  dataBytes: number;
  durationMs: number;
}

const HEADER_BYTES = 4096;

export async function readWavInfo(file: string): Promise<WavInfo> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, HEADER_BYTES, 0);
    return parseWavHeader(buffer.subarray(0, bytesRead), file);
  } finally {
    await handle.close();
  }
}

export function parseWavHeader(header: Buffer, name = 'WAV'): WavInfo {
  if (header.length < 12 || header.toString('latin1', 0, 4) !== 'RIFF' || header.toString('latin1', 8, 12) !== 'WAVE') {
    throw new Error(`${name} is not a RIFF/WAVE file`);
  }
  let format: Omit<WavInfo, 'dataBytes' | 'durationMs'> | undefined;
  let offset = 12;
  // Chunks are id (4) + size (4) + body, padded to even sizes; sox and espeak-ng may add LIST chunks before "data".
  while (offset + 8 <= header.length) {
    const id = header.toString('latin1', offset, offset + 4);
    const size = header.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (body + 16 > header.length) break;
      format = {
        audioFormat: header.readUInt16LE(body),
        channels: header.readUInt16LE(body + 2),
        sampleRate: header.readUInt32LE(body + 4),
        bitsPerSample: header.readUInt16LE(body + 14),
      };
    } else if (id === 'data') {
      if (format === undefined) throw new Error(`${name}: "data" chunk before "fmt "`);
      const bytesPerSecond = format.sampleRate * format.channels * (format.bitsPerSample / 8);
      return { ...format, dataBytes: size, durationMs: Math.round((size / bytesPerSecond) * 1000) };
    }
    offset = body + size + (size % 2);
  }
  throw new Error(`${name}: no "fmt " and "data" chunks in the first ${header.length} bytes`);
}
