/**
 * Response without a network: signed commands (protocol/command.ts), the nftables text, the replay guard, playbook
 * validation and matching, and the gateway engine's guard rails and modes over a real SQLite record, a recording
 * bus and a fake clock. The live test (response-live.test.ts) runs the same parts against real nftables.
 */
import type { NewHistoryEntry } from '../gateway/alert-history.ts';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Registry } from 'prom-client';
import { saveKeyPair } from '../common/keys.ts';
import { createLogger } from '../common/log.ts';
import { CommandRefused, COMMAND_TYPE, openCommand, signCommand, type ResponseCommand } from '../protocol/command.ts';
import { mayPublish, maySubscribe } from '../gateway/acl.ts';
import type { Alert } from '../gateway/alert-types.ts';
import { topics } from '../protocol/topics.ts';
import type { Bus } from '../gateway/bus.ts';
import { loadConfig } from '../gateway/config.ts';
import { ActionStore } from '../gateway/response/action-store.ts';
import { CommandSigner } from '../gateway/response/command-signer.ts';
import { ResponseEngine } from '../gateway/response/engine.ts';
import { matches, parsePlaybooks } from '../gateway/response/playbooks.ts';
import { addLines, nftTimeout, reconcileLines, removeLines, skeleton } from '../sensor/response/nft-ruleset.ts';
import { ReplayGuard } from '../sensor/response/replay-guard.ts';

const gw = generateKeyPairSync('ed25519');
const keyDir = mkdtempSync(join(tmpdir(), 'nsresp-unit-key-'));
const keyFile = saveKeyPair(keyDir, gw).privatePath;
test.after(() => rmSync(keyDir, { recursive: true, force: true }));
const T0 = 1_800_000_000_000;
const ID = '01930000-0000-7000-8000-000000000001';

const cmd = (over: Partial<ResponseCommand> = {}): ResponseCommand => ({
  type: COMMAND_TYPE, sensor: 's1', seq: 5, issued_ms: T0, expires_ms: T0 + 30_000, op: 'apply',
  actions: [{ id: ID, kind: 'block_source', src: '10.0.0.5', until_ms: T0 + 60_000 }], ...over,
});
const open = (bytes: Uint8Array, now = T0 + 1000, sensor = 's1') => openCommand(bytes, { key: gw.publicKey, sensor, now });
const refusal = (fn: () => unknown): string => {
  try { fn(); } catch (e) { if (e instanceof CommandRefused) return e.reason; throw e; }
  return 'accepted';
};

test('commands: signed by the gateway key and in time are accepted; anything else is refused with its reason', () => {
  assert.equal(open(signCommand(cmd(), gw.privateKey)), cmd());
  assert.is(refusal(() => open(signCommand(cmd(), generateKeyPairSync('ed25519').privateKey))), 'untrusted_key');
  assert.is(refusal(() => open(signCommand(cmd(), gw.privateKey), T0 + 31_000)), 'expired');
  assert.is(refusal(() => open(signCommand(cmd(), gw.privateKey), T0, 's2')), 'wrong_sensor');
  assert.is(refusal(() => open(new Uint8Array([1, 2, 3]))), 'bad_envelope');
  const bytes = signCommand(cmd(), gw.privateKey);
  const i = Buffer.from(bytes).indexOf(Buffer.from('10.0.0.5'));
  bytes[i + 7] = '6'.charCodeAt(0);
  assert.is(refusal(() => open(bytes)), 'bad_signature');
  const bad = (actions: unknown[]) => refusal(() => open(signCommand(cmd({ actions: actions as ResponseCommand['actions'] }), gw.privateKey)));
  assert.is(bad([{ id: ID, kind: 'block_source', src: '10.0.0.5; flush ruleset', until_ms: T0 }]), 'bad_command', 'no nft syntax through an address');
  assert.is(bad([{ id: ID, kind: 'block_destination', src: '10.0.0.5', until_ms: T0 }]), 'bad_command', 'block_destination needs dst');
  assert.is(bad([{ id: ID, kind: 'block_destination', src: '10.0.0.5', dst: 'fd00::1', until_ms: T0 }]), 'bad_command');
  assert.is(bad([{ id: ID, kind: 'reboot', src: '10.0.0.5', until_ms: T0 }]), 'bad_command');
  assert.is(bad([]), 'bad_command', 'apply carries one action');
});

