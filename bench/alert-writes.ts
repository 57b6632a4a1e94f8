/**
 * Alert writes into the gateway's store (the part of ingest that triage touches): alerts created per second,
 * then alert updates per second with a share of the alerts closed by an operator, so that updates reopen them
 * (one history entry each). Compare --closed 0 with --closed 0.1 to see what triage costs the ingest path.
 *
 * usage: node --import tsx bench/alert-writes.ts [--alerts 20000] [--updates 200000] [--closed 0.1] [--runs 3]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Alert } from '../gateway/alert-types.js';
import { Store } from '../gateway/store.js';

const { values: o } = parseArgs({ options: {
  alerts: { type: 'string', default: '20000' }, updates: { type: 'string', default: '200000' },
  closed: { type: 'string', default: '0.1' }, runs: { type: 'string', default: '3' },
} });
const N = Number(o.alerts), U = Number(o.updates), CLOSED = Number(o.closed), GROUP = 1000;

function alert(i: number): Alert {
  return {
    id: `0190b4c0-0000-7000-8000-${String(i).padStart(12, '0')}`, kind: 'class', class: 'scan', src_ip: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`,
    severity: 2, base_severity: 2, status: 'open', first_seen: 1, last_seen: 2, created_at: 3, updated_at: 4, event_count: 1, flow_count: 1,
    sensors: ['s1'], hosts: ['10.9.0.1'], host_count: 1, ports: [22], port_count: 1, src_port: 40000, dest_ip: '10.9.0.1', dest_port: 22, proto: 6,
    score_max: 0.9, anomaly_max: 1, model: 'bench', top: [['bidirectional_syn_packets', 1]],
  };
}

function run(): { created_per_s: number; updated_per_s: number; reopened: number } {
  const dir = mkdtempSync(join(tmpdir(), 'ns-alert-writes-'));
  const store = new Store(join(dir, 'gw.db'));
  try {
    const alerts = Array.from({ length: N }, (_, i) => alert(i));
    let t = performance.now();
    for (let i = 0; i < N; i += GROUP) store.transaction(() => { for (let k = i; k < Math.min(N, i + GROUP); k++) store.upsertAlert(alerts[k]); });
    const created = N / ((performance.now() - t) / 1000);
    const every = CLOSED > 0 ? Math.round(1 / CLOSED) : 0;
    if (every) for (let i = 0; i < N; i += every) store.history.act(alerts[i].id, 'close', 'bench', null, 5);
    let x = 12345; // fixed LCG: the same update sequence every run
    t = performance.now();
    for (let i = 0; i < U; i += GROUP) {
      store.transaction(() => {
        for (let k = 0; k < GROUP; k++) {
          x = (Math.imul(x, 1103515245) + 12345) >>> 0;
          const a = alerts[(x >>> 8) % N]; // high bits: an LCG's low bits repeat with a short period
          a.event_count++; a.last_seen++; a.updated_at++;
          store.upsertAlert(a);
        }
      });
    }
    const updated = U / ((performance.now() - t) / 1000);
    const reopened = (store.db.prepare(`SELECT count(*) AS n FROM alerts WHERE triage = 'reopened'`).get() as { n: number }).n;
    return { created_per_s: Math.round(created), updated_per_s: Math.round(updated), reopened };
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = Array.from({ length: Number(o.runs) }, run);
const median = (k: 'created_per_s' | 'updated_per_s') => results.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(results.length / 2)];
console.log(JSON.stringify({ alerts: N, updates: U, closed_fraction: CLOSED, runs: results, median_created_per_s: median('created_per_s'), median_updated_per_s: median('updated_per_s') }, null, 1));
