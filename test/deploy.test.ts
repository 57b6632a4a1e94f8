/**
 * Deployment artefacts: the systemd units parse and carry the hardening the docs promise, the capability set
 * the sensor unit grants is enough for capture (and nothing less would be), the example configurations are
 * accepted by the real loaders, and the arm64 report comparison rejects a disagreement.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withTools } from './helpers/tools.ts';
import { loadConfig as loadSensorConfig } from '../sensor/config.ts';
import { loadConfig as loadGatewayConfig } from '../gateway/config.ts';

const repoPath = (rel: string) => new URL(`../${rel}`, import.meta.url).pathname;
const read = (rel: string) => readFileSync(repoPath(rel), 'utf8');

type Unit = Record<string, Record<string, string[]>>;

/** systemd unit syntax as far as these units use it: sections, Key=Value, comments, repeated keys. */
function parseUnit(text: string): Unit {
  const unit: Unit = {};
  let section = '';
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[([A-Za-z]+)\]$/.exec(line);
    if (sec) { section = sec[1]; unit[section] ??= {}; continue; }
    const kv = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(line);
    if (!kv || !section) throw new Error(`line ${i + 1}: not a directive: ${raw}`);
    (unit[section][kv[1]] ??= []).push(kv[2].trim());
  }
  return unit;
}

const UNITS = ['netsensor-sensor.service', 'netsensor-gateway.service'];
const units = Object.fromEntries(UNITS.map((u) => [u, parseUnit(read(`deploy/systemd/${u}`))]));
const last = (u: Unit, key: string) => u.Service[key]?.at(-1);

test('both units run as the dedicated user with restart on failure and the promised sandbox', () => {
  for (const [name, u] of Object.entries(units)) {
    assert.ok(u.Unit && u.Service && u.Install, `${name}: sections`);
    const want: Record<string, string> = {
      User: 'netsensor', Group: 'netsensor', Restart: 'on-failure', NoNewPrivileges: 'yes', ProtectSystem: 'strict',
      ProtectHome: 'yes', PrivateTmp: 'yes', StateDirectory: 'netsensor', ConfigurationDirectory: 'netsensor',
    };
    for (const [k, v] of Object.entries(want)) assert.is(last(u, k), v, `${name}: ${k}`);
    assert.is(u.Install.WantedBy?.[0], 'multi-user.target', `${name}: enabled at boot`);
    // V8 compiles JavaScript and WebAssembly at run time: W^X enforcement would kill the process at start.
    assert.not.ok(u.Service.MemoryDenyWriteExecute, `${name}: MemoryDenyWriteExecute breaks V8`);
  }
  const sysusers = read('deploy/systemd/netsensor.sysusers.conf');
  assert.match(sysusers, /^u netsensor /m);
});

test('only the sensor holds a capability, and only CAP_NET_RAW', () => {
  const sensor = units['netsensor-sensor.service'];
  assert.is(last(sensor, 'AmbientCapabilities'), 'CAP_NET_RAW');
  assert.is(last(sensor, 'CapabilityBoundingSet'), 'CAP_NET_RAW');
  assert.match(last(sensor, 'RestrictAddressFamilies') ?? '', /\bAF_PACKET\b/);
  const gateway = units['netsensor-gateway.service'];
  assert.is(last(gateway, 'AmbientCapabilities'), '');
  assert.is(last(gateway, 'CapabilityBoundingSet'), '');
  assert.not.match(last(gateway, 'RestrictAddressFamilies') ?? '', /AF_PACKET/);
});

test('each unit starts an existing CLI command with the shipped Node and its configuration file', () => {
  const main = read('cli/main.ts');
  for (const [name, u] of Object.entries(units)) {
    const exec = last(u, 'ExecStart')!.split(/\s+/);
    assert.is(exec[0], '/opt/netsensor/node/bin/node', name);
    assert.is(exec[1], '/opt/netsensor/dist/cli/main.js', name);
    const command = exec[2];
    assert.match(main, new RegExp(`^\\s+${command}: '`, 'm'), `${name}: '${command}' is a netsensor command`);
    assert.equal(exec.slice(3), ['--config', `%E/netsensor/${command}.json`], name);
  }
});

