/**
 * Lab servers, run inside a lab namespace: `node --import tsx models/lab/servers.ts <srv|ext> <workdir>`.
 *  srv: HTTP 80 + HTTPS 443 (downloads /bytes/<n>, pages /page/<n> with assets, uploads), HTTP basic auth 8080,
 *       DNS 53/udp (A/AAAA/TXT/CNAME/NULL answers for any name), NTP-like 123/udp, a scripted FTP login on 21.
 *  ext: upload sinks on HTTP 8000 and HTTPS 443, C2 endpoints on TCP 4444 and HTTP 8081.
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

function dnsServer(port: number): void {
  const sock = createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    if (msg.length < 12) return;
    // Parse the first question (labels until 0), answer with one record of its type.
    let o = 12;
    while (o < msg.length && msg[o] !== 0) o += msg[o]! + 1;
    if (o + 5 > msg.length) return;
    const qtype = msg.readUInt16BE(o + 1);
    const question = msg.subarray(12, o + 5);
    let rdata: Buffer;
    let type = qtype;
    if (qtype === 28) rdata = Buffer.from([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    else if (qtype === 16) { const t = Buffer.from(filler.subarray(0, 40 + (o % 150))); rdata = Buffer.concat([Buffer.from([t.length]), t]); }
    else if (qtype === 10) rdata = Buffer.from(filler.subarray(0, 60 + (o % 120)));
    else if (qtype === 5) rdata = Buffer.from([3, 0x63, 0x64, 0x6e, 0xc0, 0x0c]);
    else { type = 1; rdata = Buffer.from([10, 232, 1, 10 + (o % 40)]); }
    const header = Buffer.from(msg.subarray(0, 12));
    header.writeUInt16BE(0x8180, 2); // response, RD, RA, NOERROR
    header.writeUInt16BE(1, 4); header.writeUInt16BE(1, 6); header.writeUInt16BE(0, 8); header.writeUInt16BE(0, 10);
    const answer = Buffer.alloc(12);
    answer.writeUInt16BE(0xc00c, 0); answer.writeUInt16BE(type, 2); answer.writeUInt16BE(1, 4);
    answer.writeUInt32BE(60, 6); answer.writeUInt16BE(rdata.length, 10);
    sock.send(Buffer.concat([header, question, answer, rdata]), rinfo.port, rinfo.address);
  });
  sock.bind(port);
}

function ntpServer(): void {
  const sock = createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
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

/** SNMP / CoAP / BACnet-style UDP services: a small reply per request (contents do not matter to flows). */
function udpResponder(port: number): void {
  const sock = createSocket('udp4');
  sock.on('message', (msg, rinfo) => sock.send(filler.subarray(0, 30 + (msg.length * 3) % 200), rinfo.port, rinfo.address));
  sock.bind(port);
}

const servers: { close(): unknown }[] = [];
if (role === 'srv') {
  servers.push(createHttp(web).listen(80), createHttps(tls, web).listen(443), createHttp(basicAuth).listen(8080));
  dnsServer(53);
  ntpServer();
  ftpServer();
  for (const port of [161, 5683, 47808]) udpResponder(port);
} else {
  servers.push(createHttp(web).listen(8000), createHttps(tls, web).listen(443), createHttp(web).listen(8081));
  c2Tcp();
}
process.on('SIGTERM', () => process.exit(0));
process.stderr.write(`lab servers ${role} ready\n`);
