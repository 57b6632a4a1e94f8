/**
 * Tests that need an external tool (tshark, mosquitto, nmap, …) or root for network namespaces ask here.
 * On a developer machine a missing tool skips the test LOUDLY; in CI (CI=true) it is a failure.
 */
import { execFileSync } from 'node:child_process';
import type { Test } from 'uvu';

const cache = new Map<string, boolean>();

export function hasTool(name: string): boolean {
  if (!cache.has(name)) {
    let ok = false;
    try {
      execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
      ok = true;
    } catch { ok = false; }
    cache.set(name, ok);
  }
  return cache.get(name)!;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export const inCI = process.env.CI === 'true' || process.env.CI === '1';

/**
 * Returns `test` when every tool is present (and root when `root` is set); otherwise `test.skip` after a loud
 * message, or — in CI — a test that fails with the reason.
 */
export function withTools(test: Test, tools: string[], opts: { root?: boolean } = {}): Test {
  const missing = tools.filter((t) => !hasTool(t));
  if (opts.root && !isRoot()) missing.push('root (network namespaces)');
  if (missing.length === 0) return test;
  const reason = `needs ${missing.join(', ')}`;
  if (inCI) {
    const failing = ((name: string) => test(name, () => { throw new Error(`CI: ${reason} — install it in .ci/run`); })) as unknown as Test;
    return Object.assign(failing, test, { skip: test.skip, only: test.only });
  }
  process.stdout.write(`\n!!! SKIPPING: ${reason} (not installed on this machine) !!!\n`);
  const skipping = ((name: string, fn: unknown) => test.skip(name, fn as never)) as unknown as Test;
  return Object.assign(skipping, test);
}

/** Path of a public capture under the shared captures folder (kept outside the repository). */
export function sharedPcap(rel: string): string {
  return new URL(`../../../shared/pcaps/${rel}`, import.meta.url).pathname;
}
