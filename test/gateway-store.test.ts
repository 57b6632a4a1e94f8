import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../gateway/store.ts';
import { Correlator } from '../gateway/correlate.ts';
import { defaults, loadConfig } from '../gateway/config.ts';
import { makeEvent } from './helpers/gateway-fixtures.ts';

const DAY = 86_400_000;

function withStore(fn: (s: Store, dir: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'nsgw-store-'));
  const s = new Store(join(dir, 'gw.db'));
  try { fn(s, dir); } finally { s.close(); rmSync(dir, { recursive: true, force: true }); }
}

test('store: events round-trip with flow, features and top; duplicates ignored', () => withStore((s) => {
  const e = makeEvent({ sensor: 'x' });
  const original = structuredClone(e);
  const first = s.insertEvents([e], 1000);
  assert.is(first.length, 1);
  assert.is(s.insertEvents([structuredClone(original)], 2000).length, 0);
  const c = new Correlator(defaults.correlation);
  const r = c.ingest(first);
  for (const ch of r.changes) s.upsertAlert(ch.alert);
  for (const [a, seq] of r.links) s.linkEvent(a, seq);
  const back = s.alertEvents(r.changes[0].alert.id, 10);
  assert.is(back.length, 1);
  const { seq: _seq, received, ...rest } = back[0];
  assert.is(received, 1000);
  assert.equal(rest, original);
}));

test('retention: by age (events, then alerts without events) and by size', () => withStore((s) => {
  const now = 100 * DAY;
  const old = Array.from({ length: 300 }, () => makeEvent({ src: '10.9.0.1', t: now - 40 * DAY }));
  const fresh = Array.from({ length: 200 }, () => makeEvent({ src: '10.9.0.2', t: now }));
  const c = new Correlator(defaults.correlation, () => now);
  for (const [events, received] of [[old, now - 40 * DAY], [fresh, now]] as const) {
    const stored = s.insertEvents(events, received);
    const r = c.ingest(stored);
    for (const ch of r.changes) s.upsertAlert(ch.alert);
    for (const [a, seq] of r.links) s.linkEvent(a, seq);
  }
  assert.is(s.countEvents(), 500);
  const r1 = s.applyRetention(now, 30 * DAY, 1 << 30);
  assert.equal(r1, { events: 300, alerts: 1 });
  assert.is(s.countEvents(), 200);
  assert.is(s.queryAlerts({ limit: 10 }).alerts.length, 1);
  // Size: a tiny limit deletes the oldest events in tenths until under it (or nothing is left).
  const big = Array.from({ length: 3000 }, () => makeEvent({ t: now }));
  for (let i = 0; i < big.length; i += 500) s.insertEvents(big.slice(i, i + 500), now);
  const before = s.usedBytes();
  const limit = Math.floor(before / 2);
  const r2 = s.applyRetention(now, 30 * DAY, limit);
  assert.ok(r2.events > 0);
  assert.ok(s.usedBytes() <= limit, `${s.usedBytes()} <= ${limit}`);
  assert.ok(s.countEvents() > 0, 'only the oldest part went');
}));

test('config: defaults < file < env < flags, validated with the key named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nsgw-cfg-'));
  try {
    const file = join(dir, 'gw.json');
    writeFileSync(file, JSON.stringify({ http: { port: 9000, token: 'file-token-0123456789' }, correlation: { scanPorts: 50 } }));
    const c = loadConfig({ file, env: { NETSENSOR_GW_HTTP_PORT: '9100' }, flags: { correlation: { windowMs: 1000 } } });
    assert.is(c.http.port, 9100);
    assert.is(c.http.token, 'file-token-0123456789');
    assert.is(c.correlation.scanPorts, 50);
    assert.is(c.correlation.windowMs, 1000);
    assert.is(c.mqtt.port, 1883);
    const err = (f: () => unknown) => { try { f(); } catch (e) { return e as { code: string; message: string }; } assert.unreachable('no error'); };
    let e = err(() => loadConfig({ flags: { mqtt: { port: 70000 } } }))!;
    assert.is(e.code, 'ERR_CONFIG');
    assert.match(e.message, /mqtt\.port/);
    e = err(() => loadConfig({ flags: { http: { token: 'short' } } }))!;
    assert.match(e.message, /http\.token/);
    assert.not.match(e.message, /short/, 'the token is not echoed');
    e = err(() => loadConfig({ flags: { mqtt: { broker: 'http://x' } } }))!;
    assert.match(e.message, /mqtt\.broker/);
    writeFileSync(file, '{ not json');
    e = err(() => loadConfig({ file }))!;
    assert.match(e.message, /not valid JSON/);
    writeFileSync(file, JSON.stringify({ htpp: {} }));
    assert.match(err(() => loadConfig({ file }))!.message, /htpp/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
