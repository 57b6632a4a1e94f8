/**
 * One scored flow → the evidence it gives: which family, about which actor(s), how much. A flow the model calls
 * benign gives none. The weight is the model's confidence above its own per-class threshold (0.5…1), times what
 * the flow says by itself (families.ts `strength`); anomaly-only flows weigh ANOMALY_WEIGHT.
 */
import type { FlowKey } from '../protocol/event.js';
import { ANOMALY_WEIGHT, policyOf, type Role } from './families.js';
import { isGroupAddress } from './group-address.js';
import { isIcmpError, ruleEvidence } from './rules.js';

/** What the tracker needs of one scored flow (`row` is the feature row in schema order). */
export interface FlowVerdict {
  /** The flow as the wire names it (protocol/event.ts). */
  flow: FlowKey;
  /** An interim record of a flow that goes on (it will be reported again). */
  interim: boolean;
  /**
   * Lone flows to the same target folded into this record besides its own (assembly/flow/lone-flows.ts): the verdict
   * stands for 1 + folded flows. Absent = 0.
   */
  folded?: number;
  /** The folded flows came from other initiators than this record's own (a spoofed flood): they are not its. */
  mixedSources?: boolean;
  /** Its packets hid data in IPv6 options of unassigned types (core/abi.ts KEY_FLAG_HIDDEN_OPTIONS). Absent = no. */
  hiddenOptions?: boolean;
  row: ArrayLike<number>;
  /** The model's decision (inference/decide.ts): the alerting class, or undefined when the flow is benign. */
  alertClass: string | undefined;
  score: number;
  /** The alerting class's probability threshold (0 for anomaly). */
  classThreshold: number;
  anomaly: number;
  top: ReadonlyArray<readonly [string, number]>;
}

export interface Evidence {
  family: string;
  role: Role;
  /** The actor: src_ip for role src, dst_ip for role dst. */
  actor: string;
  /** The other end, and the port that identifies the target. */
  peer: string;
  port: number;
  weight: number;
  /** A fingerprint probe (rules.ts): counts toward its family's minProbes. */
  probe: boolean;
}

/**
 * The evidence items of one flow, written into a reusable buffer: a flood hands the tracker a flow row after flow row,
 * so the items are overwritten in place, never allocated per flow. Valid until the next call with the same buffer.
 */
export class EvidenceBuffer {
  /** Model roles (at most 2) plus rule items (at most 3: a flood or reflection, hidden options or a tunnel, a probe). */
  readonly items: Evidence[] = Array.from({ length: 5 }, () => ({ family: '', role: 'src' as Role, actor: '', peer: '', port: 0, weight: 0, probe: false }));
  length = 0;

  push(family: string, role: Role, actor: string, peer: string, port: number, weight: number): Evidence {
    const e = this.items[this.length++]!;
    e.family = family; e.role = role; e.actor = actor; e.peer = peer; e.port = port; e.weight = weight; e.probe = false;
    return e;
  }

  has(family: string, role: Role): boolean {
    for (let i = 0; i < this.length; i++) if (this.items[i]!.family === family && this.items[i]!.role === role) return true;
    return false;
  }

  /** Adds an item, or raises the weight of the one already there for (family, role) to at least `weight`; returns it. */
  atLeast(family: string, role: Role, actor: string, peer: string, port: number, weight: number): Evidence {
    for (let i = 0; i < this.length; i++) {
      const e = this.items[i]!;
      if (e.family === family && e.role === role) { if (e.weight < weight) e.weight = weight; return e; }
    }
    return this.push(family, role, actor, peer, port, weight);
  }
}

/**
 * The evidence of one flow: the model's verdict, and the rules' (rules.ts). `thresholdOf` gives a family's threshold in
 * force (calibrated), which a rule's match must reach by itself.
 */
export function evidenceOf(v: FlowVerdict, out: EvidenceBuffer, thresholdOf: (family: string) => number): void {
  out.length = 0;
  const family = v.alertClass;
  if (family) {
    const policy = policyOf(family);
    if (policy.requires && !policy.requires(v.row, v.flow.src_port, v.flow.dst_port)) return ruleEvidence(v, out, thresholdOf);
    let weight: number;
    if (family === 'anomaly') weight = ANOMALY_WEIGHT;
    else {
      const t = v.classThreshold;
      const confidence = t < 1 ? Math.min(1, Math.max(0, (v.score - t) / (1 - t))) : 1;
      weight = 0.5 + 0.5 * confidence;
    }
    if (policy.strength) weight *= policy.strength(v.row);
    const f = v.flow;
    // rules.ts: an ICMP error speaks of its receiver, not its sender; families.ts: a group is not a host's target
    const notOfSrc = isIcmpError(f.proto, f.dst_port) || (policy.hostTargets === true && isGroupAddress(f.dst_ip));
    for (const role of policy.roles) {
      if (role === 'dst') out.push(family, role, f.dst_ip, f.src_ip, f.dst_port, weight);
      else if (!notOfSrc) out.push(family, role, f.src_ip, f.dst_ip, f.dst_port, weight);
    }
  }
  ruleEvidence(v, out, thresholdOf);
}
