/**
 * What the detection tests that make traffic in namespaces share: ending the capture cleanly, and replaying it
 * through `netsensor detect --alerts` (what a subscriber of netsensor/v1/alerts/# would receive).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as assert from 'uvu/assert';

const root = new URL('../..', import.meta.url).pathname;

/** The alert messages of `netsensor detect <pcap> --alerts` (sources through tsx), one object per line. */
export function detectAlerts(pcap: string): Array<Record<string, any>> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'cli/main.ts'), 'detect', pcap, '--alerts'],
    { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.is(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** Stops a namespace capture (netns.ts `capture()`) once the last answers reached it; the kernel must have dropped nothing. */
export async function finishCapture(stop: () => Promise<string>): Promise<void> {
  await new Promise((r) => setTimeout(r, 300));
  const report = await stop();
  assert.match(report, /\b0 packets dropped by kernel/, report);
}
