/**
 * EVE records to a syslog server over UDP (RFC 5424 framing, facility local5 as Suricata's syslog output
 * uses, severity info), for collectors that take syslog rather than a file. UDP loses what the network
 * loses; the EVE file is the record that keeps everything.
 */
import { createSocket, type Socket } from 'node:dgram';
import { hostname } from 'node:os';
import type { Logger } from '../common/log.js';

/** local5 (21) × 8 + info (6). */
const PRI = 21 * 8 + 6;

export class EveSyslog {
  private readonly socket: Socket;
  private readonly host: string;
  private readonly port: number;
  private readonly header: string;
  readonly counts = { sent: 0, failed: 0 };

  /** `url`: udp://host:port (validated by the settings table). */
  constructor(url: string, private readonly log: Logger) {
    const u = new URL(url);
    this.host = u.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(u.port || 514);
    this.socket = createSocket(this.host.includes(':') ? 'udp6' : 'udp4');
    this.socket.on('error', (e) => this.log.warn({ err: e }, 'EVE syslog socket error'));
    this.socket.unref();
    this.header = `${hostname() || '-'} netsensor ${process.pid} eve -`;
  }

  send(line: string): void {
    const msg = `<${PRI}>1 ${new Date().toISOString()} ${this.header} ${line}`;
    this.socket.send(msg, this.port, this.host, (e) => {
      if (e) { this.counts.failed += 1; this.log.warn({ err: e }, 'EVE syslog message not sent'); } else this.counts.sent += 1;
    });
  }

  close(): void {
    try { this.socket.close(); } catch { /* already closed */ }
  }
}
