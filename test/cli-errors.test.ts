/**
 * The CLI error contract (README, exit codes): bad input or configuration ends with exit code 2, exactly one
 * line on stderr and no stack trace, promptly — servers that cannot bind exit instead of running on. Every case
 * runs the real CLI as a subprocess. Logging is at `error` so the daemons' start-up info lines (the operator's
 * choice) do not count as lines; the error line itself is printed by cli/main.ts at any level.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { frame, pcapFile, type Packet } from './helpers/pcap-writer.ts';
import { isRoot } from './helpers/tools.ts';

const root = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'netsensor-clierr-'));
chmodSync(dir, 0o755); // the read-only case runs as an unprivileged user when the tests run as root
const path = (name: string) => join(dir, name);

// Ports no other test uses: one held by this process for each "in use" case.
const MQTT_BUSY = 18771, HTTP_BUSY = 18772, METRICS_BUSY = 18773;

const packets: Packet[] = Array.from({ length: 3000 }, (_, i) => ({
  ts: 1700000000 + i * 0.001,
  data: frame({ src: `10.7.${i % 200}.1`, dst: '10.7.0.2', proto: 'udp', sport: 1024 + i, dport: 53, payload: 60 + (i % 50) }),
}));
const capture = path('ok.pcap');
writeFileSync(capture, pcapFile(packets));
const gz = gzipSync(pcapFile(packets));
writeFileSync(path('cut.pcap.gz'), gz.subarray(0, gz.length >> 1));
writeFileSync(path('text.pcap'), 'this is not a capture\n');
writeFileSync(path('empty.pcap'), '');
writeFileSync(path('a-file'), 'x');
const readOnly = path('read-only');
mkdirSync(readOnly, { mode: 0o555 });
chmodSync(readOnly, 0o555);

interface Run { code: number | null; stderr: string; ms: number }
function cli(args: string[], opts: { unprivileged?: boolean } = {}): Run {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'cli/main.ts'), ...args], {
    cwd: root, encoding: 'utf8', timeout: 15_000, killSignal: 'SIGKILL',
    env: { ...process.env, NETSENSOR_LOG_LEVEL: 'error', NO_COLOR: '1' },
    ...(opts.unprivileged && isRoot() ? { uid: 65534, gid: 65534 } : {}),
  });
  return { code: r.status, stderr: r.stderr, ms: Date.now() - t0 };
}

function expectOneLine(r: Run, pattern: RegExp): void {
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.ok(r.ms < 8000, `ended after ${r.ms} ms (a hang?); stderr: ${r.stderr}`);
  assert.is(r.code, 2, `exit code ${r.code}; stderr: ${r.stderr}`);
  assert.is(lines.length, 1, `one stderr line expected, got ${lines.length}:\n${r.stderr}`);
  assert.not.ok(r.stderr.includes('    at '), `stack frame on stderr:\n${r.stderr}`);
  assert.match(lines[0], pattern);
}

const held: Server[] = [];
test.before(async () => {
  for (const port of [MQTT_BUSY, HTTP_BUSY, METRICS_BUSY]) {
    const s = createServer();
    await new Promise<void>((resolve, reject) => { s.once('error', reject); s.listen(port, '127.0.0.1', resolve); });
    held.push(s);
  }
});
test.after(() => { for (const s of held) s.close(); });

const gateway = (name: string, extra: string[]) => ['gateway', '--db', path(`${name}.db`), '--mqtt-host', '127.0.0.1', '--mqtt-port', '0',
  '--http-host', '127.0.0.1', '--http-port', '0', ...extra];
// the broker is never reached in these cases: each fails before or instead of delivery
const sensor = (name: string, extra: string[]) => ['sensor', '--id', 's1', '--replay', 'fast', '--db', path(`${name}.db`),
  '--broker', 'mqtt://127.0.0.1:1', ...extra];
const pinned = () => {
  const keys = path('keys');
  const r = cli(['keys', 'generate', '--out', keys]);
  assert.is(r.code, 0, r.stderr);
  return join(keys, 'signing.pub');
};

test('gateway: an MQTT port in use or an address it cannot bind ends start-up', () => {
  expectOneLine(cli(gateway('g1', ['--mqtt-port', String(MQTT_BUSY)])), /embedded broker cannot listen on 127\.0\.0\.1:18771.*\[ERR_CONFIG\]$/);
  expectOneLine(cli(gateway('g2', ['--mqtt-host', '192.0.2.1'])), /embedded broker cannot listen on 192\.0\.2\.1:0/);
});

test('gateway: an HTTP port in use or an address it cannot bind ends start-up', () => {
  expectOneLine(cli(gateway('g3', ['--http-port', String(HTTP_BUSY)])), /HTTP server cannot listen on 127\.0\.0\.1:18772/);
  expectOneLine(cli(gateway('g4', ['--http-host', '192.0.2.1'])), /HTTP server cannot listen on 192\.0\.2\.1:0/);
});

test('gateway: an unwritable --db, a broker URL with port 99999, add-sensor on an unwritable path', () => {
  expectOneLine(cli(gateway('g5', ['--db', join(path('a-file'), 'gw.db')])), /cannot open the event database .*a-file\/gw\.db.*\[ERR_CONFIG\]$/);
  expectOneLine(cli(gateway('g6', ['--broker', 'mqtt://127.0.0.1:99999'])), /mqtt\.broker \(--broker\).*99999.*not a valid URL/);
  expectOneLine(cli(['gateway', 'add-sensor', 's1', '--credentials', join(path('a-file'), 'creds')]), /cannot write credentials file .*ENOTDIR/);
});

test('sensor: broker URL with port 99999, metrics port in use, --max-flows -1', () => {
  expectOneLine(cli(sensor('s1', ['--pcap', capture, '--broker', 'mqtt://127.0.0.1:99999'])), /broker\.url \(--broker\).*not a valid URL.*\[ERR_CONFIG\]$/);
  expectOneLine(cli(sensor('s2', ['--pcap', capture, '--metrics-host', '127.0.0.1', '--metrics-port', String(METRICS_BUSY)])),
    /metrics endpoint cannot listen on 127\.0\.0\.1:18773/);
  expectOneLine(cli(sensor('s3', ['--pcap', capture, '--max-flows', '-1'])), /core\.maxFlows \(--max-flows\): -1 is out of range/);
});

test('sensor: an OTA state directory under procfs (once a hang), a file, under a file, read-only', () => {
  const key = pinned();
  const ota = (name: string, stateDir: string, unprivileged = false) =>
    cli(sensor(name, ['--pcap', capture, '--ota-key', key, '--ota-state-dir', stateDir]), { unprivileged });
  expectOneLine(ota('o1', '/proc/netsensor-ota-state'), /ota\.stateDir \/proc\/netsensor-ota-state is not a writable directory: ENOENT/);
  expectOneLine(ota('o2', path('a-file')), /ota\.stateDir .*a-file is not a writable directory: ENOTDIR/);
  expectOneLine(ota('o3', join(path('a-file'), 'ota')), /ota\.stateDir .*a-file\/ota is not a writable directory: ENOTDIR/);
  // as root a mode bit is no obstacle: the child runs as nobody then (its outbox directory is world-writable)
  const outboxDir = path('outbox-any');
  mkdirSync(outboxDir, { mode: 0o777 });
  chmodSync(outboxDir, 0o777);
  chmodSync(dirname(key), 0o755); // keys generate makes it 0700
  chmodSync(key, 0o644);
  const r = cli(['sensor', '--id', 's1', '--replay', 'fast', '--db', join(outboxDir, 'o4.db'), '--broker', 'mqtt://127.0.0.1:1',
    '--pcap', capture, '--ota-key', key, '--ota-state-dir', readOnly], { unprivileged: true });
  expectOneLine(r, /ota\.stateDir .*read-only is not a writable directory: EACCES/);
});

test('sensor --pcap: a text file and an empty file are bad input', () => {
  expectOneLine(cli(sensor('p1', ['--pcap', path('text.pcap')])), /not a pcap or pcapng capture: .*text\.pcap.*\[ERR_CAPTURE_FORMAT\]$/);
  expectOneLine(cli(sensor('p2', ['--pcap', path('empty.pcap')])), /not a pcap or pcapng capture: .*empty\.pcap \(empty\)/);
});

test('flows --max-flows -1; detect and keys usage errors are one line, not the help', () => {
  expectOneLine(cli(['flows', capture, '--max-flows', '-1']), /--max-flows expects a positive integer, got '-1'/);
  expectOneLine(cli(['detect', capture, '--bogus']), /Unknown option '--bogus'.*\(netsensor detect --help\) \[ERR_USAGE\]$/);
  expectOneLine(cli(['detect']), /detect needs exactly one capture file/);
  expectOneLine(cli(['keys']), /keys needs a subcommand: generate or show/);
  expectOneLine(cli(['keys', 'generate']), /keys generate needs --out DIR \(netsensor keys --help\)/);
  expectOneLine(cli(['version', 'extra']), /version takes no arguments/);
});

/** A capture cut off part-way, plain or gzip: flows up to the cut, one warning line, "truncated" and exit 0. */
function expectTruncated(args: string[], warning: RegExp): Record<string, any> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'cli/main.ts'), ...args], {
    cwd: root, encoding: 'utf8', timeout: 30_000, maxBuffer: 1 << 26, env: { ...process.env, NETSENSOR_LOG_LEVEL: 'error' },
  });
  assert.is(r.status, 0, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.is(lines.length, 2, `a warning and the summary:\n${r.stderr}`);
  assert.match(lines[0], warning);
  const summary = JSON.parse(lines[1]);
  assert.is(summary.truncated, true);
  return { summary, records: r.stdout.split('\n').filter(Boolean) };
}

