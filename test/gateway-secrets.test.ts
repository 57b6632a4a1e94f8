/**
 * Secrets outside gateway.json: the API token and the broker password from a file or from systemd credentials
 * ($CREDENTIALS_DIRECTORY), refused when given twice, unreadable, world-readable or short — and never echoed.
 * The token read from systemd credentials is the one the API then demands.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, loadConfigFromArgs } from '../gateway/config.ts';
import { startGateway } from './helpers/gateway-fixtures.ts';

const TOKEN = 'tok-' + 'x'.repeat(20) + '-secret';
let dir: string;
test.before.each(() => { dir = mkdtempSync(join(tmpdir(), 'nsops-secrets-')); });
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

const secretFile = (name: string, content: string, mode = 0o600) => {
  const p = join(dir, name);
  writeFileSync(p, content, { mode });
  return p;
};
const errorOf = (f: () => unknown): string => {
  try { f(); } catch (e) { return `${(e as { code?: string }).code}: ${(e as Error).message}`; }
  throw new Error('no error');
};

test('token and password from files named by flags; the trailing newline is dropped', () => {
  const r = loadConfigFromArgs(['--token-file', secretFile('api-token', `${TOKEN}\n`), '--mqtt-password-file', secretFile('pw', 'broker-pw\n')], {});
  assert.ok(!r.help);
  if (r.help) return;
  assert.is(r.config.http.token, TOKEN);
  assert.is(r.config.mqtt.password, 'broker-pw');
});

test('systemd credentials: api-token and mqtt-password from $CREDENTIALS_DIRECTORY when nothing else names them', () => {
  secretFile('api-token', TOKEN);
  secretFile('mqtt-password', 'from-systemd\n');
  const c = loadConfig({ env: { CREDENTIALS_DIRECTORY: dir } });
  assert.is(c.http.token, TOKEN);
  assert.is(c.mqtt.password, 'from-systemd');
  assert.is(loadConfig({ env: {} }).http.token, undefined, 'no directory: no token');
  assert.is(loadConfig({ env: { CREDENTIALS_DIRECTORY: join(dir, 'none') } }).http.token, undefined, 'credential not passed: no token');
  // an explicit file wins over the credential, a value too
  assert.is(loadConfig({ env: { CREDENTIALS_DIRECTORY: dir }, flags: { http: { tokenFile: secretFile('other', 'o'.repeat(16)) } } }).http.token, 'o'.repeat(16));
});

test('refused: value and file both set, world-readable, missing, empty, short — without echoing the secret', () => {
  const both = errorOf(() => loadConfig({ flags: { http: { token: TOKEN, tokenFile: secretFile('t', TOKEN) } } }));
  assert.match(both, /^ERR_CONFIG: http\.token and http\.tokenFile are both set/);
  const open = errorOf(() => loadConfig({ flags: { http: { tokenFile: secretFile('open', TOKEN, 0o644) } } }));
  assert.match(open, /readable by every user/);
  assert.match(errorOf(() => loadConfig({ flags: { http: { tokenFile: join(dir, 'missing') } } })), /cannot read .*ENOENT/);
  assert.match(errorOf(() => loadConfig({ flags: { mqtt: { passwordFile: secretFile('empty', '\n') } } })), /one line/);
  secretFile('api-token', 'tiny-secret');
  const tooShort = errorOf(() => loadConfig({ env: { CREDENTIALS_DIRECTORY: dir } }));
  assert.match(tooShort, /at least 16 characters/);
  for (const m of [both, open, tooShort]) assert.not.ok(m.includes(TOKEN) || m.includes('tiny-secret'), `secret echoed: ${m}`);
});

test('the API demands the token read from systemd credentials', async () => {
  const credDir = mkdtempSync(join(tmpdir(), 'nsops-creds-'));
  writeFileSync(join(credDir, 'api-token'), TOKEN + '\n', { mode: 0o400 });
  const c = loadConfig({ env: { CREDENTIALS_DIRECTORY: credDir } });
  const g = await startGateway({ mqtt: { port: 0 }, http: { port: 0, token: c.http.token, loopbackExempt: false } });
  try {
    const url = `http://127.0.0.1:${g.gw.httpPort}/api/sensors`;
    assert.is((await fetch(url)).status, 401);
    assert.is((await fetch(url, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status, 401);
    assert.is((await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
  } finally {
    await g.stop();
    rmSync(credDir, { recursive: true, force: true });
  }
});

test.run();