withTools(test, ['systemd-analyze'])('systemd-analyze verify accepts both units and would flag a broken one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netsensor-units-'));
  try {
    // verify checks that ExecStart's binary exists: point it at this machine's node, keep everything else.
    const copy = (name: string, mutate = (s: string) => s) => {
      const text = mutate(read(`deploy/systemd/${name}`)).replaceAll('/opt/netsensor/node/bin/node', process.execPath);
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const verify = (file: string) => spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8' });
    for (const name of UNITS) {
      const r = verify(copy(name));
      assert.is(r.status, 0, `${name}: ${r.stderr}`);
      assert.is(r.stderr.trim(), '', `${name}: systemd-analyze complained: ${r.stderr}`);
    }
    const broken = verify(copy('netsensor-sensor.service', (s) => s.replace('Restart=on-failure', 'Restart=sometimes')));
    assert.match(broken.stderr, /restart specifier/i, 'a bad value must be reported');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The unit's capability set is taken from the file and applied with setpriv to an unprivileged user, the way
 * systemd applies it; tcpdump (what the sensor runs for live capture) must capture in promiscuous mode with
 * it, and must fail without it — so CAP_NET_ADMIN is really not needed and CAP_NET_RAW really is.
 */
withTools(test, ['tcpdump', 'setpriv', 'ip', 'ping'], { root: true })('CAP_NET_RAW alone is enough for promiscuous capture as an unprivileged user', async () => {
  const caps = last(units['netsensor-sensor.service'], 'AmbientCapabilities')!
    .split(/\s+/).map((c) => '+' + c.replace(/^CAP_/, '').toLowerCase()).join(',');
  const ns = `nsedge7-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const capture = (capArgs: string[]) => new Promise<{ code: number | null; bytes: Buffer; stderr: string }>((resolve) => {
      const child = spawn('ip', ['netns', 'exec', ns, 'setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups',
        ...capArgs, '--no-new-privs', 'timeout', '10', 'tcpdump', '-U', '-w', '-', '-c', '3', '-i', 'lo', 'icmp']);
      const out: Buffer[] = [];
      let stderr = '';
      child.stdout.on('data', (d) => out.push(d));
      child.stderr.on('data', (d) => { stderr += d; });
      child.on('close', (code) => resolve({ code, bytes: Buffer.concat(out), stderr }));
    });
    const denied = await capture(['--inh-caps=-all', '--bounding-set=-all']);
    assert.is.not(denied.code, 0);
    assert.match(denied.stderr, /permission|not permitted/i);

    const running = capture([`--inh-caps=-all,${caps}`, `--ambient-caps=-all,${caps}`, `--bounding-set=-all,${caps}`]);
    let promiscuous = false;
    for (let i = 0; i < 40 && !promiscuous; i++) {
      await new Promise((r) => setTimeout(r, 100));
      promiscuous = /promiscuity [1-9]/.test(execFileSync('ip', ['-n', ns, '-d', 'link', 'show', 'lo'], { encoding: 'utf8' }));
    }
    execFileSync('ip', ['netns', 'exec', ns, 'ping', '-c', '3', '-i', '0.2', '-W', '1', '127.0.0.1'], { stdio: 'ignore' });
    const ok = await running;
    assert.is(ok.code, 0, ok.stderr);
    assert.ok(promiscuous, 'tcpdump put the interface into promiscuous mode');
    assert.is(ok.bytes.readUInt32LE(0), 0xa1b2c3d4, 'a pcap stream came out');
    assert.ok(ok.bytes.length > 24 + 3 * 16, `${ok.bytes.length} bytes`);
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
});

test('the example configurations pass the sensor and gateway loaders', () => {
  const sensor = loadSensorConfig(['--config', repoPath('deploy/config/sensor.json')], {}).config;
  assert.is(sensor.capture.iface, 'eth0');
  assert.match(sensor.outbox.db, /^\/var\/lib\/netsensor\//, 'the outbox lives in the StateDirectory');
  const gateway = loadGatewayConfig({ file: repoPath('deploy/config/gateway.json') });
  assert.match(gateway.store.path, /^\/var\/lib\/netsensor\//, 'the event store lives in the StateDirectory');
  assert.is(gateway.http.token, undefined, 'no secret in the example: install.sh generates the API token');
});

test('the deploy scripts are valid shell and JavaScript', () => {
  for (const dir of ['deploy', 'deploy/arm64']) {
    for (const f of readdirSync(repoPath(dir))) {
      const p = repoPath(`${dir}/${f}`);
      if (f.endsWith('.sh')) execFileSync('bash', ['-n', p]);
      if (f.endsWith('.mjs')) execFileSync(process.execPath, ['--check', p]);
    }
  }
});

test('the arm64 comparison passes agreeing reports and fails on a different flow row or class', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netsensor-compare-'));
  try {
    const report = (arch: string, flowsSha: string, cls: number[], v: number[]) => ({
      arch, cpuModel: 'test', qemuCpu: null, steps: {
        flows: { ok: true, ms: 10, rows: 2, captures: { 'a.pcap': { rows: 2, sha256: flowsSha } } },
        detect: { ok: true, skipped: true, ms: 0, error: 'no detect' },
        ort: { ok: true, ms: 5, models: { 'm.onnx': { rows: 2, outputs: { p: { dims: [2, 2], classes: cls, values: v } } } } },
        sqlite: { ok: true, ms: 1, rows: 2000, journalMode: 'wal' },
        sensor: { ok: true, ms: 1, captures: { 'a.pcap': { events: 3 } }, classes: { scan: 3 }, eventsSha256: 'ee', decodeErrors: 0 },
      },
    });
    const run = (a: object, b: object) => {
      writeFileSync(join(dir, 'a.json'), JSON.stringify(a));
      writeFileSync(join(dir, 'b.json'), JSON.stringify(b));
      return spawnSync(process.execPath, [repoPath('deploy/arm64/compare.mjs'), join(dir, 'a.json'), join(dir, 'b.json')], { encoding: 'utf8' });
    };
    const ref = report('x64', 'aa', [0, 1], [0.9, 0.1, 0.2, 0.8]);
    // Raw outputs may differ within the stated tolerance (1e-3), not beyond it.
    const agree = run(ref, report('arm64', 'aa', [0, 1], [0.8995, 0.1005, 0.2, 0.8]));
    assert.is(agree.status, 0, agree.stdout);
    assert.match(agree.stdout, /SKIP\s+detect/);
    assert.is(run(ref, report('arm64', 'bb', [0, 1], [0.9, 0.1, 0.2, 0.8])).status, 1, 'flow rows differ');
    assert.is(run(ref, report('arm64', 'aa', [0, 0], [0.9, 0.1, 0.6, 0.4])).status, 1, 'classes differ');
    assert.is(run(ref, report('arm64', 'aa', [0, 1], [0.895, 0.105, 0.2, 0.8])).status, 1, 'raw outputs 5e-3 apart');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
