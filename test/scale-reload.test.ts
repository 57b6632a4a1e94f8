/**
 * SIGHUP on a gateway worker: a new API token takes effect, the old one is refused; retention by age is applied
 * and a changed correlation window reported as needing a restart, and the worker runs on.
 * Own Mosquitto and PostgreSQL; ports 20350–20359.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWorker, stopWorker, until, type Worker } from './helpers/cluster-workers.ts';
import { Mosquitto } from './helpers/mosquitto.ts';
import { Postgres } from './helpers/postgres.ts';

const [MQTT_PORT, PG_PORT, HTTP] = [20350, 20351, 20352];
const TOKEN_A = 'worker-token-a-0123456789abcdef';
const TOKEN_B = 'worker-token-b-0123456789abcdef';

test('SIGHUP on a worker applies a new API token and reports what needs a restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nss2-reload-'));
  const tokenFile = join(dir, 'api-token');
  const configFile = join(dir, 'gateway.json');
  const config = { http: { tokenFile, loopbackExempt: false } };
  writeFileSync(tokenFile, TOKEN_A + '\n', { mode: 0o600 });
  writeFileSync(configFile, JSON.stringify(config));
  const mosq = new Mosquitto(MQTT_PORT);
  const db = new Postgres(PG_PORT);
  let w: Worker | undefined;
  const status = async (token: string) => (await fetch(`http://127.0.0.1:${HTTP}/api/alerts`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5000) })).status;
  try {
    await Promise.all([mosq.start(), db.start()]);
    w = await startWorker('r1', HTTP, configFile, db, MQTT_PORT);
    assert.is(await status(TOKEN_A), 200);
    assert.is(await status(TOKEN_B), 401);

    writeFileSync(tokenFile, TOKEN_B + '\n', { mode: 0o600 });
    w.proc.kill('SIGHUP');
    await until('the new token', () => status(TOKEN_B), (s) => s === 200, 10_000);
    assert.is(await status(TOKEN_A), 401, 'old token refused');

    writeFileSync(configFile, JSON.stringify({ ...config, correlation: { windowMs: 120_000 }, store: { retentionDays: 7 } }));
    w.proc.kill('SIGHUP');
    await until('the restart warning', async () => w!.out(), (o) => o.includes('take effect only after a restart'), 10_000);
    assert.match(w.out(), /"settings":\["correlation\.windowMs"\]/, 'only correlation waits for a restart, retention is applied');
    assert.is(await status(TOKEN_B), 200, 'still serving');
    assert.is(w.proc.exitCode, null);
  } finally {
    if (w) await stopWorker(w);
    await mosq.dispose();
    await db.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
