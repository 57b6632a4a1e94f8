/**
 * Lab servers, run inside a lab namespace: `node --import tsx models/lab/servers.ts <srv|ext> <workdir>`.
 *  srv: HTTP 80 + HTTPS 443 (downloads /bytes/<n>, pages /page/<n> with assets, uploads), HTTP basic auth 8080,
 *       DNS 53/udp and 53/tcp (A/AAAA/TXT/CNAME/NULL answers for any name; ANY gets a large answer, as an open
 *       resolver's would), NTP-like 123/udp (mode 7 "monlist" requests get several large replies), a scripted FTP
 *       login on 21, SNMP/CoAP/BACnet-style UDP (SNMP GetBulk gets a large reply), SSDP on 1900 (answers M-SEARCH,
 *       multicast or unicast), a QUIC-like UDP 443. The amplifying answers make srv usable as a reflector.
 *  ext: upload sinks on HTTP 8000 and HTTPS 443, C2 endpoints on TCP 4444 and HTTP 8081; as an "IoT cloud":
 *       CoAP 5683/udp and a QUIC-like UDP 443.
 * Every server only answers; none initiates traffic. Stops on SIGTERM.
 */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer as createHttp, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { createServer as createTcp } from 'node:net';
import { join } from 'node:path';

const [role, work] = process.argv.slice(2);
if (!role || !work) throw new Error('usage: servers.ts <srv|ext> <workdir>');
const tls = { key: readFileSync(join(work, 'key.pem')), cert: readFileSync(join(work, 'cert.pem')) };
const filler = Buffer.alloc(1 << 20, 'netsensor-lab-content ');

function web(req: IncomingMessage, res: ServerResponse): void {
  let received = 0;
  req.on('data', (c: Buffer) => { received += c.length; });
  req.on('end', () => {
    const url = req.url ?? '/';
    const m = /^\/bytes\/(\d+)/.exec(url);
    if (m) {
      let left = Math.min(Number(m[1]), 20 << 20);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': left });
      const push = (): void => {
        while (left > 0) {
          const n = Math.min(left, filler.length);
          left -= n;
          if (!res.write(filler.subarray(0, n))) { res.once('drain', push); return; }
        }
        res.end();
      };
      push();
      return;
    }
    if (url.startsWith('/page/')) {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(filler.subarray(0, 2000 + (url.length * 997) % 30000));
      return;
    }
    if (url.startsWith('/asset/')) {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(filler.subarray(0, 500 + (url.length * 7919) % 60000));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: true, received }));
  });
}

function basicAuth(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  const ok = req.headers.authorization === `Basic ${Buffer.from('lab:correct-horse').toString('base64')}`;
  res.writeHead(ok ? 200 : 401, ok ? {} : { 'www-authenticate': 'Basic realm="lab"' });
  res.end(ok ? 'welcome' : 'denied');
}

/** One DNS answer for a query message (first question only), or undefined if it is not a query. */
function dnsAnswer(msg: Buffer): Buffer | undefined {
  if (msg.length < 12) return undefined;
  let o = 12;
  while (o < msg.length && msg[o] !== 0) o += msg[o]! + 1;
  if (o + 5 > msg.length) return undefined;
  const qtype = msg.readUInt16BE(o + 1);
  const question = msg.subarray(12, o + 5);
  const records: [number, Buffer][] = [];
  const txt = (n: number): Buffer => { const t = Buffer.from(filler.subarray(0, n)); return Buffer.concat([Buffer.from([t.length]), t]); };
  if (qtype === 28) records.push([28, Buffer.from([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])]);
  else if (qtype === 16) records.push([16, txt(40 + (o % 150))]);
  else if (qtype === 10) records.push([10, Buffer.from(filler.subarray(0, 60 + (o % 120)))]);
  else if (qtype === 5) records.push([5, Buffer.from([3, 0x63, 0x64, 0x6e, 0xc0, 0x0c])]);
  else if (qtype === 255) for (let k = 0; k < 5; k++) records.push([16, txt(230)]); // ANY: the amplification answer
  else records.push([1, Buffer.from([10, 232, 1, 10 + (o % 40)])]);
  const header = Buffer.from(msg.subarray(0, 12));
  header.writeUInt16BE(0x8180, 2); // response, RD, RA, NOERROR
  header.writeUInt16BE(1, 4); header.writeUInt16BE(records.length, 6); header.writeUInt16BE(0, 8); header.writeUInt16BE(0, 10);
  const answers = records.map(([type, rdata]) => {
    const a = Buffer.alloc(12);
    a.writeUInt16BE(0xc00c, 0); a.writeUInt16BE(type, 2); a.writeUInt16BE(1, 4); a.writeUInt32BE(60, 6); a.writeUInt16BE(rdata.length, 10);
    return Buffer.concat([a, rdata]);
  });
  return Buffer.concat([header, question, ...answers]);
}

