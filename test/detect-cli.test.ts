/**
 * `netsensor detect` end to end with the shipped model on small captures made by the traffic lab
 * (test/fixtures/lab, held-out test runs: never seen in training): attacks are flagged with the right class, a
 * benign capture raises nothing, and a corrupt or incompatible model stops with a clear error and exit code 2.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { onnx } from '../models/onnx/builder.ts';

const root = new URL('..', import.meta.url).pathname;
const fixture = (name: string): string => join(root, 'test/fixtures/lab', name);
const dir = mkdtempSync(join(tmpdir(), 'netsensor-detect-'));

function detect(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'cli/main.ts'), 'detect', ...args], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 });
  const records = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
  const last = r.stderr.trim().split('\n').pop() ?? '';
  let summary: Record<string, any> = {};
  try { summary = JSON.parse(last); } catch { /* error runs print one line */ }
  return { code: r.status, records, stderr: r.stderr, summary };
}

/** capture, expected class, an address every attack flow touches (the attacker, or the victim of a spoofed flood) */
const ATTACKS: [file: string, cls: string, endpoint: string][] = [
  ['scan.pcap', 'scan', '10.232.1.66'],
  ['dos.pcap', 'dos', '10.232.1.10'], // spoofed sources: match on the victim
  ['bruteforce.pcap', 'bruteforce', '10.232.1.66'],
  ['dns_tunnel.pcap', 'dns_tunnel', '10.232.1.66'],
  ['exfil.pcap', 'exfil', '10.232.1.66'],
  ['c2.pcap', 'c2', '10.232.1.66'],
];

for (const [file, cls, attacker] of ATTACKS) {
  test(`detect flags the ${cls} capture with class ${cls}`, () => {
    const r = detect([fixture(file)]);
    assert.is(r.code, 0, r.stderr);
    assert.ok(r.records.length > 0, 'some alerts');
    const attackerRecords = r.records.filter((x) => x.src_ip === attacker || x.dst_ip === attacker);
    const right = attackerRecords.filter((x) => x.class === cls).length;
    // Per flow most of the attacker's flows carry the class (model 1.3.0 calls 3 of the c2 capture's 12 flows
    // bruteforce: MODEL.md); what a subscriber receives is checked below, at alert level.
    assert.ok(right / Math.max(1, attackerRecords.length) > 0.5, `${right}/${attackerRecords.length} attacker alerts are ${cls}`);
    assert.ok((r.summary.by_class?.[cls] ?? 0) >= right);
    const rec = attackerRecords.find((x) => x.class === cls)!;
    for (const k of ['src_ip', 'src_port', 'dst_ip', 'dst_port', 'protocol', 'first_seen_ms', 'last_seen_ms', 'score', 'anomaly', 'model_version', 'top_features']) {
      assert.ok(k in rec, `record has ${k}`);
    }
    assert.ok(rec.score >= 0.5 && rec.score <= 1);
    assert.ok(Array.isArray(rec.top_features) && rec.top_features.length > 0);
    const alerts = detect([fixture(file), '--alerts']);
    assert.is(alerts.code, 0, alerts.stderr);
    assert.equal(Object.keys(alerts.summary.by_class ?? {}), [cls], `alerts by class: ${JSON.stringify(alerts.summary.by_class)}`);
  });
}

test('detect on a benign capture raises nothing', () => {
  const r = detect([fixture('benign.pcap')]);
  assert.is(r.code, 0, r.stderr);
  assert.ok(r.summary.flows > 50, `benign capture has ${r.summary.flows} flows`);
  assert.equal(r.records, []);
  assert.equal(r.summary.alerts, 0);
});

test('detect --alerts on the varied benign capture (SNMP/CoAP/syslog/IGMP/ICMPv6/ping chatter) raises no alert', () => {
  // At alert level, what a subscriber would receive. Per flow, model 1.3.0 calls three of its pings dns_tunnel and an
  // SNMP flow dos (MODEL.md): single weak verdicts that stay observations.
  const r = detect([fixture('benign-chatter.pcap'), '--alerts']);
  assert.is(r.code, 0, r.stderr);
  assert.ok(r.summary.flows > 50);
  assert.is(r.summary.alerts, 0);
  assert.equal(r.records, []);
});

test('--all prints every flow with an alert flag', () => {
  const r = detect([fixture('benign.pcap'), '--all', '--top', '2']);
  assert.is(r.code, 0);
  assert.is(r.records.length, r.summary.flows);
  assert.ok(r.records.every((x) => x.alert === false && x.top_features.length <= 2));
});

test('a corrupt model file: clear error, exit code 2, no stack trace', () => {
  const bad = join(dir, 'corrupt.onnx');
  const good = readFileSync(join(root, 'models/netsensor-detect.onnx'));
  const mangled = Buffer.from(good);
  for (let i = 16; i < mangled.length; i += 97) mangled[i] = 0xff;
  writeFileSync(bad, mangled);
  const r = detect([fixture('benign.pcap'), '--model', bad]);
  assert.is(r.code, 2);
  assert.match(r.stderr, /ERR_MODEL_LOAD|ERR_MODEL_INCOMPATIBLE/);
  assert.match(r.stderr, /corrupt\.onnx/);
  assert.not.match(r.stderr, /\n\s+at /);
  assert.equal(r.records, []);
});

test('a model for another feature schema: exit code 2 with ERR_MODEL_INCOMPATIBLE', () => {
  const m = onnx.ModelProto.decode(readFileSync(join(root, 'models/netsensor-detect.onnx')));
  for (const p of m.metadataProps) if (p.key === 'feature_schema_id') p.value = 'nsf9-abcdefabcdef';
  const file = join(dir, 'other-schema.onnx');
  writeFileSync(file, onnx.ModelProto.encode(m).finish());
  const r = detect([fixture('benign.pcap'), '--model', file]);
  assert.is(r.code, 2);
  assert.match(r.stderr, /ERR_MODEL_INCOMPATIBLE/);
  assert.match(r.stderr, /nsf9-abcdefabcdef/);
});

test('usage errors exit 2', () => {
  assert.is(detect([]).code, 2);
  assert.is(detect([fixture('benign.pcap'), '--format', 'xml']).code, 2);
});

test.run();
