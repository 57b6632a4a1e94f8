/**
 * Signs response commands with the gateway's key (protocol/command.ts). Sequence numbers are the signing time in
 * microseconds, kept strictly increasing: they stay above every earlier command across gateway restarts without
 * a counter on disk, as long as the clock does not go back by more than the gap to the last command.
 */
import type { KeyObject } from 'node:crypto';
import { COMMAND_TYPE, signCommand, type ActionSpec, type ResponseCommand } from '../../protocol/command.js';

export class CommandSigner {
  private lastSeq = 0;

  constructor(private readonly key: KeyObject, private readonly validityMs: number, private readonly now: () => number = Date.now) {}

  sign(sensor: string, op: ResponseCommand['op'], actions: ActionSpec[]): { seq: number; bytes: Uint8Array } {
    const t = this.now();
    const seq = Math.max(this.lastSeq + 1, t * 1000);
    this.lastSeq = seq;
    const cmd: ResponseCommand = { type: COMMAND_TYPE, sensor, seq, issued_ms: t, expires_ms: t + this.validityMs, op, actions };
    return { seq, bytes: signCommand(cmd, this.key) };
  }
}
