/**
 * Model uploads cannot exhaust the gateway's memory: four parallel 60 MiB uploads against a gateway in its own
 * process raise its peak resident memory by about one upload, not four (the others are refused with 429 and a
 * reason), and a body without a declared length is refused (411) instead of buffered.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keys } from './helpers/ota-fixtures.ts';
import { startChildGateway } from './helpers/gateway-process.ts';

const MQTT = 18884;
const HTTP = 18185;
const MiB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'nsgw-upload-mem-'));

/** Peak resident set of a process so far (VmHWM), in bytes. */
const peakRss = (pid: number) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

function post(body: Buffer | undefined, chunked = false): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/cbor', 'x-netsensor-request': '1' };
    if (!chunked && body) headers['content-length'] = String(body.length);
    const req = httpRequest({ host: '127.0.0.1', port: HTTP, method: 'POST', path: '/api/models', headers }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text || '{}') }));
    });
    // The server may answer (429, 411) before the whole body is sent and close: that is the point.
    req.on('error', (e) => (/EPIPE|ECONNRESET/.test((e as NodeJS.ErrnoException).code ?? '') ? undefined : reject(e)));
    if (chunked && body) { req.write(body.subarray(0, 1024)); req.end(body.subarray(1024, 2048)); } else req.end(body);
  });
}

test('parallel uploads: one at a time, the rest refused with 429; peak memory grows by about one upload', async () => {
  const keyFile = join(dir, 'trusted.pub');
  writeFileSync(keyFile, keys().publicKey.export({ type: 'spki', format: 'pem' }));
  const g = await startChildGateway({ mqtt: { port: MQTT }, http: { port: HTTP }, store: { path: join(dir, 'gw.db') }, models: { trustedKeysFile: keyFile } });
  try {
    const pid = g.proc.pid!;
    // Not a valid bundle: what is measured is what receiving it costs, before any decoding.
    const body = Buffer.alloc(60 * MiB, 0xa5);
    const before = peakRss(pid);
    const results = await Promise.all([0, 1, 2, 3].map(() => post(body)));
    const grew = peakRss(pid) - before;
    const statuses = results.map((r) => r.status).sort();
    console.log(`  4 × 60 MiB in parallel: statuses ${statuses.join(',')}, peak RSS +${Math.round(grew / MiB)} MiB`);
    assert.ok(statuses.every((s) => s === 400 || s === 429), `statuses ${statuses}`);
    assert.ok(statuses.includes(429), 'concurrent uploads were refused');
    for (const r of results.filter((x) => x.status === 429)) assert.match(r.body.error.message, /in progress/);
    assert.ok(grew < 130 * MiB, `peak RSS grew by ${Math.round(grew / MiB)} MiB (four buffered uploads would be ≥ 240)`);
    assert.is((await post(body.subarray(0, 2048), true)).status, 411, 'no Content-Length: refused, not buffered');
    assert.is(g.exited(), undefined);
  } finally {
    await g.stop();
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
