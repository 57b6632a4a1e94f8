import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Outbox } from '../sensor/outbox.ts';
import { syntheticEvent } from './helpers/synthetic-events.ts';

const dir = mkdtempSync(join(tmpdir(), 'nssen-outbox-'));
const opts = { maxRows: 1000, maxBytes: 10_000_000, maxEventBytes: 60_000 };

test('events survive a reopen; next() hands each row out once; ack deletes', () => {
  const path = join(dir, 'a.db');
  let ob = new Outbox(path, opts);
  const evs = Array.from({ length: 25 }, () => syntheticEvent('s1'));
  assert.equal(ob.add(evs), { added: 25, dropped: 0 });
  ob.close();
  ob = new Outbox(path, opts);
  assert.is(ob.depth, 25);
  const b1 = ob.next(10, 1e9)!;
  const b2 = ob.next(10, 1e9)!;
  assert.equal(b1.events.map((e) => e.id), evs.slice(0, 10).map((e) => e.id));
  assert.equal(b2.events[0].id, evs[10].id);
  assert.is(ob.ack(b1.seqs), 10);
  assert.is(ob.ack(b1.seqs), 0, 'ack is idempotent');
  ob.releaseAll(); // connection lost: b2 unacknowledged goes out again
  const b3 = ob.next(100, 1e9)!;
  assert.equal(b3.events.map((e) => e.id), evs.slice(10).map((e) => e.id));
  assert.is(ob.depth, 15);
  ob.close();
});

test('batches are bounded in bytes', () => {
  const ob = new Outbox(join(dir, 'b.db'), opts);
  ob.add(Array.from({ length: 50 }, () => syntheticEvent('s1')));
  const one = ob.next(50, 1)!; // at least one row even if it alone exceeds the bound
  assert.is(one.seqs.length, 1);
  const b = ob.next(50, one.bytes * 5)!;
  assert.ok(b.seqs.length >= 4 && b.seqs.length <= 5, `${b.seqs.length}`);
  assert.ok(b.bytes <= one.bytes * 5 + 50);
  ob.close();
});

test('a tiny cap drops the oldest lowest-severity events first, never in-flight ones, and counts persistently', () => {
  const path = join(dir, 'c.db');
  const ob = new Outbox(path, { ...opts, maxRows: 6 });
  const high = Array.from({ length: 3 }, () => syntheticEvent('s1', { severityClass: 'dos' })); // severity 1
  const low = Array.from({ length: 3 }, () => syntheticEvent('s1', { severityClass: 'anomaly' })); // severity 3
  ob.add([low[0], high[0], low[1], high[1]]);
  const inflight = ob.next(1, 1e9)!; // low[0] on the wire
  assert.equal(inflight.events[0].id, low[0].id);
  const r = ob.add([high[2], low[2], syntheticEvent('s1', { severityClass: 'scan' })]); // 7 rows > 6
  assert.equal(r, { added: 3, dropped: 1 });
  const left = (new Database(path, { readonly: true }).prepare('SELECT id FROM events ORDER BY seq').all() as Array<{ id: string }>).map((x) => x.id);
  assert.ok(left.includes(low[0].id), 'in-flight low kept');
  assert.not.ok(left.includes(low[1].id), 'oldest low not in flight dropped');
  assert.ok(left.includes(low[2].id));
  for (const h of high) assert.ok(left.includes(h.id));
  // keeps running under sustained overflow: 200 more low-severity events
  for (let i = 0; i < 20; i++) ob.add(Array.from({ length: 10 }, () => syntheticEvent('s1', { severityClass: 'anomaly' })));
  assert.is(ob.depth, 6);
  assert.is(ob.dropped, 201);
  ob.close();
  const again = new Outbox(path, { ...opts, maxRows: 6 });
  assert.is(again.dropped, 201, 'counter persisted');
  const ids = new Set(again.next(10, 1e9)!.events.map((e) => e.id));
  for (const h of high) assert.ok(ids.has(h.id), 'high-severity events survive the flood');
  again.close();
});

test('kill -9 at any moment loses no committed event', async () => {
  const path = join(dir, 'crash.db');
  const child = `
    import { Outbox } from './sensor/outbox.ts';
    import { syntheticEvent } from './test/helpers/synthetic-events.ts';
    const ob = new Outbox(${JSON.stringify(path)}, { maxRows: 1e6, maxBytes: 1e9, maxEventBytes: 60000 });
    for (;;) {
      const evs = Array.from({ length: 5 }, () => syntheticEvent('s1'));
      ob.add(evs);
      process.stdout.write(evs.map((e) => e.id).join('\\n') + '\\n');
    }`;
  const committed = new Set<string>();
  for (let round = 0; round < 3; round++) {
    const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', child], { cwd: new URL('..', import.meta.url).pathname, stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    p.stdout.on('data', (d) => { buf += d; });
    await new Promise((r) => setTimeout(r, 1500 + round * 300));
    p.kill('SIGKILL');
    await new Promise((r) => p.once('exit', r));
    for (const line of buf.split('\n').slice(0, -1)) committed.add(line); // last line may be partial
  }
  assert.ok(committed.size > 50, `${committed.size} committed`);
  const ob = new Outbox(path, { maxRows: 1e6, maxBytes: 1e9, maxEventBytes: 60000 });
  const present = new Set<string>();
  for (let b = ob.next(500, 1e9); b; b = ob.next(500, 1e9)) for (const e of b.events) present.add(e.id);
  ob.close();
  const db = new Database(path, { readonly: true });
  assert.is((db.pragma('integrity_check', { simple: true }) as string), 'ok');
  db.close();
  const missing = [...committed].filter((id) => !present.has(id));
  assert.equal(missing, [], `missing ${missing.length} of ${committed.size}`);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
