import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { readCapture, type CaptureStats } from '../core/capture/reader.ts';
import { SUPPORTED_LINKTYPES } from '../core/capture/linktypes.ts';
import { pcapFile, pcapngFile, frame, rawIp, type Packet } from './helpers/pcap-writer.ts';
import { tmpFiles } from './helpers/tmp-files.ts';
import { sharedPcap, withTools } from './helpers/tools.ts';

const { dir, file: tmpFile } = tmpFiles('netsensor-capture-', '.bin');

interface Got { caplen: number; wirelen: number; tsMs: number; linktype: number; sha: string; first: number }

async function collect(path: string, opts: Parameters<typeof readCapture>[2] = {}): Promise<{ pkts: Got[]; stats: CaptureStats }> {
  const pkts: Got[] = [];
  const stats = await readCapture(path, (buf, off, caplen, wirelen, tsMs, linktype) => {
    const data = buf.subarray(off, off + caplen);
    pkts.push({ caplen, wirelen, tsMs, linktype, sha: createHash('sha1').update(data).digest('hex'), first: data[0] });
  }, opts);
  return { pkts, stats };
}

const sha = (b: Uint8Array) => createHash('sha1').update(b).digest('hex');

const A = frame({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'tcp', sport: 40000, dport: 80, flags: 0x02 });
const B = frame({ src: 'fd00::1', dst: 'fd00::2', proto: 'udp', sport: 5353, dport: 53, payload: 33 });
const C = frame({ src: '10.0.0.2', dst: '10.0.0.1', proto: 'tcp', sport: 80, dport: 40000, flags: 0x12, payload: 1400 });
const pkts: Packet[] = [
  { ts: 1700000000.000001, data: A },
  { ts: 1700000000.5, data: B, wirelen: 200 },
  { ts: 1700000001.25, data: C },
];

for (const le of [true, false]) {
  for (const nanos of [false, true]) {
    test(`pcap ${le ? 'little' : 'big'}-endian, ${nanos ? 'ns' : 'µs'} resolution`, async () => {
      const ns: Packet[] = nanos ? [{ ts: 1700000000_123456789n, data: A }, ...pkts.slice(1)] : pkts;
      const { pkts: got, stats } = await collect(tmpFile(pcapFile(ns, { le, nanos, linktype: 1 })));
      assert.is(stats.format, 'pcap');
      assert.is(stats.packets, 3);
      assert.is(stats.bytes, A.length + B.length + C.length);
      assert.is(stats.truncated, false);
      assert.equal(got.map((g) => g.sha), [sha(A), sha(B), sha(C)]);
      assert.equal(got.map((g) => g.wirelen), [A.length, 200, C.length]);
      assert.equal(got.map((g) => g.linktype), [1, 1, 1]);
      if (nanos) assert.ok(Math.abs(got[0].tsMs - 1700000000123.456789) < 1e-3, `ns timestamp ${got[0].tsMs}`);
      else assert.ok(Math.abs(got[0].tsMs - 1700000000000.001) < 1e-4, `µs timestamp ${got[0].tsMs}`);
      assert.ok(Math.abs(got[2].tsMs - 1700000001250) < 1e-6);
    });
  }
}

