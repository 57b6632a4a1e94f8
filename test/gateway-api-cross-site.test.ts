/**
 * The loopback API against what any web page can make a browser send: a rebound DNS name (Host: evil.example)
 * reading alerts, a cross-site POST halting a rollout (from a real Chromium page on another origin), the wrong
 * content types; and the upload door: refused until trusted keys are configured, and no sequence jump that
 * would block a channel for the rightful key.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { request as httpRequest, createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { encodeBundle } from '../protocol/manifest.ts';
import { withTools } from './helpers/tools.ts';
import { startGateway } from './helpers/gateway-fixtures.ts';
import { buildTestModel, keys, release } from './helpers/ota-fixtures.ts';

const MQTT = 18883;
const HTTP = 18183;
const EVIL = 18184;
const dir = mkdtempSync(join(tmpdir(), 'nsgw-xsite-'));
const owner = keys();
const model = buildTestModel({ seed: 5 });
const keyFile = join(dir, 'trusted.pub');
writeFileSync(keyFile, owner.publicKey.export({ type: 'spki', format: 'pem' }));

/** A request exactly as given (fetch would not let a test set Host). */
function raw(method: string, path: string, headers: Record<string, string>, body?: Buffer | string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: HTTP, method, path, headers: { host: `127.0.0.1:${HTTP}`, ...headers } }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => { let b: unknown = text; try { b = JSON.parse(text); } catch { /* not JSON */ } resolve({ status: res.statusCode!, body: b }); });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const upload = async (seq: number, headers: Record<string, string> = { 'x-netsensor-request': '1' }, key = owner.privateKey) => {
  const r = await release(model, key, { seq });
  return raw('POST', '/api/models', { 'content-type': 'application/cbor', ...headers }, Buffer.from(encodeBundle({ v: 1, envelope: r.envelope, payload: r.payload })));
};

const rolloutState = async () => (await raw('GET', '/api/models', {})).body.channels.find((c: { channel: string }) => c.channel === 'stable')?.rollout.state;

test('DNS rebinding: a token-less request naming another host gets nothing', async () => {
  const g = await startGateway({ mqtt: { port: MQTT }, http: { port: HTTP } });
  try {
    assert.is((await raw('GET', '/api/alerts', { host: 'evil.example' })).status, 403);
    assert.is((await raw('GET', '/api/alerts', { host: `evil.example:${HTTP}` })).status, 403);
    assert.is((await raw('GET', '/metrics', { host: 'evil.example' })).status, 403);
    assert.is((await raw('GET', '/api/alerts', {})).status, 200, 'the gateway\'s own name still works');
    assert.is((await raw('GET', '/api/alerts', { host: `localhost:${HTTP}` })).status, 200);
    assert.is((await raw('GET', '/', { host: 'evil.example' })).status, 200, 'the page itself holds no data');
  } finally {
    await g.stop();
  }
});

test('uploads are refused until trusted keys are configured, whatever key signed them', async () => {
  const g = await startGateway({ mqtt: { port: MQTT }, http: { port: HTTP } });
  try {
    const stranger = keys();
    const r = await upload(Number.MAX_SAFE_INTEGER, undefined, stranger.privateKey);
    assert.is(r.status, 403, JSON.stringify(r.body));
    assert.is(r.body.error.reason, 'no_trusted_keys');
    assert.is((await raw('GET', '/api/models', {})).body.channels.length, 0, 'nothing published');
  } finally {
    await g.stop();
  }
});

test('uploads: only the bundle content type, only with the header from loopback, no sequence jump', async () => {
  const g = await startGateway({ mqtt: { port: MQTT }, http: { port: HTTP }, models: { trustedKeysFile: keyFile } });
  try {
    const now = Date.now();
    const r0 = await release(model, owner.privateKey, { seq: now });
    const bundle = Buffer.from(encodeBundle({ v: 1, envelope: r0.envelope, payload: r0.payload }));
    assert.is((await raw('POST', '/api/models', { 'content-type': 'text/plain' }, bundle)).status, 403, 'no header: refused before the body is read');
    assert.is((await raw('POST', '/api/models', { 'content-type': 'text/plain', 'x-netsensor-request': '1' }, bundle)).status, 415);
    assert.is((await raw('POST', '/api/models', { 'content-type': 'application/x-www-form-urlencoded', 'x-netsensor-request': '1' }, bundle)).status, 415);
    const jump = await upload(now + 10 * 365 * 86_400_000); // a typo'd or runaway seq: ten years ahead
    assert.is(jump.status, 400);
    assert.is(jump.body.error.reason, 'sequence_jump');
    assert.is((await raw('POST', '/api/models', { 'content-type': 'application/cbor', 'x-netsensor-request': '1' }, bundle)).status, 200, 'the rightful release still goes');
    assert.is(await rolloutState(), 'complete');
    // Halt: JSON only.
    const halt = (headers: Record<string, string>, body?: string) => raw('POST', '/api/models/stable/halt', headers, body);
    assert.is((await halt({ 'content-type': 'text/plain', 'x-netsensor-request': '1' }, '{"reason":"x"}')).status, 415);
    assert.is(await rolloutState(), 'complete');
    assert.is((await halt({ 'content-type': 'application/json', 'x-netsensor-request': '1' }, '{"reason":"operator"}')).status, 200);
    assert.is(await rolloutState(), 'halted');
  } finally {
    await g.stop();
  }
});

withTools(test, ['chromium'])('a page on another origin cannot halt a rollout through the operator\'s browser', async () => {
  const g = await startGateway({ mqtt: { port: MQTT }, http: { port: HTTP }, models: { trustedKeysFile: keyFile } });
  const target = `http://127.0.0.1:${HTTP}/api/models/stable/halt`;
  // The attacker's page: a text/plain form-style POST (no preflight) and a fetch with the custom header (preflighted).
  const page = `<!doctype html><script>
    window.done = (async () => {
      const out = [];
      try { await fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: '{"reason":"pwned"}' }); out.push('simple sent'); } catch (e) { out.push('simple failed'); }
      try { await fetch(${JSON.stringify(target)}, { method: 'POST', headers: { 'content-type': 'application/json', 'x-netsensor-request': '1' }, body: '{"reason":"pwned"}' }); out.push('preflighted sent'); } catch (e) { out.push('preflighted blocked'); }
      return out;
    })();
  </script>`;
  const evil: Server = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end(page); });
  await new Promise<void>((r) => evil.listen(EVIL, '127.0.0.1', () => r()));
  let browser: Browser | undefined;
  try {
    assert.is((await upload(Date.now())).status, 200);
    assert.is(await rolloutState(), 'complete');
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
    const tab = await browser.newPage();
    // Another origin (localhost vs 127.0.0.1, another port), as a site the operator happens to visit.
    await tab.goto(`http://localhost:${EVIL}/`);
    const out = await tab.evaluate(() => (window as unknown as { done: Promise<string[]> }).done);
    assert.ok(out.includes('preflighted blocked'), `the browser refused the preflighted request: ${out}`);
    await new Promise((r) => setTimeout(r, 300));
    assert.is(await rolloutState(), 'complete', 'the rollout is not halted');
  } finally {
    await browser?.close();
    evil.close();
    await g.stop();
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
