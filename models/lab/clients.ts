/**
 * Lab traffic clients, run inside a lab namespace:
 *   node --import tsx models/lab/clients.ts <kind> '<json params>'
 * Every client is bounded by a count and by a hard deadline (`maxMs`, default 40 s), and seeded.
 */
import { createSocket } from 'node:dgram';
import { request as httpRequest, Agent as HttpAgent } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import mqtt from 'mqtt';
import { createRng } from '../train/rng.js';
import { sendDiscovers } from './dhcp-discover.js';
import { icmpTunnel } from './icmp-tunnel.js';

type Params = Record<string, unknown>;
const [kind, raw] = process.argv.slice(2);
const p: Params = raw ? JSON.parse(raw) : {};
const num = (k: string, d: number): number => (typeof p[k] === 'number' ? (p[k] as number) : d);
const str = (k: string, d: string): string => (typeof p[k] === 'string' ? (p[k] as string) : d);
const bool = (k: string, d: boolean): boolean => (typeof p[k] === 'boolean' ? (p[k] as boolean) : d);
const rng = createRng(num('seed', 1));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const jittered = (base: number, jitter: number): number => Math.max(0, base * (1 + jitter * (2 * rng.next() - 1)));
const deadline = setTimeout(() => process.exit(0), num('maxMs', 40_000));
deadline.unref();

const ORDINARY_NAMES = [
  'www.example.com', 'mail.example.org', 'api.weather.example', 'cdn.images.example.net', 'time.example.com',
  'update.vendor.example', 'login.portal.example', 'news.example.co.uk', 'static.shop.example', 'docs.example.io',
  'fonts.example.com', 'telemetry.iot.example', 'ocsp.ca.example', 'www.wikipedia.example', 'maps.example.com',
  'video.stream.example', 'chat.example.net', 'ntp.pool.example', 'printer.local.example', 'calendar.example.com',
];

function dnsQuery(name: string, qtype: number, id: number): Buffer {
  const labels = name.split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')]));
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id & 0xffff, 0); header.writeUInt16BE(0x0100, 2); header.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(5);
  tail.writeUInt16BE(qtype, 1); tail.writeUInt16BE(1, 3);
  return Buffer.concat([header, ...labels, tail]);
}

async function dnsLookups(names: () => string, qtypeOf: () => number): Promise<void> {
  const server = str('server', '10.232.1.10');
  const count = num('count', 30), gap = num('gapMs', 100), jitter = num('jitter', 0.5);
  const shared = bool('perQuerySocket', true) ? undefined : createSocket('udp4');
  for (let i = 0; i < count; i++) {
    const sock = shared ?? createSocket('udp4');
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 500);
      sock.once('message', () => { clearTimeout(t); resolve(); });
      sock.send(dnsQuery(names(), qtypeOf(), rng.int(65536)), 53, server);
    });
    if (!shared) sock.close();
    await sleep(jittered(gap, jitter));
  }
  shared?.close();
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const HEX = '0123456789abcdef';
function randomLabel(len: number, alphabet = BASE32): string {
  let s = '';
  for (let i = 0; i < len; i++) s += alphabet[rng.int(alphabet.length)];
  return s;
}

/** Without an agent every request opens its own connection (Node's global agent would keep one alive). */
function httpGet(host: string, port: number, https: boolean, path: string, agent?: HttpAgent, body?: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const req = (https ? httpsRequest : httpRequest)(
      { host, port, path, method: body ? 'POST' : 'GET', agent: agent ?? false, rejectUnauthorized: false, headers: body ? { 'content-length': body.length } : {}, timeout: 8000 } as never,
      (res) => { let n = 0; res.on('data', (c: Buffer) => { n += c.length; }); res.on('end', () => resolve(n)); res.on('error', () => resolve(n)); },
    );
    req.on('error', () => resolve(-1));
    req.on('timeout', () => req.destroy());
    req.end(body);
  });
}

