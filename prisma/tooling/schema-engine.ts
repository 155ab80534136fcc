// Loads Prisma's schema engine as WebAssembly (@prisma/schema-engine-wasm) and
// connects it to PostgreSQL through @prisma/adapter-pg. The native schema
// engine is a binary downloaded from binaries.prisma.sh at first use, which
// offline machines cannot reach; the WASM build ships inside the npm package.
//
// The package's own entry does `import * as wasm from "./schema_engine_bg.wasm"`,
// which Node 20 cannot load without --experimental-wasm-modules, so we
// instantiate the module ourselves against its JS glue (the same thing the
// entry does, minus the WASM-ESM import).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { PrismaPg } from '@prisma/adapter-pg';
import {
  bindMigrationAwareSqlAdapterFactory,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
} from '@prisma/driver-adapter-utils';
import * as glue from '@prisma/schema-engine-wasm/schema_engine_bg';
import type pg from 'pg';
import type { SchemaEngine } from '@prisma/schema-engine-wasm/schema_engine_bg';

import { createEnginePool, withCharColumns } from './char-columns.js';

interface PanicRegistry {
  set_message(message: string): void;
}

declare global {
  // The WASM glue reports Rust panics here before throwing a bare
  // "RuntimeError: unreachable", often from a callback where no caller can
  // catch it, so the message is the only trace of what went wrong.
  var PRISMA_WASM_PANIC_REGISTRY: PanicRegistry | undefined;
}

// The project compiles without the DOM lib and @types/node 20 declares no
// WebAssembly values, so we describe the little we use.
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, object>) => { exports: Record<string, unknown> };
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let loaded = false;

function loadWasm(): void {
  if (loaded) return;
  const require = createRequire(import.meta.url);
  const gluePath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
  const wasmPath = path.join(path.dirname(gluePath), 'schema_engine_bg.wasm');
  const module = new wasmApi.Module(readFileSync(wasmPath));
  const instance = new wasmApi.Instance(module, { './schema_engine_bg.js': glue });
  globalThis.PRISMA_WASM_PANIC_REGISTRY ??= {
    set_message(message: string) {
      process.stderr.write(`schema engine panicked: ${message}\n`);
    },
  };
  glue.__wbg_set_wasm(instance.exports);
  (instance.exports.__wbindgen_start as () => void)();
  loaded = true;
}

/**
 * Every connection the engine opens goes to `url`, including the "shadow"
 * one. PrismaPg's own connectToShadowDb creates a database next to the main
 * one, but spreads its config over a connection string, which wins in `pg`,
 * so it would end up using the main database; callers that need a shadow
 * database therefore pass its URL as the main one.
 */
class SingleDatabaseFactory implements SqlMigrationAwareDriverAdapterFactory {
  readonly provider = 'postgres';
  readonly adapterName: string;
  private readonly pg: PrismaPg;

  constructor(
    pool: pg.Pool,
    private readonly allowShadow: boolean,
  ) {
    this.pg = new PrismaPg(pool);
    this.adapterName = this.pg.adapterName;
  }

  async connect(): Promise<SqlDriverAdapter> {
    return withCharColumns(await this.pg.connect());
  }

  connectToShadowDb(): Promise<SqlDriverAdapter> {
    if (!this.allowShadow) {
      return Promise.reject(new Error('this operation must not need a shadow database'));
    }
    return this.connect();
  }
}

function logCallback(line: string): void {
  if (process.env.DEBUG?.includes('schema-engine')) process.stderr.write(`${line}\n`);
}

/**
 * Runs `fn` with an engine connected to `url` and always frees it. A JS
 * error thrown inside the adapter comes back from the engine only as
 * "External error id#N"; we put the original message back so callers see
 * what actually failed.
 */
export async function withSchemaEngine<T>(
  url: string,
  options: { shadow?: boolean },
  fn: (engine: SchemaEngine) => Promise<T>,
): Promise<T> {
  loadWasm();
  const pool = createEnginePool(url);
  const factory = bindMigrationAwareSqlAdapterFactory(
    new SingleDatabaseFactory(pool, options.shadow ?? false),
  );
  let engine: SchemaEngine | undefined;
  try {
    engine = await glue.SchemaEngine.new({ datamodels: undefined }, logCallback, factory);
    return await fn(engine);
  } catch (error) {
    throw explain(error, factory.errorRegistry);
  } finally {
    engine?.free();
    // PrismaPg leaves a pool it was given open; it is ours to close.
    await pool.end();
  }
}

interface ErrorRegistryLike {
  consumeError(id: number): { error: unknown } | undefined;
}

function explain(error: unknown, registry: ErrorRegistryLike): unknown {
  if (!(error instanceof Error)) return error;
  const id = /External error id#(\d+)/.exec(error.message)?.[1];
  const original = id === undefined ? undefined : registry.consumeError(Number(id));
  if (original === undefined) return error;
  const detail = original.error instanceof Error ? original.error.message : String(original.error);
  const context = error.message.split('\n', 1)[0] ?? 'schema engine error';
  return new Error(`${context}: ${detail}`, { cause: original.error });
}
