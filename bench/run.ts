/**
 * `npm run bench -- <name> [args]` runs bench/<name>.ts (flows, sensor, gateway, footprint, …) in its own
 * process; without a name it lists them. Benchmarks are not tests: they print figures and update RESULTS.md.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = new URL('.', import.meta.url).pathname;
const available = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && !['run.ts'].includes(f) && !f.includes('-'))
  .map((f) => f.replace(/\.ts$/, ''))
  .filter((n) => n !== 'traffic');
const [name, ...args] = process.argv.slice(2);
if (!name || !existsSync(join(dir, `${name}.ts`))) {
  console.log(`usage: npm run bench -- <${available.join('|')}> [options]`);
  process.exit(name ? 2 : 0);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', join(dir, `${name}.ts`), ...args], { stdio: 'inherit' });
process.exit(r.status ?? 1);