function randomBytes(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i += 4) b.writeUInt32LE((rng.next() * 0x100000000) >>> 0, Math.min(i, n - 4 < 0 ? 0 : n - 4));
  return b;
}

/** `rounds` HTTP uploads of sizeMin–sizeMax bytes (each followed by a download unless `download` is false), gapMs apart. */
async function httpRounds(host: string, port: number): Promise<void> {
  for (let i = 0; i < num('rounds', 3); i++) {
    const size = num('sizeMin', 20_000) + rng.int(num('sizeMax', 200_000) - num('sizeMin', 20_000) + 1);
    await httpGet(host, port, false, `/u/${randomLabel(8)}`, undefined, randomBytes(size));
    if (bool('download', true)) await httpGet(host, port, false, '/');
    await sleep(jittered(num('gapMs', 1000), 0.3));
  }
}

const kinds: Record<string, () => Promise<void>> = {
  async dns() {
    const qtypes = [1, 1, 1, 28];
    await dnsLookups(() => ORDINARY_NAMES[rng.int(ORDINARY_NAMES.length)]!, () => qtypes[rng.int(qtypes.length)]!);
  },
  async dnstunnel() {
    const domain = str('domain', 't.lab-tunnel.example');
    const labelLen = num('labelLen', 50), labels = num('labels', 2);
    const qtype = num('qtype', 16);
    // dnscat2's shape (`hex`): hex labels, query types rotated (`qtypes`); otherwise base32 and one type
    const qtypes = Array.isArray(p.qtypes) ? (p.qtypes as number[]) : [qtype];
    const alphabet = bool('hex', false) ? HEX : BASE32;
    await dnsLookups(() => `${Array.from({ length: labels }, () => randomLabel(Math.max(8, labelLen - rng.int(8)), alphabet)).join('.')}.${domain}`, () => qtypes[rng.int(qtypes.length)]!);
  },
  async browse() {
    const host = str('host', '10.232.1.10'), https = bool('https', false), port = num('port', https ? 443 : 80);
    const agent = https ? new HttpsAgent({ keepAlive: true, maxSockets: 4, rejectUnauthorized: false }) : new HttpAgent({ keepAlive: true, maxSockets: 4 });
    for (let page = 0; page < num('pages', 4); page++) {
      await httpGet(host, port, https, `/page/${rng.int(1e6)}`, agent);
      const assets = num('assetsMin', 3) + rng.int(num('assetsMax', 10) - num('assetsMin', 3) + 1);
      await Promise.all(Array.from({ length: assets }, () => httpGet(host, port, https, `/asset/${randomLabel(3 + rng.int(20))}`, agent)));
      await sleep(jittered(num('thinkMs', 800), 0.6));
    }
    agent.destroy();
  },
  async fetches() {
    // Many short independent requests (API polling, several browser tabs): one connection each.
    const host = str('host', '10.232.1.10'), https = bool('https', false), port = num('port', https ? 443 : 80);
    const paths = ['/api/status', '/page/', '/asset/', '/bytes/'];
    for (let i = 0; i < num('count', 50); i++) {
      const p0 = paths[rng.int(paths.length)]!;
      const path = p0 === '/bytes/' ? `/bytes/${200 + rng.int(80_000)}` : p0.endsWith('/') ? `${p0}${randomLabel(2 + rng.int(30))}` : p0;
      await httpGet(host, port, https, path);
      await sleep(jittered(num('gapMs', 60), 0.8));
    }
  },
  async download() {
    const host = str('host', '10.232.1.10'), https = bool('https', false), port = num('port', https ? 443 : 80);
    for (const size of (p.sizes as number[] | undefined) ?? [100_000]) {
      await httpGet(host, port, https, `/bytes/${size}`);
      await sleep(jittered(num('gapMs', 300), 0.5));
    }
  },
  async upload() {
    const host = str('host', '10.232.1.99'), https = bool('https', false), port = num('port', https ? 443 : 8000);
    for (let i = 0; i < num('count', 5); i++) {
      const size = num('sizeMin', 20_000) + rng.int(num('sizeMax', 200_000) - num('sizeMin', 20_000) + 1);
      await httpGet(host, port, https, `/u/${randomLabel(8)}`, undefined, randomBytes(size));
      await sleep(jittered(num('periodMs', 2000), num('jitter', 0.3)));
    }
  },
  async beacon() {
    const host = str('host', '10.232.1.99'), mode = str('mode', 'tcp');
    for (let i = 0; i < num('count', 20); i++) {
      const size = num('sizeMin', 40) + rng.int(num('sizeMax', 200) - num('sizeMin', 40) + 1);
      if (mode === 'tcp') {
        await new Promise<void>((resolve) => {
          const s = connect({ host, port: num('port', 4444) }, () => s.write(randomBytes(size)));
          s.on('data', () => s.end());
          s.on('close', () => resolve());
          s.on('error', () => resolve());
          s.setTimeout(3000, () => s.destroy());
        });
      } else {
        const https = mode === 'https';
        await httpGet(host, num('port', https ? 443 : 8081), https, `/b/${randomLabel(6)}?id=${randomLabel(12)}`, undefined, rng.next() < 0.5 ? randomBytes(size) : undefined);
      }
      await sleep(jittered(num('periodMs', 1000), num('jitter', 0.2)));
    }
  },
  async ntp() {
    const server = str('server', '10.232.1.10');
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(bool('port123', true) ? 123 : 0, r));
    for (let i = 0; i < num('count', 4); i++) {
      const req = Buffer.alloc(48);
      req[0] = 0x23; // version 4, mode 3 (client)
      req.writeUInt32BE(Math.floor(Date.now() / 1000) + 2208988800, 40);
      sock.send(req, 123, server);
      await sleep(jittered(num('gapMs', 1000), 0.2));
    }
    sock.close();
  },
  async mqtt() {
    const client = mqtt.connect(`mqtt://${str('broker', '10.232.1.10')}:1883`, { clientId: `lab-${randomLabel(6)}`, reconnectPeriod: 0, keepalive: 30 });
    await new Promise<void>((resolve) => { client.once('connect', () => resolve()); client.once('error', () => resolve()); setTimeout(resolve, 3000); });
    const topic = str('topic', 'site/sensors');
    if (str('role', 'pub') === 'sub') {
      client.subscribe(`${topic}/#`);
      await sleep(num('durationMs', 8000));
    } else {
      for (let i = 0; i < num('count', 20); i++) {
        client.publish(`${topic}/${str('sensor', 'temp1')}`, JSON.stringify({ t: Date.now(), v: 20 + rng.gauss(), seq: i }), { qos: rng.next() < 0.5 ? 0 : 1 });
        await sleep(jittered(num('periodMs', 300), 0.2));
      }
    }
    await new Promise<void>((r) => client.end(false, {}, () => r()));
  },
  async ssdp() {
    const sock = createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise<void>((r) => sock.bind(0, r));
    for (let i = 0; i < num('count', 5); i++) {
      if (rng.next() < 0.5) {
        sock.send(Buffer.from('M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n'), 1900, '239.255.255.250');
      } else {
        sock.send(dnsQuery(`_services._dns-sd._udp.local`, 12, 0), 5353, '224.0.0.251');
      }
      await sleep(jittered(num('gapMs', 500), 0.5));
    }
    sock.close();
  },
  async chatter() {
    // Everyday background that is neither web nor DNS: SNMP/CoAP/BACnet-style request-response, one-way syslog,
    // the odd connection to a service that is down, multicast group joins (IGMP) and announcements.
    const host = str('host', '10.232.1.10');
    const mcast = createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise<void>((r) => mcast.bind(5353, r));
    try { mcast.addMembership('224.0.0.251'); mcast.addMembership('239.255.255.250'); } catch { /* no multicast route */ }
    for (let i = 0; i < num('count', 15); i++) {
      const what = rng.int(6);
      if (what <= 1) {
        const port = [161, 5683, 47808][rng.int(3)]!;
        const sock = createSocket('udp4');
        for (let k = 0; k < 1 + rng.int(3); k++) {
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, 300);
            sock.once('message', () => { clearTimeout(t); resolve(); });
            sock.send(randomBytes(20 + rng.int(80)), port, host);
          });
        }
        sock.close();
      } else if (what === 2) {
        const sock = createSocket('udp4');
        sock.send(Buffer.from(`<134>lab app[${rng.int(9999)}]: event ${randomLabel(12)}`), 514, host, () => sock.close());
      } else if (what === 3) {
        await new Promise<void>((resolve) => {
          const s = connect({ host, port: [8443, 9000, 5432][rng.int(3)]! });
          s.on('error', () => resolve()); s.on('connect', () => { s.destroy(); resolve(); });
          s.setTimeout(1000, () => { s.destroy(); resolve(); });
        });
      } else {
        mcast.send(dnsQuery(`${randomLabel(6)}.local`, 1, 0), 5353, '224.0.0.251');
      }
      await sleep(jittered(num('gapMs', 600), 0.6));
    }
    mcast.close();
  },
  async ftpbrute() {
    const host = str('host', '10.232.1.10');
    for (let i = 0; i < num('count', 30); i++) {
      await new Promise<void>((resolve) => {
        const s = connect({ host, port: 21 });
        let step = 0;
        s.on('data', () => {
          if (step === 0) s.write(`USER ${['admin', 'root', 'ftp', 'user'][rng.int(4)]}\r\n`);
          else if (step === 1) s.write(`PASS ${randomLabel(6 + rng.int(6))}\r\n`);
          else s.end('QUIT\r\n');
          step++;
        });
        s.on('close', () => resolve());
        s.on('error', () => resolve());
        s.setTimeout(3000, () => s.destroy());
      });
      await sleep(jittered(num('gapMs', 50), 0.5));
    }
  },
  async httpbrute() {
    const host = str('host', '10.232.1.10'), port = num('port', 8080);
    const agent = bool('keepAlive', false) ? new HttpAgent({ keepAlive: true, maxSockets: 1 }) : undefined;
    for (let i = 0; i < num('count', 50); i++) {
      await new Promise<void>((resolve) => {
        const auth = Buffer.from(`admin:${randomLabel(5 + rng.int(8))}`).toString('base64');
        const req = httpRequest({ host, port, path: '/admin', agent: agent ?? false, headers: { authorization: `Basic ${auth}` }, timeout: 3000 }, (res) => { res.resume(); res.on('end', () => resolve()); });
        req.on('error', () => resolve());
        req.end();
      });
      await sleep(jittered(num('gapMs', 30), 0.5));
    }
    agent?.destroy();
  },
};

