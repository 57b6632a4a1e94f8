/**
 * The one settings system (common/settings.ts) as both services use it: unknown keys refused at any depth with
 * the key path named, environment names derived the same way (the gateway's older names still read), flags in
 * other units, and --help written from the tables so that it lists every setting.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetsensorError } from '../common/errors.ts';
import { defineSettings, envNamesOf, flagSpec } from '../common/settings.ts';
import * as gateway from '../gateway/config.ts';
import * as sensor from '../sensor/config.ts';

const dir = mkdtempSync(join(tmpdir(), 'ns-settings-'));
const root = new URL('..', import.meta.url).pathname;
const pcap = join(dir, 'x.pcap');
writeFileSync(pcap, Buffer.alloc(24));

function json(name: string, obj: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, JSON.stringify(obj));
  return p;
}

function configError(f: () => unknown): NetsensorError {
  try {
    f();
  } catch (e) {
    assert.instance(e, NetsensorError);
    assert.is((e as NetsensorError).code, 'ERR_CONFIG');
    return e as NetsensorError;
  }
  return assert.unreachable('accepted') as never;
}

function cli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { cwd: root, encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env } });
}

test('gateway: unknown keys are refused at any depth, naming the key path', () => {
  for (const [obj, key] of [
    [{ store: { retentionDay: 5 } }, 'store.retentionDay'],
    [{ http: { tokne: 'x'.repeat(20) } }, 'http.tokne'],
    [{ mqtt: { tls: { cert: 'a.pem' } } }, 'mqtt.tls.cert'],
    [{ htpp: {} }, 'htpp'],
  ] as const) {
    const e = configError(() => gateway.loadConfig({ file: json('gw.json', obj) }));
    assert.match(e.message, `unknown setting '${key}'`);
    assert.is(e.detail?.key, key);
  }
  const typo = configError(() => gateway.loadConfig({ file: json('gw.json', { store: { retentionDay: 5 } }) }));
  assert.match(typo.message, /did you mean 'store\.retentionDays'\?/);
  const group = configError(() => gateway.loadConfig({ file: json('gw.json', { correlation: 5 }) }));
  assert.match(group.message, /'correlation' is a group of settings/);
  const prog = configError(() => gateway.loadConfig({ flags: { store: { retentionDay: 5 } } as never }));
  assert.match(prog.message, /unknown setting 'store\.retentionDay'/, 'programmatic values are checked the same way');
});

test('sensor: unknown keys are refused at any depth, naming the key path', () => {
  for (const [obj, key] of [[{ outbox: { maxRow: 5 } }, 'outbox.maxRow'], [{ broker: { tls: { ca: 'x' } } }, 'broker.tls'], [{ captur: {} }, 'captur']] as const) {
    const e = configError(() => sensor.loadConfig(['--config', json('s.json', obj), '--pcap', pcap], {}));
    assert.match(e.message, `unknown setting '${key}'`);
    assert.is(e.detail?.key, key);
  }
});

test('the commands: an unknown nested key is one error line and exit code 2, for both services', () => {
  const gw = cli(['gateway', '--config', json('gw-bad.json', { store: { retentionDay: 5 } })]);
  const se = cli(['sensor', '--config', json('s-bad.json', { outbox: { maxRow: 5 } }), '--pcap', pcap]);
  for (const r of [gw, se]) {
    assert.is(r.status, 2, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.is(lines.length, 1, r.stderr);
    assert.match(lines[0], /^netsensor: .*unknown setting '(store\.retentionDay|outbox\.maxRow)'.* \[ERR_CONFIG\]$/);
  }
});

test('gateway: derived environment names override the file; the older names still work', () => {
  const file = json('gw-env.json', { correlation: { windowMs: 1000, scanPorts: 30 }, http: { port: 9000 } });
  const c = gateway.loadConfig({ file, env: { NETSENSOR_GW_CORRELATION_WINDOW_MS: '2000', NETSENSOR_GW_HOME_ASSISTANT_ENABLED: 'true' } });
  assert.is(c.correlation.windowMs, 2000, 'env beats file');
  assert.is(c.correlation.scanPorts, 30, 'file beats default');
  assert.is(c.homeAssistant.enabled, true);
  const token = 'a-token-of-24-characters';
  for (const [name, path, value] of [
    ['NETSENSOR_GW_API_TOKEN', 'http.token', token], ['NETSENSOR_GW_HTTP_TOKEN', 'http.token', token],
    ['NETSENSOR_GW_BROKER', 'mqtt.broker', 'mqtt://b:1883'], ['NETSENSOR_GW_DB', 'store.path', '/x/gw.db'],
    ['NETSENSOR_GW_CREDENTIALS', 'mqtt.credentialsFile', '/x/creds'], ['NETSENSOR_GW_MODEL_KEYS', 'models.trustedKeysFile', '/x/keys'],
    ['NETSENSOR_GW_HTTP_PORT', 'http.port', 9100], ['NETSENSOR_GW_MQTT_USERNAME', 'mqtt.username', 'gw'], ['NETSENSOR_GW_MQTT_PASSWORD', 'mqtt.password', 'pw'],
  ] as const) {
    const cfg = gateway.loadConfig({ file, env: { [name]: String(value) } }) as unknown as Record<string, Record<string, unknown>>;
    const [group, key] = path.split('.');
    assert.is(cfg[group][key], value, name);
  }
  const clash = configError(() => gateway.loadConfig({ env: { NETSENSOR_GW_API_TOKEN: token, NETSENSOR_GW_HTTP_TOKEN: token + '-other' } }));
  assert.match(clash.message, /NETSENSOR_GW_HTTP_TOKEN and NETSENSOR_GW_API_TOKEN disagree/);
  assert.not.match(clash.message, /a-token/, 'a secret is never echoed');
  const bad = configError(() => gateway.loadConfig({ env: { NETSENSOR_GW_STORE_RETENTION_DAYS: '0' } }));
  assert.match(bad.message, /store\.retentionDays \(env NETSENSOR_GW_STORE_RETENTION_DAYS\): 0 is out of range \(0, ∞\]/);
  assert.equal(gateway.envNamesFor('store.path'), ['NETSENSOR_GW_STORE_PATH', 'NETSENSOR_GW_DB']);
});

test('sensor: environment overrides the file, flags override the environment', () => {
  const file = json('s-env.json', { outbox: { maxRows: 10 }, core: { interimS: 10 } });
  const { config } = sensor.loadConfig(['--config', file, '--pcap', pcap, '--interim-s', '20'], { NETSENSOR_OUTBOX_MAX_ROWS: '20', NETSENSOR_CORE_INTERIM_S: '15', NETSENSOR_CORE_MAX_FLOWS: '4096' });
  assert.is(config.outbox.maxRows, 20);
  assert.is(config.core.interimS, 20);
  assert.is(config.core.maxFlows, 4096);
});

test('gateway flags: units, switches and pairs', () => {
  const r = gateway.loadConfigFromArgs(['--max-db-mb', '2', '--window-s', '1.5', '--homeassistant', '--token-required-on-loopback', '--log-level', 'debug', '--tls-cert', 'c.pem', '--tls-key', 'k.pem'], {});
  assert.ok(!r.help);
  if (r.help) return;
  assert.is(r.config.store.maxBytes, 2 * 1024 * 1024);
  assert.is(r.config.correlation.windowMs, 1500);
  assert.is(r.config.homeAssistant.enabled, true);
  assert.is(r.config.http.loopbackExempt, false);
  assert.equal(r.config.mqtt.tls, { certFile: 'c.pem', keyFile: 'k.pem' });
  assert.is(r.logLevel, 'debug');
  const plain = gateway.loadConfigFromArgs([], {});
  assert.ok(!plain.help && plain.config.mqtt.tls === undefined && plain.config.homeAssistant.enabled === false);
  assert.match(configError(() => gateway.loadConfigFromArgs(['--tls-cert', 'c.pem'], {})).message, /go together/);
  assert.match(configError(() => gateway.loadConfigFromArgs(['--max-db-mb', 'lots'], {})).message, /store\.maxBytes \(--max-db-mb\): expected a number/);
  assert.match(configError(() => gateway.loadConfigFromArgs(['--bogus'], {})).message, /Unknown option '--bogus'/);
});

test('--help of both commands lists every setting: flag, file path and environment names', () => {
  for (const [command, settings, prefix] of [['sensor', sensor.SETTINGS, 'NETSENSOR_'], ['gateway', gateway.SETTINGS, 'NETSENSOR_GW_']] as const) {
    const r = cli([command, '--help']);
    assert.is(r.status, 0, r.stderr);
    const table = { envPrefix: prefix, defaults: {}, settings };
    for (const s of settings) {
      assert.ok(r.stdout.includes(`file: ${s.path}   env: ${envNamesOf(table, s).join(' or ')}`), `${command} --help: ${s.path}`);
      const f = flagSpec(s);
      if (f) assert.ok(r.stdout.includes(`--${f.name}`), `${command} --help: --${f.name}`);
    }
  }
});

test('a settings table checks itself: a default without a setting is a bug found at load', () => {
  assert.throws(() => defineSettings({ envPrefix: 'X_', defaults: { a: 1, b: { c: 2 } }, settings: [{ path: 'a', kind: 'int', help: '' }] }), /default b\.c has no setting/);
  assert.throws(() => defineSettings({ envPrefix: 'X_', defaults: {}, settings: [{ path: 'a', kind: 'int', help: '', flag: 'f' }, { path: 'b', kind: 'int', help: '', flag: 'f' }] }), /flag --f twice/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
