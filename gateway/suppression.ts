/**
 * Operator suppressions (docs/gateway.md, "Suppressing a site's own false alarms"): a recurring alert that the
 * people who run the site know to be harmless — their monitor's ping rounds, a hub polling devices that are off,
 * a torrent box — silenced at the gateway for every sensor at once, without a code change. Suricata's `suppress`
 * and Zeek's notice policy do the same job.
 *
 * A rule names the alert family (`class`, or `*`), at least one of the actor (`src`), the targets (`dest`) or the
 * `sensor`, a `reason` for the record and, best, an expiry (`until`). An alert a rule matches is still correlated,
 * stored and listed by the API; it is not announced: no message on netsensor/v1/alerts/#, no EVE record, no Home
 * Assistant state, no automated response. A rule matches only while the whole alert lies inside it: every source
 * of a fan-in, every host a sweep touched, every sensor that saw it (a capped list that is not complete never
 * matches) — so a monitor's silenced sweep that strays past its subnet is announced at once.
 *
 * Rules are reloaded on SIGHUP and expire by themselves; an alert held back until then and no longer matched is
 * announced as new (reason `created`), so a subscriber sees it whole.
 */
import { addressList, parseAllowEntry, type AddressList } from '../common/address-list.js';
import { FAMILIES } from '../detection/families.js';
import { parseNamedRules } from './named-rules.js';
import { ID_PATTERN } from '../protocol/topics.js';
import type { Alert } from './alert-types.js';
import type { AlertChange } from './correlate.js';
import type { GatewayMetrics } from './metrics.js';
import type { Logger } from '../common/log.js';

export interface Suppression {
  name: string;
  /** Alert family (`scan`, `dos`, …) or `*` for any. */
  class: string;
  /** The actor: address or address/prefix holding the alert's source (every source of a fan-in). */
  src?: string;
  /** The targets: address or address/prefix holding the alert's destination and every host it touched. */
  dest?: string;
  /** Only alerts seen by this sensor alone. */
  sensor?: string;
  /** ISO 8601 date or time from which the rule no longer applies (a date alone: its start, 00:00 UTC). */
  until?: string;
  /** Why: kept with the rule, shown by the API and logged with each alert held back. */
  reason: string;
}

const MAX_REASON = 200;
/** Alerts remembered as held back (to announce them as new when no rule holds them any more); oldest forgotten first. */
const MAX_HELD = 50_000;
const KEYS = new Set(['name', 'class', 'src', 'dest', 'sensor', 'until', 'reason']);

export function parseSuppressions(raw: unknown): Suppression[] {
  return parseNamedRules(raw, 'suppress', KEYS, 'rules', (x, bad) => {
    const classes = Object.keys(FAMILIES);
    if (typeof x.class !== 'string' || (x.class !== '*' && !classes.includes(x.class))) throw bad(`class: one of ${classes.join(', ')}, or * for any`);
    for (const k of ['src', 'dest'] as const) {
      if (x[k] === undefined) continue;
      if (typeof x[k] !== 'string') throw bad(`${k}: an address or address/prefix`);
      const problem = parseAllowEntry(x[k] as string);
      if (problem) throw bad(`${k}: ${problem}`);
    }
    if (x.sensor !== undefined && (typeof x.sensor !== 'string' || !ID_PATTERN.test(x.sensor))) throw bad('sensor: a sensor id');
    if (x.src === undefined && x.dest === undefined && x.sensor === undefined) {
      throw bad('name at least one of src, dest or sensor: a rule for a whole family everywhere would hide real attacks too');
    }
    if (x.until !== undefined && (typeof x.until !== 'string' || !/^\d{4}-\d\d-\d\d/.test(x.until) || Number.isNaN(Date.parse(x.until)))) {
      throw bad('until: an ISO 8601 date or time, e.g. 2027-03-01 or 2027-03-01T08:00:00Z');
    }
    if (typeof x.reason !== 'string' || x.reason.trim() === '' || x.reason.length > MAX_REASON) throw bad(`reason: why, in 1–${MAX_REASON} characters`);
    return {
      name: x.name, class: x.class, reason: x.reason.trim(),
      ...(x.src !== undefined ? { src: x.src as string } : {}), ...(x.dest !== undefined ? { dest: x.dest as string } : {}),
      ...(x.sensor !== undefined ? { sensor: x.sensor as string } : {}), ...(x.until !== undefined ? { until: x.until as string } : {}),
    };
  });
}

interface Rule {
  spec: Suppression;
  untilMs: number;
  src?: AddressList;
  dest?: AddressList;
}

function compile(spec: Suppression): Rule {
  return {
    spec, untilMs: spec.until === undefined ? Infinity : Date.parse(spec.until),
    ...(spec.src ? { src: addressList([spec.src]) } : {}), ...(spec.dest ? { dest: addressList([spec.dest]) } : {}),
  };
}