/** Long CDN-style names, as a phone's apps resolve them in bursts (hashes and shard labels, not tunnel payloads). */
const CDN_NAMES = [
  'r4---sn-4g5ednsz.googlevideo.example', 'd1x7q9y2b3c4e5.cloudfront.example', 'e6858.dscx.akamaiedge.example',
  'scontent-fra3-1.xx.fbcdn.example', 'video-weighted.cdn-global.static.example.net', 'img-prod-eu-west-1.assets.shop.example',
  'a1234.g2.akamai-staging.example.com', 'api-mobile-v2.eu-central-1.prod.social.example', 'push-notifications.apple-like.example',
  'edge-star-mini-shv-01-ams4.phone-cdn.example', 'graph-eu-west.app-backend.example.io', 'static-asset-bucket-7f3a.storage.example',
];

async function dnsBurst(names: string[], server: string): Promise<void> {
  // A burst of parallel lookups from separate sockets, A + AAAA (+ HTTPS type 65), as a resolver library does.
  await Promise.all(names.flatMap((name) => [1, 28, ...(rng.next() < 0.3 ? [65] : [])].map((qtype) => new Promise<void>((resolve) => {
    const sock = createSocket('udp4');
    const t = setTimeout(() => { sock.close(); resolve(); }, 500);
    sock.once('message', () => { clearTimeout(t); sock.close(); resolve(); });
    sock.send(dnsQuery(name, qtype, rng.int(65536)), 53, server);
  }))));
}