test('a truncated capture, plain or gzip, is read up to the cut: warning, "truncated", exit 0 (flows and detect)', () => {
  writeFileSync(path('cut.pcap'), pcapFile(packets).subarray(0, 24 + 1500 * 30 + 7));
  const plain = expectTruncated(['flows', path('cut.pcap')], /^netsensor: warning: capture cut off mid-record/);
  assert.ok(plain.records.length > 100 && plain.records.length < 3000, `flows before the cut: ${plain.records.length}`);
  const gzipped = expectTruncated(['flows', path('cut.pcap.gz')], /^netsensor: warning: compressed capture cut off or corrupt after \d+ decompressed bytes/);
  assert.ok(gzipped.records.length > 100 && gzipped.records.length < 3000, `flows before the cut: ${gzipped.records.length}`);
  expectTruncated(['detect', path('cut.pcap.gz')], /^netsensor: warning: compressed capture cut off or corrupt/);
  expectTruncated(['detect', path('cut.pcap'), '--alerts'], /^netsensor: warning: capture cut off mid-record/);
});

test('-V, --version and version', () => {
  const v = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version as string;
  for (const flag of ['-V', '--version']) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'cli/main.ts'), flag], { cwd: root, encoding: 'utf8' });
    assert.is(r.status, 0);
    assert.is(r.stdout, `${v}\n`);
  }
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'cli/main.ts'), 'version'], { cwd: root, encoding: 'utf8' });
  assert.is(r.status, 0);
  assert.match(r.stdout, new RegExp(`^netsensor ${v.replace(/\./g, '\\.')}\nfeature schema nsf\\d+-[0-9a-f]{12}\nnode v\\d+`));
});

test('keys: show a missing file, generate into an unwritable path', () => {
  expectOneLine(cli(['keys', 'show', path('no-such.pub')]), /cannot read key file .*no-such\.pub: ENOENT \[ERR_KEY\]$/);
  expectOneLine(cli(['keys', 'generate', '--out', join(path('a-file'), 'keys')]), /cannot write keys to .*a-file\/keys: ENOTDIR/);
});

test('model info FILE reads the positional file; a second one is a usage error', () => {
  const ok = cli(['model', 'info', join(root, 'models/netsensor-detect.onnx')]);
  assert.is(ok.code, 0, ok.stderr);
  expectOneLine(cli(['model', 'info', path('a-file'), path('text.pcap')]), /model info takes one model file.*\[ERR_USAGE\]$/);
});

test.run();
