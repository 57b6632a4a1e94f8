/**
 * One scored flow → the evidence it gives: which family, about which actor(s), how much. A flow the model calls
 * benign gives none. The weight is the model's confidence above its own per-class threshold (0.5…1), times what
 * the flow says by itself (families.ts `strength`); anomaly-only flows weigh ANOMALY_WEIGHT.
 */
import type { FlowKey } from '../protocol/event.js';
import { ANOMALY_WEIGHT, policyOf, type Role } from './families.js';
import { ruleEvidence } from './rules.js';

/** What the tracker needs of one scored flow (`row` is the feature row in schema order). */
export interface FlowVerdict {
  /** The flow as the wire names it (protocol/event.ts). */
  flow: FlowKey;
  /** An interim record of a flow that goes on (it will be reported again). */
  interim: boolean;
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
}

/** The evidence items of one flow: the model's verdict, and the rules' (rules.ts) where the model saw nothing. */
export function evidenceOf(v: FlowVerdict): Evidence[] {
  const family = v.alertClass;
  const rules = ruleEvidence(v);
  if (!family) return rules;
  const policy = policyOf(family);
  let weight: number;
  if (family === 'anomaly') weight = ANOMALY_WEIGHT;
  else {
    const t = v.classThreshold;
    const confidence = t < 1 ? Math.min(1, Math.max(0, (v.score - t) / (1 - t))) : 1;
    weight = 0.5 + 0.5 * confidence;
  }
  if (policy.strength) weight *= policy.strength(v.row);
  const f = v.flow;
  const items: Evidence[] = policy.roles.map((role) => role === 'src'
    ? { family, role, actor: f.src_ip, peer: f.dst_ip, port: f.dst_port, weight }
    : { family, role, actor: f.dst_ip, peer: f.src_ip, port: f.dst_port, weight });
  for (const r of rules) if (!items.some((i) => i.family === r.family && i.role === r.role)) items.push(r);
  return items;
}
