/**
 * Deterministic, bounded fuzzing of the packet decoders through the real core (build/netsensor.wasm):
 * frames taken from the public captures for every supported link type, then bit-flipped, byte-smashed,
 * truncated, extended, given a wrong wire length or a wrong link type. Zero traps, every record consumed,
 * and linear memory never grows after init().
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RawCore, STAT_PACKETS, RECORD_HEADER_BYTES, type Frame } from './helpers/raw-core.ts';
import { sharedCaptureFiles, captureFrames } from './helpers/capture-frames.ts';
import { ethernet, ipv4, ipv6, ipv6Ext, ipv6Frag, tcp, udp, dnsQuery, concat, hex, vlanTag } from './helpers/frames.ts';

const SEED = 0x5eed2024;
const MUTATED_FRAMES = 200_000;
const LINK_TYPES = [0, 1, 9, 101, 104, 108, 113, 228, 229, 239, 276];

/** mulberry32: small, fast, and the same sequence on every machine. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Up to 8 frames per link type from each capture, plus hand-built frames with rarer layers. */
async function seedFrames(): Promise<Frame[]> {
  const seeds: Frame[] = [];
  for (const file of sharedCaptureFiles()) {
    const cap = await captureFrames(file);
    const taken = new Map<number, number>();
    for (const f of cap.frames) {
      if (!LINK_TYPES.includes(f.linktype) || f.data.length > 2048) continue;
      const n = taken.get(f.linktype) ?? 0;
      if (n >= 8) continue;
      taken.set(f.linktype, n + 1);
      seeds.push(f);
    }
  }
  const built = [
    ethernet(0x8100, concat(vlanTag(7, 0x88a8), vlanTag(9, 0x0800), ipv4({ proto: 6, options: hex('01010100') }, tcp({ sport: 1, dport: 2, options: hex('020405b4 01 030307 00 000000') })))),
    ethernet(0x86dd, ipv6({ next: 0 }, concat(ipv6Ext(60), ipv6Frag(17, 0, true), udp(53, 53, dnsQuery('fuzz.example.com', 1))))),
    ethernet(0x8864, concat(hex('1100 0001 0030 0021'), ipv4({ proto: 17 }, udp(9, 53, dnsQuery('x.y', 16))))),
    ethernet(0x8847, concat(hex('00010140'), ipv6({ next: 58 }, hex('8000000000010001')))),
  ];
  for (const data of built) seeds.push({ ts: 0, data, linktype: 1 });
  return seeds;
}

function mutate(rand: () => number, seed: Frame, ts: number): Frame {
  const r = () => Math.floor(rand() * 0x100000000);
  let data: Uint8Array = seed.data.slice();
  let wirelen = seed.wirelen ?? data.length;
  let linktype = seed.linktype;
  const rounds = 1 + (r() % 4);
  for (let k = 0; k < rounds; k++) {
    const focus = Math.min(data.length, 96); // headers live at the front: most mutations land there
    switch (r() % 8) {
      case 0: case 1: // bit flips
        for (let i = 1 + (r() % 8); i > 0 && data.length > 0; i--) data[r() % focus] ^= 1 << (r() % 8);
        break;
      case 2: // byte smash with boundary values
        if (data.length > 0) data[r() % focus] = [0x00, 0xff, 0x7f, 0x80, 0x01, 0x45, 0x60, 0x3f][r() % 8];
        break;
      case 3: // truncation (snap length)
        data = data.subarray(0, r() % (data.length + 1));
        break;
      case 4: // random tail
        data = concat(data, Uint8Array.from({ length: r() % 64 }, () => r() & 0xff));
        break;
      case 5: // wire length lies
        wirelen = [0, data.length, data.length + (r() % 3000), r() >>> 0][r() % 4];
        break;
      case 6: // wrong or unknown link type
        linktype = r() % 4 === 0 ? r() % 300 : LINK_TYPES[r() % LINK_TYPES.length];
        break;
      case 7: // 16-bit length / type fields smashed
        if (data.length >= 2) {
          const at = r() % (focus - 1 || 1);
          data[at] = r() & 0xff;
          data[at + 1] = r() & 0xff;
        }
        break;
    }
  }
  return { ts, data, linktype, wirelen };
}

test(`${MUTATED_FRAMES} mutated frames: zero traps, all consumed, memory stable`, async () => {
  const seeds = await seedFrames();
  const typesSeen = new Set(seeds.map((s) => s.linktype));
  for (const lt of [0, 1, 101, 113, 228, 229, 276]) assert.ok(typesSeen.has(lt), `no seed frame for link type ${lt}`);
  const core = await RawCore.load({ maxFlows: 2048, maxHosts: 512, ringBytes: 1 << 20, maxOut: 128 });
  const rand = prng(SEED);
  let total = 0;
  let ts = 1.7e12;
  const BATCH = 4000;
  while (total < MUTATED_FRAMES) {
    const batch: Frame[] = [];
    for (let i = 0; i < BATCH; i++) {
      ts += rand() < 0.01 ? -5 : rand() * 3; // mostly forward, sometimes out of order
      batch.push(mutate(rand, seeds[Math.floor(rand() * seeds.length)], ts));
    }
    assert.is(core.pushPackets(batch), BATCH);
    total += BATCH;
  }
  assert.is(core.stat(STAT_PACKETS), total);
  assert.is(core.memory.buffer.byteLength, core.memoryBytesAfterInit, 'linear memory grew');
  const ev = core.nonZeroCounters();
  assert.ok(Object.keys(ev).filter((k) => k.startsWith('decoder.')).length >= 20, `few decoder events reached: ${JSON.stringify(ev)}`);
});

test('random bytes in the ring itself (record headers included) never trap', async () => {
  const core = await RawCore.load({ ringBytes: 64 * 1024 });
  const rand = prng(SEED ^ 0xa5a5);
  const ring = new Uint8Array(core.memory.buffer, core.exports.ringPtr(), core.ringBytes);
  for (let round = 0; round < 200; round++) {
    for (let i = 0; i < ring.length; i++) ring[i] = (rand() * 256) | 0;
    // Sometimes plausible headers: small caplen, known link type, so decoding goes deep on random payload.
    const view = new DataView(ring.buffer, ring.byteOffset, ring.length);
    let off = 0;
    while (rand() < 0.9 && off + RECORD_HEADER_BYTES + 256 < ring.length) {
      const caplen = (rand() * 256) | 0;
      view.setUint32(off + 8, caplen, true);
      view.setUint16(off + 16, LINK_TYPES[(rand() * LINK_TYPES.length) | 0], true);
      off += RECORD_HEADER_BYTES + ((caplen + 7) & ~7);
    }
    const count = 1 + ((rand() * 500) | 0);
    const start = rand() < 0.9 ? 0 : ((rand() * core.ringBytes * 2) | 0) - core.ringBytes;
    const n = core.processRecords(start, count);
    assert.is(n, count);
  }
  assert.is(core.memory.buffer.byteLength, core.memoryBytesAfterInit, 'linear memory grew');
  assert.ok(core.counter('decoder.ring.record_invalid') > 0);
});

test.run();