/** QUIC-like exchange on UDP 443: a full-size first datagram, then request/response datagrams on the same port. */
async function quicLike(host: string, rounds: number): Promise<void> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, r));
  for (let i = 0; i < rounds; i++) {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 300);
      sock.once('message', () => { clearTimeout(t); resolve(); });
      sock.send(randomBytes(i === 0 ? 1250 : 40 + rng.int(300)), 443, host);
    });
    await sleep(jittered(40, 0.8));
  }
  sock.close();
}

Object.assign(kinds, {
  async dnstcp() {
    // DNS tunnel over TCP (dns2tcp/iodine -T shape): long base32 labels, length-prefixed, per connection or pipelined.
    const host = str('server', '10.232.1.10'), domain = str('domain', 't.lab-tunnel.example');
    const labelLen = num('labelLen', 50), labels = num('labels', 2), qtype = num('qtype', 16), perConn = num('perConnection', 1);
    let sent = 0;
    while (sent < num('count', 100)) {
      await new Promise<void>((resolve) => {
        const s = connect({ host, port: 53 });
        let inConn = 0;
        const next = (): void => {
          if (inConn >= perConn || sent >= num('count', 100)) { s.end(); return; }
          const name = `${Array.from({ length: labels }, () => randomLabel(Math.max(8, labelLen - rng.int(8)))).join('.')}.${domain}`;
          const q = dnsQuery(name, qtype, rng.int(65536));
          const len = Buffer.alloc(2); len.writeUInt16BE(q.length);
          s.write(Buffer.concat([len, q]));
          inConn++; sent++;
        };
        s.on('connect', next);
        s.on('data', () => { void sleep(jittered(num('gapMs', 20), 0.6)).then(next); });
        s.on('close', () => resolve());
        s.on('error', () => resolve());
        s.setTimeout(3000, () => s.destroy());
      });
      await sleep(jittered(num('gapMs', 20), 0.6));
    }
  },
  async iot() {
    // A device's cloud link: periodic telemetry and keepalives over one long-lived connection (MQTT, HTTPS
    // keep-alive) or from one UDP port (CoAP), as smart plugs, thermostats and cameras do.
    const proto = str('proto', 'mqtt'), period = num('periodMs', 1000), count = num('count', 20);
    if (proto === 'mqtt') {
      const client = mqtt.connect(`mqtt://${str('broker', '10.232.1.10')}:1883`, { clientId: `dev-${randomLabel(8)}`, reconnectPeriod: 0, keepalive: num('keepaliveS', 2) });
      await new Promise<void>((resolve) => { client.once('connect', () => resolve()); client.once('error', () => resolve()); setTimeout(resolve, 3000); });
      client.subscribe(`devices/${randomLabel(6)}/cmd`);
      for (let i = 0; i < count; i++) {
        if (rng.next() < num('publishShare', 0.7)) client.publish(`devices/${str('sensor', 'plug')}/state`, JSON.stringify({ on: rng.next() < 0.5, w: Math.round(rng.next() * 2000), seq: i }), { qos: 1 });
        await sleep(jittered(period, 0.1));
      }
      await new Promise<void>((r) => client.end(false, {}, () => r()));
    } else if (proto === 'https') {
      const agent = new HttpsAgent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
      for (let i = 0; i < count; i++) {
        await httpGet(str('host', '10.232.1.99'), 443, true, `/v1/telemetry/${str('sensor', 'thermo')}`, agent, Buffer.from(JSON.stringify({ t: 20 + rng.gauss(), h: 40 + rng.int(20), seq: i })));
        await sleep(jittered(period, 0.1));
      }
      agent.destroy();
    } else {
      const sock = createSocket('udp4');
      await new Promise<void>((r) => sock.bind(5683 + 1 + rng.int(1000), r));
      for (let i = 0; i < count; i++) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 400);
          sock.once('message', () => { clearTimeout(t); resolve(); });
          // CoAP confirmable POST header + a small CBOR-ish payload.
          sock.send(Buffer.concat([Buffer.from([0x42, 0x02, i >> 8, i & 0xff, rng.int(256), rng.int(256)]), randomBytes(12 + rng.int(30))]), 5683, str('host', '10.232.1.99'));
        });
        await sleep(jittered(period, 0.1));
      }
      sock.close();
    }
  },
  async phone() {
    // A phone or browser opening an app: DNS bursts of long CDN names, many parallel TLS connections, QUIC-like UDP/443.
    const server = str('server', '10.232.1.10'), hosts = (p.hosts as string[] | undefined) ?? ['10.232.1.10', '10.232.1.99'];
    for (let round = 0; round < num('rounds', 3); round++) {
      const names = Array.from({ length: 3 + rng.int(6) }, () => CDN_NAMES[rng.int(CDN_NAMES.length)]!);
      await dnsBurst(names, server);
      const conns = num('connsMin', 6) + rng.int(num('connsMax', 16) - num('connsMin', 6) + 1);
      await Promise.all([
        ...Array.from({ length: conns }, () => httpGet(hosts[rng.int(hosts.length)]!, 443, true, rng.next() < 0.5 ? `/asset/${randomLabel(4 + rng.int(20))}` : `/bytes/${500 + rng.int(120_000)}`)),
        ...Array.from({ length: num('quic', 2) }, () => quicLike(hosts[rng.int(hosts.length)]!, 3 + rng.int(12))),
      ]);
      await sleep(jittered(num('thinkMs', 1500), 0.6));
    }
  },
  async mqttfleet() {
    // Many devices behind one host reconnecting to a broker (flaky Wi-Fi, power cycles): connect, publish a little, drop.
    const clients = num('clients', 8), cycles = num('cycles', 3);
    await Promise.all(Array.from({ length: clients }, async (_, c) => {
      const id = `fleet-${randomLabel(5)}-${c}`;
      for (let k = 0; k < cycles; k++) {
        await sleep(rng.int(num('spreadMs', 1500)));
        const client = mqtt.connect(`mqtt://${str('broker', '10.232.1.10')}:1883`, { clientId: id, reconnectPeriod: 0, keepalive: 5 + rng.int(30), clean: rng.next() < 0.5 });
        await new Promise<void>((resolve) => { client.once('connect', () => resolve()); client.once('error', () => resolve()); setTimeout(resolve, 3000); });
        for (let i = 0; i < 1 + rng.int(4); i++) {
          client.publish(`fleet/${id}/status`, JSON.stringify({ up: k, rssi: -40 - rng.int(50) }), { qos: rng.int(2) as 0 | 1 });
          await sleep(jittered(200, 0.5));
        }
        // Half the time the device vanishes without DISCONNECT (the broker sees the TCP close only).
        if (rng.next() < 0.5) await new Promise<void>((r) => client.end(false, {}, () => r()));
        else client.end(true);
      }
    }));
  },
  async broadcast() {
    // Link-local chatter of a home network: SSDP NOTIFY/M-SEARCH, mDNS, LLMNR, NetBIOS name and datagram
    // broadcasts, multicast group joins (IGMP reports).
    const bcast = str('broadcast', '10.232.1.255'), name = `LAB-${randomLabel(5).toUpperCase()}`;
    const mcast = createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise<void>((r) => mcast.bind(5353, r));
    for (const g of ['224.0.0.251', '239.255.255.250', '224.0.0.252']) try { mcast.addMembership(g); } catch { /* no route */ }
    const nb = createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise<void>((r) => nb.bind(bool('netbiosPorts', true) ? 137 : 0, r));
    nb.setBroadcast(true);
    const any = createSocket('udp4');
    await new Promise<void>((r) => any.bind(0, r));
    for (let i = 0; i < num('count', 20); i++) {
      const what = rng.int(6);
      if (what === 0) mcast.send(Buffer.from(`NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=1800\r\nLOCATION: http://${str('self', '10.232.1.21')}:49152/desc.xml\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\nUSN: uuid:${randomLabel(8)}::upnp:rootdevice\r\n\r\n`), 1900, '239.255.255.250');
      else if (what === 1) any.send(Buffer.from('M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\nMX: 2\r\nST: urn:dial-multiscreen-org:service:dial:1\r\n\r\n'), 1900, '239.255.255.250');
      else if (what === 2) mcast.send(dnsQuery(pickOne(['_googlecast._tcp.local', '_airplay._tcp.local', '_spotify-connect._tcp.local', '_hap._tcp.local', `${name.toLowerCase()}.local`]), 12, 0), 5353, '224.0.0.251');
      else if (what === 3) any.send(dnsQuery(pickOne(['wpad', 'printer', name.toLowerCase(), 'nas']), 1, rng.int(65536)), 5355, '224.0.0.252');
      else if (what === 4) nb.send(netbiosQuery(pickOne(['WORKGROUP', 'WPAD', name])), 137, bcast);
      else nb.send(Buffer.concat([Buffer.from([0x11, 0x02, rng.int(256), rng.int(256)]), randomBytes(180 + rng.int(40))]), 138, bcast);
      await sleep(jittered(num('gapMs', 500), 0.7));
    }
    mcast.close(); nb.close(); any.close();
  },
  async stream() {
    // Video streaming: a manifest, then segments of a few hundred kB over one keep-alive TLS connection, paced.
    const host = str('host', '10.232.1.99'), https = bool('https', true), port = https ? 443 : 8000;
    const agent = https ? new HttpsAgent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false }) : new HttpAgent({ keepAlive: true, maxSockets: 1 });
    await httpGet(host, port, https, '/api/manifest.m3u8', agent);
    const seg = num('segmentBytes', 400_000);
    for (let i = 0; i < num('segments', 12); i++) {
      await httpGet(host, port, https, `/bytes/${Math.round(seg * (0.7 + 0.6 * rng.next()))}`, agent);
      if (i % 5 === 4) await httpGet(host, port, https, '/api/manifest.m3u8', agent);
      await sleep(jittered(num('periodMs', 1000), 0.15));
    }
    agent.destroy();
  },
});