/** Whether the whole alert lies inside the rule (see the file comment). */
function inside(r: Rule, a: Alert): boolean {
  if (r.spec.class !== '*' && r.spec.class !== a.class) return false;
  if (r.spec.sensor !== undefined && !(a.sensors.length > 0 && a.sensors.every((s) => s === r.spec.sensor))) return false;
  if (r.src) {
    const sources = a.kind === 'fan_in' ? a.sources ?? [a.src_ip] : [a.src_ip];
    if (a.kind === 'fan_in' && (a.source_count ?? 1) > sources.length) return false;
    if (!sources.every((s) => r.src!.has(s))) return false;
  }
  if (r.dest) {
    if (!r.dest.has(a.dest_ip) || a.host_count > a.hosts.length || !a.hosts.every((h) => r.dest!.has(h))) return false;
  }
  return true;
}

export interface SuppressionState extends Suppression {
  /** False once `until` has passed. */
  active: boolean;
  /** Alerts this rule held back since the gateway started. */
  alerts: number;
}

export class Suppressor {
  private rules: Rule[] = [];
  /** Alert id → the rule holding it back (insertion order: the oldest is forgotten first). */
  private readonly held = new Map<string, string>();
  private readonly hits = new Map<string, number>();

  constructor(
    rules: Suppression[],
    private readonly hooks: { held?(alert: Alert, rule: Suppression): void; rules?(rules: Suppression[]): void } = {},
    private readonly now: () => number = Date.now,
  ) {
    this.setRules(rules);
  }

  setRules(rules: Suppression[]): void {
    this.rules = rules.map(compile);
    this.hooks.rules?.(rules);
  }

  /** The active rule holding `a` back, if any. */
  ruleFor(a: Alert): Suppression | undefined {
    const t = this.now();
    return this.rules.find((r) => t < r.untilMs && inside(r, a))?.spec;
  }

  /**
   * What of `changes` may be announced: changes of alerts a rule holds back are left out (and remembered); an alert
   * held back before and matched by no rule now comes back as created.
   */
  filter(changes: AlertChange[]): AlertChange[] {
    if (this.rules.length === 0 && this.held.size === 0) return changes;
    const out: AlertChange[] = [];
    for (const c of changes) {
      const rule = this.ruleFor(c.alert);
      if (rule) {
        // a silent change (opened and merged into a fan-in within one batch) was never to be announced: not counted
        if (!c.silent && !this.held.has(c.alert.id)) {
          if (this.held.size >= MAX_HELD) this.held.delete(this.held.keys().next().value!);
          this.held.set(c.alert.id, rule.name);
          this.hits.set(rule.name, (this.hits.get(rule.name) ?? 0) + 1);
          this.hooks.held?.(c.alert, rule);
        }
        continue;
      }
      if (this.held.delete(c.alert.id)) {
        if (!c.silent) out.push({ ...c, created: true });
        continue;
      }
      out.push(c);
    }
    return out;
  }

  /**
   * After a restart or a takeover: the open alerts a rule matches now count as held back (their announcements were
   * held by this rule before, or — rule added since — will be from their next change on), so that the one that
   * stops matching is announced as created, as without the restart.
   */
  resume(open: Alert[]): void {
    for (const a of open) {
      const rule = this.ruleFor(a);
      if (rule && !this.held.has(a.id) && this.held.size < MAX_HELD) this.held.set(a.id, rule.name);
    }
  }

  /**
   * The alert as the API shows it: with `suppressed_by`, the name of the active rule that holds it back now (alerts
   * announced before a rule was added show it too; the rule decides from their next change on).
   */
  annotate<T extends Alert>(a: T): T & { suppressed_by?: string } {
    const rule = this.rules.length ? this.ruleFor(a) : undefined;
    return rule ? { ...a, suppressed_by: rule.name } : a;
  }

  /** The rules, for the API. */
  list(): SuppressionState[] {
    const t = this.now();
    return this.rules.map((r) => ({ ...r.spec, active: t < r.untilMs, alerts: this.hits.get(r.spec.name) ?? 0 }));
  }
}

/** The gateway's suppressor (single gateway and cluster workers): counted per rule, every rule's counter from 0, logged. */
export function gatewaySuppressor(rules: Suppression[], metrics: GatewayMetrics, log: Logger): Suppressor {
  return new Suppressor(rules, {
    rules: (list) => { for (const r of list) metrics.alertsSuppressed.inc({ rule: r.name }, 0); },
    held: (a, rule) => {
      metrics.alertsSuppressed.inc({ rule: rule.name });
      log.info({ alert: a.id, class: a.class, src_ip: a.src_ip, rule: rule.name, reason: rule.reason }, 'alert suppressed: stored, not announced');
    },
  });
}
