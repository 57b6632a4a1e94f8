import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaults, envName, loadConfig } from '../sensor/config.ts';
import { NetsensorError } from '../common/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'nssen-config-'));
const pcap = join(dir, 'x.pcap');
writeFileSync(pcap, Buffer.alloc(24));
const root = new URL('..', import.meta.url).pathname;

test('precedence: defaults < file < environment < flags', () => {
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ id: 'from-file', broker: { url: 'mqtt://file:1883', keepaliveS: 7 }, outbox: { maxRows: 10 } }));
  const env = { NETSENSOR_BROKER_URL: 'mqtt://env:1883', NETSENSOR_OUTBOX_MAX_ROWS: '20' };
  const { config } = loadConfig(['--config', file, '--pcap', pcap, '--outbox-max-rows', '30', '--mqtt-version', '4'], env);
  assert.is(config.id, 'from-file');
  assert.is(config.broker.url, 'mqtt://env:1883');
  assert.is(config.broker.keepaliveS, 7);
  assert.is(config.outbox.maxRows, 30);
  assert.is(config.broker.mqttVersion, 4);
  assert.is(config.core.unansweredS, defaults.core.unansweredS, 'default');
  assert.is(envName('outbox.batchMaxEvents'), 'NETSENSOR_OUTBOX_BATCH_MAX_EVENTS');
});

test('bad settings are ERR_CONFIG naming the setting and the source', () => {
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [['--pcap', pcap, '--outbox-max-rows=-5'], {}, /outbox\.maxRows \(--outbox-max-rows\): -5 is out of range/],
    [['--pcap', pcap], { NETSENSOR_BROKER_KEEPALIVE_S: 'soon' }, /broker\.keepaliveS \(env NETSENSOR_BROKER_KEEPALIVE_S\): expected a number/],
    [['--pcap', pcap, '--mqtt-version', '3'], {}, /expected 4, 5 or auto/],
    [['--pcap', pcap, '--iface', 'eth0'], {}, /not both/],
    [[], {}, /one of --iface IF or --pcap FILE is required/],
    [['--pcap', join(dir, 'missing.pcap')], {}, /capture\.pcap: cannot read .*ENOENT/],
    [['--pcap', pcap, '--id', 'bad/id'], {}, /id \(--id\).*not valid/],
    [['--pcap', pcap, '--bogus', '1'], {}, /Unknown option '--bogus'/],
    [['--pcap', pcap, '--cert', pcap], {}, /cert and broker\.key go together/],
  ];
  for (const [argv, env, re] of cases) {
    try {
      loadConfig(argv, env);
      assert.unreachable(`accepted ${argv.join(' ')}`);
    } catch (e) {
      assert.instance(e, NetsensorError);
      assert.is((e as NetsensorError).code, 'ERR_CONFIG');
      assert.match((e as Error).message, re);
    }
  }
  const file = join(dir, 'typo.json');
  writeFileSync(file, JSON.stringify({ outbox: { maxRow: 5 } }));
  assert.throws(() => loadConfig(['--config', file, '--pcap', pcap], {}), /unknown setting 'outbox\.maxRow'/);
});

test('the command: bad configuration → one clear error line, exit code 2', () => {
  for (const args of [['--pcap', pcap, '--broker', 'http://x'], ['--replay', 'slow', '--pcap', pcap], ['--config', join(dir, 'nope.json'), '--pcap', pcap]]) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'sensor', ...args], { cwd: root, encoding: 'utf8', timeout: 30_000 });
    assert.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.is(lines.length, 1, r.stderr);
    assert.match(lines[0], /^netsensor: .+ \[ERR_CONFIG\]$/);
  }
  const help = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'sensor', '--help'], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  assert.is(help.status, 0);
  assert.match(help.stdout, /--outbox-max-rows/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test('ota: pinned keys from files, inline base64, env list or file array; a bad key is ERR_CONFIG', async () => {
  const { generateSigningKey, rawPublicKey } = await import('../common/keys.ts');
  const a = generateSigningKey();
  const b = generateSigningKey();
  const pem = join(dir, 'a.pub');
  writeFileSync(pem, a.publicKey.export({ format: 'pem', type: 'spki' }) as string);
  const inline = Buffer.from(rawPublicKey(b.publicKey)).toString('base64');
  assert.equal(loadConfig(['--pcap', pcap]).config.ota, { channel: 'stable', pinnedKeys: [], stateDir: 'netsensor-ota' }, 'OTA off by default');
  const flags = loadConfig(['--pcap', pcap, '--ota-key', pem, '--ota-key', inline, '--ota-channel', 'beta']).config.ota;
  assert.equal(flags.pinnedKeys, [pem, inline]);
  assert.is(flags.channel, 'beta');
  assert.equal(loadConfig(['--pcap', pcap], { NETSENSOR_OTA_PINNED_KEYS: `${pem}, ${inline}` }).config.ota.pinnedKeys, [pem, inline]);
  const file = join(dir, 'ota.json');
  writeFileSync(file, JSON.stringify({ ota: { pinnedKeys: [inline], stateDir: '/var/lib/netsensor/ota' } }));
  assert.equal(loadConfig(['--config', file, '--pcap', pcap]).config.ota.pinnedKeys, [inline]);
  for (const [args, re] of [
    [['--ota-key', join(dir, 'none.pub')], /ota\.pinnedKeys: .*none\.pub.*ENOENT/],
    [['--ota-key', 'not-a-key'], /ota\.pinnedKeys: not-a-key/],
    [['--ota-channel', 'a/b'], /ota\.channel \(--ota-channel\)/],
  ] as Array<[string[], RegExp]>) {
    try {
      loadConfig(['--pcap', pcap, ...args]);
      assert.unreachable(`accepted ${args.join(' ')}`);
    } catch (e) {
      assert.instance(e, NetsensorError);
      assert.match((e as Error).message, re);
    }
  }
});

test.run();