Object.assign(kinds, {
  async rtp() {
    // A camera or a call streaming to its recorder: RTP (RFC 3550 header: version 2, dynamic payload type 96, sequence,
    // 90 kHz timestamp, one SSRC) in datagrams of `size`, `fps` frames a second of `pps / fps` datagrams each, one way,
    // between dynamic ports; to a group address when `group` is set (IPTV), with `ttl`.
    const host = str('host', '10.232.1.10'), port = num('port', 6000), pps = num('pps', 200), fps = num('fps', 25);
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(num('localPort', 5004), () => r()));
    if (bool('group', false)) s.setMulticastTTL(num('ttl', 4));
    const ssrc = rng.int(2 ** 31), perFrame = Math.max(1, Math.round(pps / fps)), size = num('size', 1316);
    const end = Date.now() + num('durationMs', 20_000);
    let seq = rng.int(65536), ts = rng.int(2 ** 31);
    while (Date.now() < end) {
      for (let k = 0; k < perFrame; k++) {
        const b = Buffer.alloc(size - rng.int(Math.max(1, Math.round(size / 8))));
        b[0] = 0x80; b[1] = 96 | (k === perFrame - 1 ? 0x80 : 0); // marker bit on a frame's last datagram
        b.writeUInt16BE(seq & 0xffff, 2); b.writeUInt32BE(ts >>> 0, 4); b.writeUInt32BE(ssrc, 8);
        s.send(b, port, host);
        seq++;
      }
      ts += 90_000 / fps;
      await sleep(1000 / fps);
    }
    s.close();
  },
  async rtpsink() {
    // The recorder: listens on `ports` for `durationMs`, so the streams get no port unreachables.
    const socks = (p.ports as number[]).map((port) => { const s = createSocket('udp4'); s.bind(port); return s; });
    if (typeof p.group === 'string') {
      const g = createSocket({ type: 'udp4', reuseAddr: true });
      g.bind(num('groupPort', 5004), () => g.addMembership(p.group as string));
      socks.push(g);
    }
    await sleep(num('durationMs', 25_000));
    for (const s of socks) s.close();
  },
  async dhcp() {
    await sendDiscovers({ count: num('count', 100), gapMs: num('gapMs', 5), randomMac: bool('randomMac', true), dev: str('dev', 'vdhcpc') }, rng);
  },
  async iodine() {
    // The real tool: iodine (IP over DNS) to the iodined that the run starts on the outside host, always through DNS
    // (-r: no raw-UDP shortcut). Once its set-up is complete, HTTP uploads and downloads go through the tunnel to the
    // outside host's web server on its tunnel address; then the client is stopped.
    const args = ['-f', '-r', '-P', str('password', 'lab-tunnel'), ...(str('type', 'auto') === 'auto' ? [] : ['-T', str('type', 'NULL')]),
      '-L', bool('lazy', true) ? '1' : '0', str('host', '10.232.1.99'), str('domain', 't.lab-tunnel.example')];
    const child = spawn('iodine', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let said = '';
    const ready = new Promise<boolean>((resolve) => {
      child.stderr!.on('data', (b: Buffer) => { said = (said + b.toString()).slice(-2000); if (said.includes('Connection setup complete')) resolve(true); });
      child.once('exit', () => resolve(false));
    });
    try {
      if (!(await Promise.race([ready, sleep(num('setupMs', 25_000)).then(() => false)]))) throw new Error(`iodine: no tunnel: ${said.slice(-400)}`);
      await httpRounds(str('tunnelServer', '10.53.0.1'), 8000);
    } finally {
      child.kill('SIGTERM');
    }
  },
  async forwarded() {
    // A real tunnel tool that forwards a local TCP port (ptunnel-ng over ICMP echo, dns2tcp over DNS) to the outside
    // host's web server: the tool is started here with its arguments, then HTTP uploads and downloads go through it.
    const [cmd, ...args] = p.command as string[];
    const local = num('localPort', 2222);
    const child = spawn(cmd!, args, { stdio: 'ignore' });
    try {
      await sleep(num('startMs', 1000));
      await httpRounds('127.0.0.1', local);
    } finally {
      child.kill('SIGTERM');
    }
  },
  async icmptunnel() {
    const self = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal);
    if (!self) throw new Error('icmptunnel: this namespace has no IPv4 address');
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(str('peerMac', ''))) throw new Error('icmptunnel: peerMac must be the peer MAC');
    await icmpTunnel({ host: str('host', '10.232.1.99'), peerMac: str('peerMac', ''), sessions: num('sessions', 1), count: num('count', 100), gapMs: num('gapMs', 50), sizeMin: num('sizeMin', 200), sizeMax: num('sizeMax', 900), maxMs: num('maxMs', 40_000) - 1000 }, self.address, rng, randomBytes);
  },
});

function pickOne<T>(xs: T[]): T { return xs[rng.int(xs.length)]!; }

function netbiosQuery(name: string): Buffer {
  // NetBIOS name query (broadcast flag), first-level encoded name.
  const padded = name.padEnd(15, ' ').slice(0, 15) + '\u0000';
  const encoded = Buffer.from([...padded].flatMap((ch) => { const c = ch.charCodeAt(0); return [0x41 + (c >> 4), 0x41 + (c & 15)]; }));
  const header = Buffer.from([rng.int(256), rng.int(256), 0x01, 0x10, 0, 1, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, Buffer.from([32]), encoded, Buffer.from([0, 0, 0x20, 0, 1])]);
}

const fn = kind ? kinds[kind] : undefined;
if (!fn) throw new Error(`unknown client kind ${kind}; one of ${Object.keys(kinds).join(', ')}`);
await fn();
process.exit(0);