for (const le of [true, false]) {
  test(`pcapng ${le ? 'little' : 'big'}-endian: interfaces with different link types and resolutions, unknown block`, async () => {
    const file = pcapngFile([{
      le,
      unknownBlock: true,
      interfaces: [
        { linktype: 1 },                               // default µs
        { linktype: 101, tsresol: 9 },                 // ns
        { linktype: 228, tsresol: 0x80 | 20, tsoffset: 1000 }, // 2^-20 s, +1000 s offset
        { linktype: 147 },                             // unknown link type: counted, not delivered
      ],
      packets: [
        { ts: 1700000000.000001, data: A, iface: 0 },
        { ts: 1700000000_987654321n, data: rawIp({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'udp', sport: 1, dport: 2 }), iface: 1 },
        { ts: 1700000002.5, data: rawIp({ src: '10.0.0.3', dst: '10.0.0.4', proto: 'udp', sport: 3, dport: 4 }), iface: 2 },
        { ts: 1700000003, data: B, iface: 3 },
        { ts: 1700000004, data: B, iface: 3 },
      ],
    }]);
    const { pkts: got, stats } = await collect(tmpFile(file));
    assert.is(stats.format, 'pcapng');
    assert.is(stats.interfaces, 4);
    assert.is(stats.sections, 1);
    assert.equal(got.map((g) => g.linktype), [1, 101, 228]);
    assert.ok(Math.abs(got[0].tsMs - 1700000000000.001) < 1e-4);
    assert.ok(Math.abs(got[1].tsMs - 1700000000987.654321) < 1e-3, `ns ${got[1].tsMs}`);
    assert.ok(Math.abs(got[2].tsMs - 1700000002500) < 1e-3, `2^-20 + offset ${got[2].tsMs}`);
    assert.equal(got.map((g) => g.first), [A[0], 0x45, 0x45]);
    assert.equal(stats.unknownLinktypes, { 'linktype_147(147)': 2 });
    assert.is(stats.skippedPackets, 2);
  });
}

test('pcapng: SPB uses interface 0 snap length and the previous timestamp; several sections in both byte orders', async () => {
  const file = pcapngFile([
    { le: true, interfaces: [{ linktype: 1, snaplen: 64 }], packets: [{ ts: 1700000000, data: C }] },
    { le: false, simple: true, interfaces: [{ linktype: 1, snaplen: 60 }, { linktype: 1, tsresol: 3 }],
      packets: [{ ts: 1700000005.5, data: A, iface: 1 }, { ts: 0, data: C, iface: 0 }] },
  ]);
  const { pkts: got, stats } = await collect(tmpFile(file));
  assert.is(stats.sections, 2);
  assert.is(stats.interfaces, 3);
  assert.is(got.length, 3);
  // EPB keeps the caplen written; SPB caplen = min(wirelen, snaplen of IDB 0 of its section)
  assert.is(got[0].caplen, C.length);
  assert.is(got[2].caplen, 60);
  assert.is(got[2].wirelen, C.length);
  assert.is(got[2].sha, sha(C.subarray(0, 60)));
  assert.is(got[1].tsMs, 1700000005500);
  assert.is(got[2].tsMs, got[1].tsMs);
});

test('records straddling reads, a record bigger than the buffer, and constant memory', async () => {
  const many: Packet[] = [];
  for (let i = 0; i < 3000; i++) {
    const data = frame({ src: '10.1.0.1', dst: '10.1.0.2', proto: 'udp', sport: 1000 + i, dport: 53, payload: (i * 37) % 1400 });
    many.push({ ts: 1700000000 + i / 1000, data });
  }
  const jumbo = Buffer.alloc(200_000, 7);
  many.splice(1500, 0, { ts: 1700000001.6, data: jumbo });
  for (const make of [(p: Packet[]) => pcapFile(p), (p: Packet[]) => pcapngFile([{ interfaces: [{ linktype: 1 }], packets: p }])]) {
    const path = tmpFile(make(many));
    const { pkts: got, stats } = await collect(path, { bufferBytes: 64 << 10 });
    assert.is(stats.packets, many.length);
    assert.is(stats.truncated, false);
    assert.equal(got.map((g) => g.sha), many.map((p) => sha(p.data)));
  }
});

test('stdin `-`: a pipe delivering odd-sized chunks', async () => {
  const bytes = pcapngFile([{ le: false, interfaces: [{ linktype: 1, tsresol: 9 }], packets: pkts }]);
  const pipe = new PassThrough();
  const done = collect('-', { stdin: pipe });
  for (let i = 0; i < bytes.length; i += 7) pipe.write(bytes.subarray(i, i + 7));
  pipe.end();
  const { pkts: got, stats } = await done;
  assert.is(stats.format, 'pcapng');
  assert.equal(got.map((g) => g.sha), [sha(A), sha(B), sha(C)]);
});

