/**
 * The gateway's EVE JSON output: each alert, when created and when escalated, as one Suricata EVE alert record
 * (gateway/eve-alert.ts) appended to the EVE file and/or sent to syslog. SIGHUP reopens the file (logrotate's
 * postrotate `kill -HUP`); the listener is this output's own and goes with it.
 */
import type { Logger } from '../common/log.js';
import { limitWarnings } from './log-limit.js';
import type { AlertReason } from './alert-publisher.js';
import type { Alert } from './alert-types.js';
import type { GatewayConfig } from './config.js';
import { isEveReason, toEveAlert } from './eve-alert.js';
import { EveFile } from './eve-file.js';
import { EveSyslog } from './eve-syslog.js';

export class EveOutput {
  readonly file?: EveFile;
  readonly syslog?: EveSyslog;
  private readonly onHup = () => this.file?.reopen();

  /** undefined when neither eve.file nor eve.syslog is set. */
  static create(cfg: GatewayConfig['eve'], log: Logger): EveOutput | undefined {
    return cfg.file || cfg.syslog ? new EveOutput(cfg, log) : undefined;
  }

  private constructor(private readonly cfg: GatewayConfig['eve'], private readonly log: Logger) {
    const limited = limitWarnings(log);
    this.file = cfg.file ? new EveFile(cfg.file, limited) : undefined;
    this.syslog = cfg.syslog ? new EveSyslog(cfg.syslog, limited) : undefined;
    if (this.file) process.on('SIGHUP', this.onHup);
  }

  /** Called for every alert message; writes the created and escalated ones. */
  onAlert(a: Alert, sensor: string, reason: AlertReason): void {
    if (!isEveReason(reason)) return;
    const line = JSON.stringify(toEveAlert(a, sensor, reason, this.cfg.communityIdSeed));
    this.file?.write(line);
    this.syslog?.send(line);
  }

  close(): void {
    process.off('SIGHUP', this.onHup);
    this.file?.close();
    this.syslog?.close();
    this.log.debug({ file: this.file?.counts, syslog: this.syslog?.counts }, 'EVE output closed');
  }
}
