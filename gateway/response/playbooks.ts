/**
 * Playbooks (docs/response.md): which alerts lead to which containment action, on which sensors, for how long.
 * Read from the gateway's settings (`response.playbooks`, a JSON list) and checked at start-up: a typo in a
 * playbook is a configuration error, never a silently broader or narrower match.
 */
import { parseNamedRules } from '../named-rules.js';
import { ACTION_KINDS, type ActionKind } from '../../protocol/command.js';
import { ID_PATTERN } from '../../protocol/topics.js';
import type { Alert } from '../alert-types.js';

export const RESPONSE_MODES = ['off', 'dry-run', 'approve', 'auto'] as const;
export type ResponseMode = (typeof RESPONSE_MODES)[number];

export interface Playbook {
  name: string;
  /** Alert classes or kinds it answers (`dos`, `scan`, `port_scan`, `host_sweep`, …); `*` = any. */
  match: string[];
  action: ActionKind;
  ttlS: number;
  /** Severity at least this grave (1 high … 3 low). */
  minSeverity: 1 | 2 | 3;
  /** Sensors that must have reported the alert. */
  minSensors: number;
  /** Flows behind the alert. */
  minFlows: number;
  /** Only these sensors act (default: every sensor that reported the alert). */
  sensors?: string[];
  /** Overrides response.mode for this playbook (never turns on a response that is off). */
  mode?: Exclude<ResponseMode, 'off'>;
}

const KEYS = new Set(['name', 'match', 'action', 'ttlS', 'minSeverity', 'minSensors', 'minFlows', 'sensors', 'mode']);

export function parsePlaybooks(raw: unknown): Playbook[] {
  return parseNamedRules(raw, 'response.playbooks', KEYS, 'playbooks', (x, bad) => {
    if (!Array.isArray(x.match) || x.match.length === 0 || !x.match.every((m) => typeof m === 'string' && m.length > 0)) throw bad('match: a non-empty list of alert classes or kinds');
    if (!ACTION_KINDS.includes(x.action as ActionKind)) throw bad(`action: one of ${ACTION_KINDS.join(', ')}`);
    if (!Number.isInteger(x.ttlS) || (x.ttlS as number) < 1 || (x.ttlS as number) > 7 * 86_400) throw bad('ttlS: whole seconds, 1 to 604800 (an action always ends)');
    const int = (k: string, d: number, lo: number, hi: number) => {
      const v = x[k] ?? d;
      if (!Number.isInteger(v) || (v as number) < lo || (v as number) > hi) throw bad(`${k}: an integer from ${lo} to ${hi}`);
      return v as number;
    };
    if (x.sensors !== undefined && (!Array.isArray(x.sensors) || !x.sensors.every((s) => typeof s === 'string' && ID_PATTERN.test(s)))) throw bad('sensors: a list of sensor ids');
    if (x.mode !== undefined && !['dry-run', 'approve', 'auto'].includes(x.mode as string)) throw bad('mode: dry-run, approve or auto');
    return {
      name: x.name, match: x.match as string[], action: x.action as ActionKind, ttlS: x.ttlS as number,
      minSeverity: int('minSeverity', 3, 1, 3) as 1 | 2 | 3, minSensors: int('minSensors', 1, 1, 1000), minFlows: int('minFlows', 1, 1, 1e9),
      ...(x.sensors ? { sensors: x.sensors as string[] } : {}), ...(x.mode ? { mode: x.mode as Playbook['mode'] } : {}),
    };
  });
}

/** Whether `a` meets the playbook's conditions (the guard rails are checked after this, by the engine). */
export function matches(p: Playbook, a: Alert): boolean {
  if (!p.match.includes('*') && !p.match.includes(a.class) && !p.match.includes(a.kind)) return false;
  return a.severity <= p.minSeverity && a.sensors.length >= p.minSensors && (a.flow_count ?? a.event_count) >= p.minFlows;
}
