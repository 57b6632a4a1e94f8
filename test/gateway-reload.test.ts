/**
 * SIGHUP on a running `netsensor gateway` (the real command, in a process of its own): a new API token and a
 * sensor added to the credentials file take effect without a restart; a changed port is reported as needing a
 * restart and left alone; an invalid configuration or an unusable credentials file is refused with a logged
 * reason while the gateway runs on with what it had.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addCredential } from '../gateway/credentials.ts';
import { waitForOutput } from './helpers/child-output.ts';
import { connect } from './helpers/gateway-fixtures.ts';

const HTTP = 20410;
const MQTT = 20411;
const TOKEN_A = 'token-a-0123456789abcdef';
const TOKEN_B = 'token-b-0123456789abcdef';
const root = new URL('..', import.meta.url).pathname;

test('SIGHUP reloads token and credentials, reports what needs a restart, refuses an invalid config and runs on', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nsops-reload-'));
  const tokenFile = join(dir, 'api-token');
  const creds = join(dir, 'mqtt.credentials');
  const configFile = join(dir, 'gateway.json');
  const config = { mqtt: { port: MQTT, credentialsFile: creds }, http: { port: HTTP, tokenFile, loopbackExempt: false }, store: { path: join(dir, 'gw.db') } };
  writeFileSync(tokenFile, TOKEN_A + '\n', { mode: 0o600 });
  const firstPassword = await addCredential(creds, 'early');
  writeFileSync(configFile, JSON.stringify(config));
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'gateway', '--config', configFile], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  const status = async (token: string) => (await fetch(`http://127.0.0.1:${HTTP}/api/sensors`, { headers: { authorization: `Bearer ${token}` } })).status;
  const login = (id: string, password: string) => connect(`mqtt://127.0.0.1:${MQTT}`, { username: id, password, clientId: `netsensor-${id}`, connectTimeout: 3000 })
    .then(async (c) => { await c.endAsync(); return 'ok'; }, (e: Error) => e.message);
  const hup = async (expect: RegExp) => {
    const waiting = waitForOutput(child, expect, 10_000);
    child.kill('SIGHUP');
    await waiting;
  };
  try {
    await waitForOutput(child, /netsensor gateway: dashboard/, 30_000);
    assert.is(await status(TOKEN_A), 200);
    assert.is(await status(TOKEN_B), 401);
    assert.is(await login('early', firstPassword), 'ok');
    const latePassword = await addCredential(creds, 'late');
    assert.match(await login('late', latePassword), /bad username or password|not authorized/i, 'not admitted before the reload');

    writeFileSync(tokenFile, TOKEN_B + '\n', { mode: 0o600 });
    await hup(/configuration reloaded/);
    assert.is(await status(TOKEN_B), 200, 'new token accepted');
    assert.is(await status(TOKEN_A), 401, 'old token refused');
    assert.is(await login('late', latePassword), 'ok', 'a sensor added to the credentials file is admitted');

    writeFileSync(configFile, JSON.stringify({ ...config, http: { ...config.http, port: HTTP + 2 }, store: { ...config.store, retentionDays: 7 } }));
    await hup(/take effect only after a restart/);
    assert.match(log, /"settings":\["http\.port"\]/);
    assert.match(log, /"applied":\["store\.retentionDays"\]/);
    assert.is(await status(TOKEN_B), 200, 'still on the old port');

    writeFileSync(configFile, '{ "http": { "port": ');
    await hup(/reload refused: the new configuration is invalid/);
    writeFileSync(configFile, JSON.stringify({ ...config, http: { ...config.http, tokn: 'x' } }));
    await hup(/unknown setting 'http\.tokn'/);
    writeFileSync(configFile, JSON.stringify(config));
    writeFileSync(creds, 'this is not a credentials line\n');
    await hup(/reload refused: a file it names is unusable/);
    assert.is(child.exitCode, null, 'still running');
    assert.is(await status(TOKEN_B), 200);
    assert.is(await login('late', latePassword), 'ok', 'the previous credentials stay in use');
    assert.not.ok(log.includes(TOKEN_B) || log.includes(TOKEN_A), 'tokens never logged');

    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    assert.is(await exited, 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
