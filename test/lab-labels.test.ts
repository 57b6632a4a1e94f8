/** Lab dataset construction: label rules of the issue-11 scenarios and the append that keeps older runs' rows. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dhcpDiscover } from '../models/lab/dhcp-discover.ts';
import { tunnelSchedule } from '../models/lab/icmp-tunnel.ts';
import { labelFlow } from '../models/lab/labels.ts';
import { CLASSES } from '../models/lab/scenarios.ts';
import { datasetHeader, mergeDatasetLines } from '../models/train/dataset.ts';
import { DEFAULT_CLASSES } from '../models/train/pipeline.ts';
import { createRng } from '../models/train/rng.ts';

const labIps = new Set(['10.232.1.10', '10.232.1.21', '10.232.1.66', '10.232.1.99']);

test('reflection: flows between the spoofed victim and a reflector carry the run class, others stay benign', () => {
  const run = { cls: 'dos', attackers: ['10.232.1.66'], reflection: { victim: '10.232.1.99', reflectors: ['10.232.1.10'] } };
  assert.is(labelFlow(run, labIps, '10.232.1.99', '10.232.1.10'), 'dos'); // spoofed request (+ the amplified reply)
  assert.is(labelFlow(run, labIps, '10.232.1.10', '10.232.1.99'), 'dos'); // a reply flow seen first
  assert.is(labelFlow(run, labIps, '10.232.1.21', '10.232.1.10'), 'benign'); // background client of the same server
  assert.is(labelFlow(run, labIps, '10.232.1.99', '10.232.1.21'), 'benign'); // victim with a non-reflector
});

test('DHCP starvation: 0.0.0.0 as an attacker address; benign runs stay benign whatever they touch', () => {
  const flood = { cls: 'dos', attackers: ['10.232.1.66', '0.0.0.0'] };
  assert.is(labelFlow(flood, labIps, '0.0.0.0', '255.255.255.255'), 'dos');
  assert.is(labelFlow({ cls: 'benign', attackers: [] }, labIps, '0.0.0.0', '255.255.255.255'), 'benign');
  const spoofed = { cls: 'dos', attackers: ['10.232.1.66'], spoofedVictim: '10.232.1.10' };
  assert.is(labelFlow(spoofed, labIps, '203.0.113.9', '10.232.1.10'), 'dos');
  assert.is(labelFlow(spoofed, labIps, '10.232.1.21', '10.232.1.10'), 'benign');
});

test('DHCP starvation frames: a BOOTREQUEST DISCOVER with the given client MAC, broadcast flag, padded to 300 bytes', () => {
  const mac = Buffer.from('02a1b2c3d4e5', 'hex');
  const m = dhcpDiscover(mac, 0xdeadbeef);
  assert.is(m.length, 300);
  assert.equal([m[0], m[1], m[2]], [1, 1, 6]);
  assert.is(m.readUInt32BE(4), 0xdeadbeef);
  assert.is(m.readUInt16BE(10), 0x8000);
  assert.equal(m.subarray(28, 34), mac);
  assert.is(m.readUInt32BE(236), 0x63825363);
  assert.equal([...m.subarray(240, 243)], [53, 1, 1]); // DHCPDISCOVER
  assert.equal(m.subarray(246, 252), mac); // client identifier
});

/** Internet checksum over a whole header: 0 when the stored checksum is right. */
function sum16(b: Buffer): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

test('ICMP tunnel requests: one identifier per session, sizes drawn per packet, valid checksums, none past the deadline', () => {
  const self = { mac: '02:00:00:00:00:66', ip: '10.232.1.66' };
  const p = { host: '10.232.1.99', peerMac: '02:00:00:00:00:99', sessions: 3, count: 30, gapMs: 20, sizeMin: 100, sizeMax: 600, maxMs: 60_000 };
  const frames = tunnelSchedule(p, self, createRng(5), (n) => Buffer.alloc(n, 0xab));
  assert.is(frames.length, 30);
  const idents = frames.map(({ frame }) => frame.readUInt16BE(14 + 20 + 4));
  assert.is(new Set(idents).size, 3);
  const sizes = new Set(frames.map(({ frame }) => frame.length - 14 - 20 - 8));
  assert.ok(sizes.size > 5 && [...sizes].every((n) => n >= 100 && n <= 600));
  for (const { frame } of frames) {
    assert.is(frame[14 + 20], 8); // echo request
    assert.is(sum16(frame.subarray(14, 34)), 0);
    assert.is(sum16(frame.subarray(34)), 0);
  }
  assert.ok(frames.every((f, i) => i === 0 || f.atMs >= frames[i - 1]!.atMs));
  const cut = tunnelSchedule({ ...p, maxMs: 100 }, self, createRng(5), (n) => Buffer.alloc(n));
  assert.ok(cut.length < 30 && cut.every((f) => f.atMs <= 100));
});

test('append keeps earlier rows byte for byte, replaces the rebuilt runs, refuses another schema', () => {
  const old = [datasetHeader(), 'web-00,web,train,benign,1.2345679', 'dos-02,dos,test,dos,7', 'icmpflood-00,icmpflood,train,dos,OLD'];
  const merged = mergeDatasetLines(old, new Set(['icmpflood-00']), ['icmpflood-00,icmpflood,train,dos,NEW']);
  assert.equal(merged.lines, [datasetHeader(), 'web-00,web,train,benign,1.2345679', 'dos-02,dos,test,dos,7', 'icmpflood-00,icmpflood,train,dos,NEW']);
  assert.is(merged.kept, 2);
  assert.equal(mergeDatasetLines(merged.lines, new Set(['icmpflood-00']), ['icmpflood-00,icmpflood,train,dos,NEW']).lines, merged.lines);
  assert.throws(() => mergeDatasetLines(['run,scenario,other', 'x'], new Set(), []), /other columns/);
});

test('the lab and the trainer agree on the classes, tunnel included', () => {
  assert.equal([...CLASSES], [...DEFAULT_CLASSES]);
  assert.ok(CLASSES.includes('tunnel'));
});

test.run();