test('gzip-compressed capture', async () => {
  const { pkts: got, stats } = await collect(tmpFile(gzipSync(pcapFile(pkts, { le: false }))));
  assert.is(stats.compressed, true);
  assert.equal(got.map((g) => g.sha), [sha(A), sha(B), sha(C)]);
});

test('a file cut off mid-record ends cleanly with a warning', async () => {
  for (const whole of [pcapFile(pkts), pcapngFile([{ interfaces: [{ linktype: 1 }], packets: pkts }])]) {
    for (const cut of [whole.length - 5, whole.length - C.length - 10]) {
      const { pkts: got, stats } = await collect(tmpFile(whole.subarray(0, cut)));
      assert.is(stats.truncated, true);
      assert.is(got.length, 2);
      assert.match(stats.warnings.join('\n'), /cut off mid-record/);
    }
  }
});

test('errors: missing file, directory, non-capture, empty', async () => {
  const codeOf = async (p: string) => {
    try { await readCapture(p, () => {}); return 'ok'; } catch (e) { return (e as { code: string }).code; }
  };
  assert.is(await codeOf(join(dir, 'nope.pcap')), 'ERR_CAPTURE_NOT_FOUND');
  assert.is(await codeOf(dir), 'ERR_CAPTURE_IS_DIRECTORY');
  assert.is(await codeOf(tmpFile(Buffer.from('just some text, not a capture at all\n'))), 'ERR_CAPTURE_FORMAT');
  assert.is(await codeOf(tmpFile(Buffer.alloc(0))), 'ERR_CAPTURE_FORMAT');
  assert.is(await codeOf(tmpFile(pcapFile(pkts).subarray(0, 20))), 'ERR_CAPTURE_FORMAT');
});

// ---- public captures --------------------------------------------------------------------------------

function sharedFiles(): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (!/(README|\.tsv$|\.csv$|\.ya?ml$|\.txt$|\.out$|\.md$)/i.test(name)) out.push(p);
    }
  };
  walk(sharedPcap(''));
  return out;
}