function dnsServer(port: number): void {
  const sock = createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    const reply = dnsAnswer(msg);
    if (reply) sock.send(reply, rinfo.port, rinfo.address);
  });
  sock.bind(port);
  // DNS over TCP: two-byte length prefix per message, several queries per connection allowed.
  createTcp((s) => {
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const reply = dnsAnswer(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
        if (reply) { const len = Buffer.alloc(2); len.writeUInt16BE(reply.length); s.write(Buffer.concat([len, reply])); }
      }
    });
    s.on('error', () => {});
  }).listen(port);
}

function ntpServer(): void {
  const sock = createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    if (msg.length > 0 && (msg[0]! & 7) === 7) {
      // Mode 7 (the old "monlist" query): several 440-byte replies, the classic NTP amplification.
      for (let k = 0; k < 6; k++) sock.send(filler.subarray(0, 440), rinfo.port, rinfo.address);
      return;
    }
    const reply = Buffer.alloc(48);
    reply[0] = 0x24; // LI 0, version 4, mode 4 (server)
    reply[1] = 2;
    msg.copy(reply, 24, 40, 48); // originate timestamp = client's transmit
    reply.writeUInt32BE(Math.floor(Date.now() / 1000) + 2208988800, 40);
    sock.send(reply, rinfo.port, rinfo.address);
  });
  sock.bind(123);
}

function ftpServer(): void {
  createTcp((s) => {
    s.write('220 lab FTP ready\r\n');
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString('latin1');
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        const cmd = line.split(' ')[0]!.toUpperCase();
        if (cmd === 'USER') s.write('331 Password required\r\n');
        else if (cmd === 'PASS') s.write('530 Login incorrect\r\n');
        else if (cmd === 'QUIT') { s.end('221 Bye\r\n'); return; }
        else s.write('530 Please login with USER and PASS\r\n');
      }
    });
    s.on('error', () => {});
  }).listen(21);
}

function c2Tcp(): void {
  createTcp((s) => {
    s.once('data', (d) => s.end(Buffer.from(`ACK ${d.length} ${'.'.repeat(d.length % 64)}\n`)));
    s.on('error', () => {});
  }).listen(4444);
}

/**
 * SNMP / CoAP / BACnet-style UDP services: a small reply per request (contents do not matter to flows), except an
 * SNMP GetBulk request (PDU tag 0xa5), which gets a large one, as an agent's table walk does.
 */
function udpResponder(port: number): void {
  const sock = createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    const bulk = port === 161 && msg.includes(0xa5);
    sock.send(filler.subarray(0, bulk ? 1300 : 30 + (msg.length * 3) % 200), rinfo.port, rinfo.address);
  });
  sock.bind(port);
}

/** SSDP: answers M-SEARCH (sent to the multicast group or unicast) with a device description, as a media box does. */
function ssdpResponder(): void {
  const sock = createSocket({ type: 'udp4', reuseAddr: true });
  sock.on('message', (msg, rinfo) => {
    if (!msg.toString('latin1').startsWith('M-SEARCH')) return;
    const reply = `HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nEXT:\r\nLOCATION: http://10.232.1.10:80/rootDesc.xml\r\nSERVER: Linux/5.10 UPnP/1.0 lab-media/1.0\r\nST: upnp:rootdevice\r\nUSN: uuid:${'0'.repeat(8)}-lab-media::upnp:rootdevice\r\n${'X-LAB: '.concat(filler.subarray(0, 120).toString('latin1'))}\r\n\r\n`;
    for (let k = 0; k < 2; k++) sock.send(reply, rinfo.port, rinfo.address);
  });
  sock.bind(1900, () => { try { sock.addMembership('239.255.255.250'); } catch { /* no multicast route */ } });
}

/** QUIC-like UDP 443: answers a datagram with one to three full-size datagrams (handshake, then data). */
function quicLike(): void {
  const sock = createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    const n = msg.length >= 1200 ? 3 : 1 + (msg.length % 2);
    for (let k = 0; k < n; k++) sock.send(filler.subarray(0, 1200 + ((msg.length * 7 + k) % 50)), rinfo.port, rinfo.address);
  });
  sock.bind(443);
}

const servers: { close(): unknown }[] = [];
if (role === 'srv') {
  servers.push(createHttp(web).listen(80), createHttps(tls, web).listen(443), createHttp(basicAuth).listen(8080));
  dnsServer(53);
  ntpServer();
  ftpServer();
  for (const port of [161, 5683, 47808]) udpResponder(port);
  ssdpResponder();
  quicLike();
} else {
  servers.push(createHttp(web).listen(8000), createHttps(tls, web).listen(443), createHttp(web).listen(8081));
  c2Tcp();
  udpResponder(5683);
  quicLike();
}
process.on('SIGTERM', () => process.exit(0));
process.stderr.write(`lab servers ${role} ready\n`);
