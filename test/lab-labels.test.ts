/** Lab dataset construction: label rules of the issue-11 scenarios and the append that keeps older runs' rows. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { labelFlow } from '../models/lab/labels.ts';
import { CLASSES } from '../models/lab/scenarios.ts';
import { datasetHeader, mergeDatasetLines } from '../models/train/dataset.ts';
import { DEFAULT_CLASSES } from '../models/train/pipeline.ts';

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