withTools(test, ['capinfos'])('every public capture parses (packet count = capinfos) or fails with ERR_CAPTURE_FORMAT', async () => {
  const files = sharedFiles();
  assert.ok(files.length > 300, `only ${files.length} files found`);
  const parsed: { f: string; n: number }[] = [];
  for (const f of files) {
    const head = readFileSync(f).subarray(0, 4).toString('hex');
    const looksLikeCapture = ['d4c3b2a1', 'a1b2c3d4', '4d3cb2a1', 'a1b23c4d', '0a0d0d0a', '1f8b0808'].includes(head);
    try {
      const s = await readCapture(f, () => {});
      assert.ok(looksLikeCapture, `${f} parsed but has no capture magic`);
      parsed.push({ f, n: s.packets + s.skippedPackets });
    } catch (e) {
      assert.is((e as { code: string }).code, 'ERR_CAPTURE_FORMAT', `${f}: ${(e as Error).message}`);
      assert.not.ok(looksLikeCapture, `${f} has a capture magic but failed: ${(e as Error).message}`);
    }
  }
  assert.ok(parsed.length > 500);
  const lines = execFileSync('capinfos', ['-c', '-M', '-T', '-r', ...parsed.map((p) => p.f)], { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n');
  const expected = new Map(lines.map((l) => { const [f, c] = l.split('\t'); return [f, Number(c)]; }));
  for (const p of parsed) assert.is(p.n, expected.get(p.f), p.f);
});

withTools(test, ['tshark'])('multi-interface pcapng (zeek): ns and µs interfaces, timestamps = tshark', async () => {
  const f = sharedPcap('zeek/Traces/pcapng-multi-interface.pcapng');
  const { pkts: got, stats } = await collect(f);
  assert.is(stats.interfaces, 2);
  const ts = execFileSync('tshark', ['-r', f, '-T', 'fields', '-e', 'frame.time_epoch'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n').map(Number);
  assert.is(got.length, ts.length);
  for (let i = 0; i < ts.length; i++) assert.ok(Math.abs(got[i].tsMs - ts[i] * 1000) < 1e-3, `packet ${i}: ${got[i].tsMs} vs ${ts[i] * 1000}`);
  // the first interface has nanosecond resolution: sub-µs digits survive
  assert.ok(got.some((g) => Math.abs(g.tsMs * 1000 - Math.round(g.tsMs * 1000)) > 1e-3), 'no sub-µs timestamp');
});

test('public captures with odd link types: SLL, SLL2, raw 101/228/229, BSD null; unknown ones counted per type', async () => {
  const cases: [string, number][] = [
    ['zeek/Traces/linuxsll-arp.pcap', 113],
    ['zeek/Traces/linux_dlt_sll2.pcap', 276],
    ['zeek/Traces/tcp/payload-syn.pcap', 101],
    ['suricata-verify/tests/linktype-228/flow-test-01.pcap', 228],
    ['zeek/Traces/icmp/icmp6-mldv2.pcap', 229],
  ];
  for (const [rel, lt] of cases) {
    const { pkts: got, stats } = await collect(sharedPcap(rel));
    assert.ok(got.length > 0, rel);
    assert.ok(got.every((g) => g.linktype === lt), rel);
    assert.is(stats.skippedPackets, 0);
  }
  const nul = sharedFiles().filter((f) => f.endsWith('.pcap')).find((f) => { const b = readFileSync(f); return b.length > 40 && b.readUInt32LE(0) === 0xa1b2c3d4 && b.readUInt32LE(20) === 0; });
  assert.ok(nul, 'a BSD-loopback capture');
  const { pkts: nulPkts } = await collect(nul!);
  assert.ok(nulPkts.length > 0 && nulPkts.every((g) => g.linktype === 0));
  const { pkts: none, stats } = await collect(sharedPcap('zeek/Traces/arp-who-has-radiotap.pcap'));
  assert.is(none.length, 0);
  assert.ok(stats.unknownLinktypes['ieee802_11_radiotap(127)'] > 0, JSON.stringify(stats.unknownLinktypes));
  assert.is(stats.truncated, false);
  const { pkts: nflog } = await collect(sharedPcap('zeek/Traces/nflog-http.pcap'));
  assert.ok(nflog.length > 0 && nflog.every((g) => g.linktype === 239));
});

test('the link types handed to the core are exactly those its decoder switch handles', () => {
  const src = readFileSync(new URL('../assembly/decode/link.ts', import.meta.url), 'utf8');
  const consts = new Map([...src.matchAll(/export const (\w+): u32 = (\d+);/g)].map((m) => [m[1], Number(m[2])]));
  const sw = src.slice(src.indexOf('switch (linktype)'));
  const cases = [...sw.slice(0, sw.indexOf('default:')).matchAll(/case (\w+):/g)].map((m) => consts.get(m[1]));
  assert.ok(cases.length >= 8 && cases.every((c) => c !== undefined), String(cases));
  assert.equal([...cases].sort((a, b) => a! - b!), [...SUPPORTED_LINKTYPES].sort((a, b) => a - b));
});

test('public capture cut off mid-record, and a gzip-compressed one', async () => {
  const whole = readFileSync(sharedPcap('chrissanders-packets/http_espn.pcapng'));
  const full = await collect(sharedPcap('chrissanders-packets/http_espn.pcapng'));
  const cut = await collect(tmpFile(whole.subarray(0, Math.floor(whole.length * 0.6))));
  assert.is(full.stats.truncated, false);
  assert.is(cut.stats.truncated, true);
  assert.ok(cut.pkts.length > 0 && cut.pkts.length < full.pkts.length);
  assert.equal(cut.pkts.map((p) => p.sha), full.pkts.slice(0, cut.pkts.length).map((p) => p.sha));
  const gz = await collect(sharedPcap('zeek/Traces/trunc/mpls-6in6-broken.pcap.gz'));
  assert.is(gz.stats.compressed, true);
  assert.ok(gz.pkts.length > 1000);
});

test.run();
