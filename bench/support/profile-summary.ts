// Where a worker's CPU went in one phase of a benchmark: reads the V8 CPU profiles
// written with BENCH_CPU_PROF=<dir> and prints self time per package (node_modules
// package, node: module or project file) and the heaviest functions, optionally cut
// to a window the benchmark logged ("cpu window <phase>: <from> <to> (monotonic µs), N items").
//
//   npx tsx bench/support/profile-summary.ts <dir> [<from µs> <to µs> [items]]
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

function packageOf(url: string, functionName: string): string {
  if (!url) return `(${functionName || 'native'})`;
  const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (inModules?.[1]) return inModules[1];
  if (url.startsWith('node:')) return url;
  if (url.includes('workflow-bundle')) return '(workflow bundle)';
  const inRepo = /\/(api|bench|connectors|core|workflows|worker|telephony|embedded)\/(.*)$/.exec(url);
  return inRepo ? `${inRepo[1]}/${inRepo[2]}` : url;
}

function summarize(profile: Profile, from: number, to: number) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  let at = profile.startTime;
  for (const [index, sample] of profile.samples.entries()) {
    at += profile.timeDeltas[index] ?? 0;
    if (at < from || at > to) continue;
    selfUs.set(sample, (selfUs.get(sample) ?? 0) + (profile.timeDeltas[index] ?? 0));
  }
  const packages = new Map<string, number>();
  const functions = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    if (frame.functionName === '(idle)') continue;
    busy += us;
    const pkg = packageOf(frame.url, frame.functionName);
    packages.set(pkg, (packages.get(pkg) ?? 0) + us);
    const fn = `${frame.functionName || '(anonymous)'} ${pkg}:${frame.lineNumber + 1}`;
    functions.set(fn, (functions.get(fn) ?? 0) + us);
  }
  return { busy, packages, functions };
}

const [dir, fromArg, toArg, itemsArg] = process.argv.slice(2);
if (!dir) throw new Error('usage: profile-summary.ts <dir> [<from µs> <to µs> [items]]');
const from = fromArg ? Number(fromArg) : -Infinity;
const to = toArg ? Number(toArg) : Infinity;
const items = itemsArg ? Number(itemsArg) : 1;
const ms = (us: number) => (us / 1000 / items).toFixed(2).padStart(9);
for (const file of (await readdir(dir)).filter((name) => name.endsWith('.cpuprofile')).sort()) {
  const { busy, packages, functions } = summarize(JSON.parse(await readFile(join(dir, file), 'utf8')) as Profile, from, to);
  if (busy === 0) continue;
  console.log(`== ${file}: ${ms(busy)} ms busy${items > 1 ? ` per item (${items})` : ''}`);
  for (const [name, us] of [...packages].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${ms(us)}  ${name}`);
  console.log('   heaviest functions:');
  for (const [name, us] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${ms(us)}  ${name}`);
}
