/**
 * Community ID v1 against the spec's published vectors (corelight/community-id-spec baseline/): the README's
 * tables (seed 0 and seed 1; ICMP given as type and code) and baseline_deflt.json (tuples of the spec's own
 * capture). An implementation that orders, pads or maps ICMP differently fails here.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { communityId, ipBytes } from '../core/export/community-id.ts';

interface Vector { proto: number; saddr: string; daddr: string; sport: number | null; dport: number | null }
const V = JSON.parse(readFileSync(new URL('./fixtures/community-id-vectors.json', import.meta.url), 'utf8')) as {
  tables: Array<Vector & { seed0: string; seed1: string }>;
  baseline_default: Array<Vector & { communityid: string }>;
};
const tuple = (v: Vector) => ({ proto: v.proto, srcIp: v.saddr, dstIp: v.daddr, srcPort: v.sport ?? 0, dstPort: v.dport ?? 0 });

test('the spec README tables, seed 0 and seed 1', () => {
  assert.ok(V.tables.length >= 16);
  for (const v of V.tables) {
    assert.is(communityId(tuple(v)), v.seed0, `${JSON.stringify(v)} seed 0`);
    assert.is(communityId(tuple(v), 1), v.seed1, `${JSON.stringify(v)} seed 1`);
  }
});

test('the spec baseline of its capture (IPv6, ICMPv6 pairs and one-way types, SCTP, RSVP)', () => {
  assert.ok(V.baseline_default.length >= 20);
  for (const v of V.baseline_default) assert.is(communityId(tuple(v)), v.communityid, JSON.stringify(v));
});

test('IPv6 text forms give the same bytes; a bad address is refused', () => {
  assert.equal(ipBytes('fe80:0001:0203:0405:0607:0809:0A0B:0C0D'), ipBytes('fe80:1:203:405:607:809:a0b:c0d'));
  assert.equal(ipBytes('::ffff:1.2.3.4'), ipBytes('::ffff:102:304'));
  assert.is(ipBytes('::').length, 16);
  assert.equal([...ipBytes('10.1.2.3')], [10, 1, 2, 3]);
  assert.throws(() => ipBytes('fe80::1::2'));
  assert.throws(() => ipBytes('not-an-ip'));
});

test.run();