test('nftables text: own table only, timeouts on every element, atomic renew and undo', () => {
  const lines = [...skeleton(50), ...addLines({ id: ID, kind: 'block_destination', src: '10.0.0.5', dst: '10.0.0.9', until_ms: T0 + 12_250 }, T0)];
  assert.ok(lines.every((l) => l.includes(' inet netsensor')), 'every line names the own table');
  assert.not.ok(lines.some((l) => /^(flush ruleset|delete table)/.test(l)));
  assert.ok(lines.includes('add element inet netsensor block_pair4 { 10.0.0.5 . 10.0.0.9 timeout 12s250ms }'));
  assert.equal(removeLines({ kind: 'quarantine', src: 'fd00::5' }), ['add element inet netsensor quarantine6 { fd00::5 }', 'delete element inet netsensor quarantine6 { fd00::5 }']);
  assert.is(nftTimeout(200), '1s', 'an action near its end still has a timeout');
  const sync = reconcileLines([{ id: ID, kind: 'rate_limit', src: '10.0.0.7', until_ms: T0 + 5000 }, { id: ID, kind: 'block_source', src: '10.0.0.8', until_ms: T0 - 1 }], T0);
  assert.ok(sync.includes('flush set inet netsensor block_src4') && sync.includes('add element inet netsensor rate_src4 { 10.0.0.7 timeout 5s }'));
  assert.not.ok(sync.some((l) => l.includes('10.0.0.8')), 'an action already over is not re-added');
});

