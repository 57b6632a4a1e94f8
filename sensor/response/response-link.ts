/**
 * Response enforcement on the forwarding box (response.enabled, docs/response.md): follows the sensor's command
 * topic, accepts only commands signed by the pinned gateway key, not expired, never seen before (ReplayGuard)
 * and naming no protected address (allowlist.ts), applies them to its own nftables table in one transaction
 * each, and reports every outcome on .../response-report. One command at a time, in arrival order.
 */
import type { KeyObject } from 'node:crypto';
import { NetsensorError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import {
  CommandRefused, openCommand, peekSeq, type ActionSpec, type ResponseCommand, type ResponseReport,
} from '../../protocol/command.js';
import { topics } from '../../protocol/topics.js';
import type { Publisher } from '../publish.js';
import { currentAllowlist, type Allowlist } from './allowlist.js';
import { systemNft, type Nft } from './nft.js';
import { addLines, reconcileLines, removeLines, skeleton } from './nft-ruleset.js';
import { ReplayGuard } from './replay-guard.js';

export interface ResponseLinkOptions {
  sensorId: string;
  gatewayKey: KeyObject;
  stateDir: string;
  allowlist: readonly string[];
  brokerUrl: string;
  ratePps: number;
  /** Most actions the sensor holds at once (a sync listing more is refused). */
  maxActions: number;
  log: Logger;
  nft?: Nft;
  now?: () => number;
}

export class ResponseLink {
  private readonly nft: Nft;
  private readonly replay: ReplayGuard;
  private readonly now: () => number;
  private readonly topic: string;
  private publisher?: Publisher;
  private queue: Promise<void> = Promise.resolve();
  readonly counts = { ready: 0, applied: 0, removed: 0, synced: 0, refused: 0 };

  constructor(private readonly o: ResponseLinkOptions) {
    this.nft = o.nft ?? systemNft();
    this.replay = new ReplayGuard(o.stateDir);
    this.now = o.now ?? Date.now;
    this.topic = topics.response(o.sensorId);
  }

  /** Creates the table and chains; elements left by an earlier run keep running down their timeouts. */
  async prepare(): Promise<void> {
    try {
      await this.nft.apply(skeleton(this.o.ratePps));
    } catch (e) {
      throw new NetsensorError('ERR_CONFIG', `response.enabled: cannot set up the nftables table (root or CAP_NET_ADMIN needed): ${(e as Error).message}`, { cause: e });
    }
  }

  attachTo(publisher: Publisher): void {
    this.publisher = publisher;
    publisher.on('connect', () => { void this.subscribe(); });
    if (publisher.connected) void this.subscribe();
  }

  private async subscribe(): Promise<void> {
    const client = this.publisher?.mqttClient;
    if (!client) return;
    client.removeListener('message', this.onMessage);
    client.on('message', this.onMessage);
    try {
      await client.subscribeAsync(this.topic, { qos: 1 });
    } catch (e) {
      this.o.log.warn({ err: e }, 'could not follow the response command topic');
      return;
    }
    await this.publish(this.report(undefined, 'ready', []));
  }

  private readonly onMessage = (topic: string, payload: Buffer): void => {
    if (topic !== this.topic) return;
    this.queue = this.queue.then(async () => { await this.handle(new Uint8Array(payload)); }).catch((e) => this.o.log.error({ err: e }, 'response command handling failed'));
  };

  /** Verifies, applies and reports one command; returns the report (tests call it directly). */
  async handle(bytes: Uint8Array): Promise<ResponseReport> {
    let cmd: ResponseCommand | undefined;
    let report: ResponseReport;
    try {
      cmd = openCommand(bytes, { key: this.o.gatewayKey, sensor: this.o.sensorId, now: this.now() });
      if (!this.replay.accept(cmd.seq)) throw new CommandRefused('replayed', `seq ${cmd.seq} is not above ${this.replay.lastSeq}`);
      report = await this.execute(cmd);
    } catch (e) {
      const refused = e instanceof CommandRefused ? e : new CommandRefused('nft_failed', (e as Error).message);
      report = this.report(cmd, 'refused', cmd?.actions.map((a) => a.id) ?? [], refused);
      if (!cmd) report.seq = peekSeq(bytes);
      this.o.log.warn({ reason: refused.reason, seq: report.seq, op: cmd?.op }, `response command refused: ${refused.message}`);
    }
    this.counts[report.result] += 1;
    await this.publish(report);
    return report;
  }

  private async execute(cmd: ResponseCommand): Promise<ResponseReport> {
    const now = this.now();
    const allow = await currentAllowlist(this.o.allowlist, this.o.brokerUrl);
    if (cmd.op === 'undo') {
      await this.nft.apply(removeLines(cmd.actions[0]));
      this.o.log.info({ action: cmd.actions[0] }, 'response action removed');
      return this.report(cmd, 'removed', [cmd.actions[0].id]);
    }
    if (cmd.op === 'apply') {
      const a = cmd.actions[0];
      guard(allow, a);
      await this.nft.apply(addLines(a, now));
      this.o.log.info({ action: a, ttl_ms: a.until_ms - now }, 'response action applied');
      return this.report(cmd, 'applied', [a.id]);
    }
    // sync: the gateway's record wins; a protected address in it is left out and reported on its own
    if (cmd.actions.length > this.o.maxActions) throw new CommandRefused('too_many_actions', `${cmd.actions.length} actions (max ${this.o.maxActions})`);
    const kept: ActionSpec[] = [];
    for (const a of cmd.actions) {
      try {
        guard(allow, a);
        kept.push(a);
      } catch (e) {
        this.counts.refused += 1;
        await this.publish(this.report(cmd, 'refused', [a.id], e as CommandRefused));
      }
    }
    await this.nft.apply(reconcileLines(kept, now));
    this.o.log.info({ actions: kept.length }, 'response table reconciled with the gateway');
    return this.report(cmd, 'synced', kept.map((a) => a.id));
  }

  private report(cmd: ResponseCommand | undefined, result: ResponseReport['result'], ids: string[], refused?: CommandRefused): ResponseReport {
    return {
      v: 1, sensor: this.o.sensorId, ts: Date.now(), seq: cmd?.seq, op: cmd?.op, result, action_ids: ids,
      ...(refused ? { reason: refused.reason, message: refused.message.slice(0, 300) } : {}),
    };
  }

  private async publish(r: ResponseReport): Promise<void> {
    const client = this.publisher?.mqttClient;
    if (!client) return;
    try {
      await client.publishAsync(topics.responseReport(this.o.sensorId), JSON.stringify(r), { qos: 1 });
    } catch (e) {
      this.o.log.warn({ err: e }, 'response report not published');
    }
  }

  /** Waits for the command being handled (shutdown). */
  async idle(): Promise<void> { await this.queue; }
}

function guard(allow: Allowlist, a: ActionSpec): void {
  for (const ip of a.dst ? [a.src, a.dst] : [a.src]) {
    const why = allow.protects(ip);
    if (why) throw new CommandRefused('allowlisted', `${ip} is protected (${why})`);
  }
}