test('replay guard: a sequence number is accepted once, also after a restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nsresp-unit-'));
  try {
    const g = new ReplayGuard(dir);
    assert.ok(g.accept(10));
    assert.not.ok(g.accept(10));
    assert.not.ok(g.accept(9));
    assert.not.ok(new ReplayGuard(dir).accept(10));
    assert.ok(new ReplayGuard(dir).accept(11));
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('playbooks: checked at start-up with the key that is wrong', () => {
  const err = (p: unknown) => { try { parsePlaybooks(p); return 'ok'; } catch (e) { return (e as Error).message; } };
  assert.match(err([{ name: 'a', match: ['dos'], action: 'block_source', ttlS: 60, minSeverty: 2 }]), /unknown key 'minSeverty'/);
  assert.match(err([{ name: 'a', match: ['dos'], action: 'nuke', ttlS: 60 }]), /action: one of/);
  assert.match(err([{ name: 'a', match: ['dos'], action: 'block_source' }]), /ttlS/);
  assert.match(err([{ name: 'a', match: ['dos'], action: 'block_source', ttlS: 1 }, { name: 'a', match: ['x'], action: 'block_source', ttlS: 1 }]), /twice/);
  assert.throws(() => loadConfig({ flags: { response: { mode: 'auto', playbooks: [] } } }), /response mode auto needs response.keyFile/);
  assert.throws(() => loadConfig({ env: { NETSENSOR_GW_RESPONSE_PLAYBOOKS: '[{' } }), /response.playbooks .*not valid JSON/);
  const fromEnv = loadConfig({ env: { NETSENSOR_GW_RESPONSE_PLAYBOOKS: '[{"name":"f","match":["dos"],"action":"block_source","ttlS":60}]' } });
  assert.equal(fromEnv.response.playbooks, [{ name: 'f', match: ['dos'], action: 'block_source', ttlS: 60, minSeverity: 3, minSensors: 1, minFlows: 1 }]);
  const [p] = parsePlaybooks([{ name: 'f', match: ['dos', 'port_scan'], action: 'block_source', ttlS: 60, minSeverity: 2, minFlows: 10 }]);
  assert.ok(matches(p, alert({ class: 'dos', severity: 2, flow_count: 10 })));
  assert.ok(matches(p, alert({ kind: 'port_scan', class: 'scan', severity: 1, flow_count: 50 })));
  assert.not.ok(matches(p, alert({ class: 'dos', severity: 3, flow_count: 10 })), 'not grave enough');
  assert.not.ok(matches(p, alert({ class: 'dos', severity: 2, flow_count: 9 })), 'too little evidence');
  assert.not.ok(matches(p, alert({ class: 'bruteforce', severity: 1, flow_count: 99 })));
});

test('broker ACL: only the gateway publishes commands; a sensor reads its own and reports under its own id', () => {
  const sensor = { role: 'sensor' as const, id: 's1' };
  const anon = { role: 'anonymous' as const, id: 'x' };
  assert.ok(mayPublish(sensor, topics.responseReport('s1')));
  assert.not.ok(mayPublish(sensor, topics.responseReport('s2')));
  for (const who of [sensor, anon]) for (const id of ['s1', 's2']) assert.not.ok(mayPublish(who, topics.response(id)), `${who.role} → ${id}`);
  assert.not.ok(mayPublish(anon, topics.responseAction('s1')));
  assert.ok(maySubscribe(sensor, topics.response('s1')));
  assert.not.ok(maySubscribe(sensor, topics.response('s2')));
});

let n = 0;
function alert(over: Partial<Alert> = {}): Alert {
  n += 1;
  return {
    id: `01930000-0000-7000-8000-${String(n).padStart(12, '0')}`, kind: 'class', class: 'dos', src_ip: `10.0.1.${n}`, severity: 2, base_severity: 2,
    status: 'open', first_seen: T0, last_seen: T0, created_at: T0, updated_at: T0, event_count: 5, flow_count: 50, sensors: ['s1'],
    hosts: ['10.0.0.9'], host_count: 1, ports: [80], port_count: 1, src_port: 4000, dest_ip: '10.0.0.9', dest_port: 80, proto: 6,
    score_max: 0.9, anomaly_max: 1, model: 'm', top: [], ...over,
  };
}

function engineLab(over: Record<string, unknown> = {}) {
  const db = new Database(':memory:');
  const store = new ActionStore(db);
  const sent: Array<{ topic: string; payload: Buffer | string }> = [];
  const bus: Bus = { kind: 'embedded', subscribe: async () => {}, publish: async (topic, payload) => { sent.push({ topic, payload }); }, close: async () => {} };
  let now = T0;
  const config = loadConfig({ flags: { response: {
    mode: 'dry-run', keyFile, maxActive: 3, maxPerMinute: 2, allowlist: ['192.168.9.0/24'],
    playbooks: [{ name: 'floods', match: ['dos', 'anomaly'], action: 'block_source', ttlS: 60, mode: 'auto' }, { name: 'ask', match: ['c2'], action: 'quarantine', ttlS: 60, mode: 'approve' }],
    ...over,
  } } }).response;
  const alertHistory: NewHistoryEntry[] = [];
  const engine = new ResponseEngine({
    config, store, bus, log: createLogger('silent'), registry: new Registry(), signer: new CommandSigner(gw.privateKey, 30_000, () => now), now: () => now,
    alertHistory: { append: (e) => alertHistory.push(e) },
  });
  const commands = () => sent.filter((s) => s.topic.endsWith('/response')).map((s) => openCommand(new Uint8Array(s.payload as Buffer), { key: gw.publicKey, sensor: 's1', now }));
  const change = (a: Alert) => engine.onAlertChanges([{ alert: a, created: true, escalated: false, sensor: 's1' }]);
  return { store, engine, commands, change, sent, alertHistory, advance: (ms: number) => { now += ms; engine.tick(); } };
}

test('engine: guard rails (allowlist, anomaly-only, fan_in, same action, caps) skip with a reason', () => {
  const l = engineLab();
  l.change(alert({ src_ip: '192.168.9.4' }));
  l.change(alert({ class: 'anomaly' }));
  l.change(alert({ kind: 'fan_in' }));
  const a1 = alert({ src_ip: '10.0.2.1' });
  l.change(a1);
  l.change(a1); // an update of the same alert: no second action
  l.change(alert({ src_ip: '10.0.2.1' })); // another alert, same source: the same action is already in force
  l.change(alert({ src_ip: '10.0.2.2' }));
  l.change(alert({ src_ip: '10.0.2.3' })); // third start within a minute: over maxPerMinute (2)
  const reasons = l.store.list({ state: 'skipped' }).map((a) => a.reason!).reverse();
  assert.equal(reasons.map((r) => r.replace(/:.*/, '')), ['allowlisted', 'anomaly-only alert (response.anomalyActions is off)', 'fan_in alert', 'the same action is already in force', 'cap']);
  assert.match(reasons[4], /per minute/);
  assert.equal(l.commands().map((c) => [c.op, c.actions[0].src]), [['apply', '10.0.2.1'], ['apply', '10.0.2.2']]);
  l.advance(61_000); // the TTLs end, the minute passes
  assert.is(l.store.list({ state: 'expired' }).length, 2);
  l.change(alert());
  l.advance(31_000); // a new minute for the rate cap, the first still active
  l.change(alert());
  l.change(alert({ class: 'c2' })); // pending counts against maxActive (3) too
  l.change(alert());
  assert.match(l.store.list({ state: 'skipped' })[0].reason!, /cap: 3 actions active or pending/);
});

test('engine: dry-run records only; approve sends nothing until approved; undo sends a signed undo; a restart asks for a sync', () => {
  const l = engineLab({ playbooks: [{ name: 'dry', match: ['dos'], action: 'block_source', ttlS: 60 }, { name: 'ask', match: ['c2'], action: 'block_destination', ttlS: 60, mode: 'approve' }] });
  l.change(alert());
  assert.is(l.store.list()[0].state, 'dry_run');
  const c2 = alert({ class: 'c2' });
  l.change(c2);
  const pending = l.store.list({ state: 'pending' })[0];
  assert.equal(l.commands(), []);
  l.engine.approve(pending.id, 'test');
  assert.equal(l.commands().map((c) => c.actions[0]), [{ id: pending.id, kind: 'block_destination', src: c2.src_ip, dst: '10.0.0.9', until_ms: T0 + 60_000 }]);
  assert.throws(() => l.engine.approve(pending.id), /active, not pending/);
  l.engine.sync('s1');
  l.engine.undo(pending.id, 'test');
  const cmds = l.commands();
  assert.equal(cmds.map((c) => [c.op, c.actions.length]), [['apply', 1], ['sync', 1], ['undo', 1]]);
  assert.ok(cmds[0].seq < cmds[1].seq && cmds[1].seq < cmds[2].seq, 'sequence numbers increase');
  assert.equal(l.store.history({ alert: c2.id }).map((h) => h.event), ['awaiting_approval', 'approved', 'sent', 'undone']);
  const events = l.sent.filter((s) => s.topic === 'netsensor/v1/responses/s1').map((s) => JSON.parse(String(s.payload)).netsensor.event);
  assert.equal(events, ['proposed', 'awaiting_approval', 'approved', 'sent', 'undone']);
  // The same steps in the alert's own history (beside triage), as valid history kinds, by the playbook.
  const mine = l.alertHistory.filter((h) => h.alert_id === c2.id);
  assert.equal(mine.map((h) => h.kind), ['response_awaiting_approval', 'response_approved', 'response_sent', 'response_undone']);
  assert.ok(mine.every((h) => /^[a-z][a-z0-9_]{0,31}$/.test(h.kind) && h.actor === 'playbook:ask' && h.detail?.action_id === pending.id));
});

test.run();
