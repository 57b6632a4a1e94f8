/**
 * Warnings that remote parties can cause at will (malformed status or OTA messages, refused logins, ACL denials)
 * must not flood the log: through `limitWarnings(log)` each warning message is written at most once per
 * `intervalMs`, and the next one written says how many were suppressed in between. Other levels pass untouched;
 * children of the returned logger are limited too (each child on its own).
 */
import type { Logger } from '../common/log.js';

export const WARN_INTERVAL_MS = 60_000;
/** Distinct messages tracked (they are code constants; the cap only guards against a caller building them). */
const MAX_KEYS = 1000;

export function limitWarnings(log: Logger, intervalMs = WARN_INTERVAL_MS, now: () => number = Date.now): Logger {
  const seen = new Map<string, { last: number; suppressed: number }>();
  const warn = (...args: unknown[]): void => {
    const msg = typeof args[0] === 'string' ? args[0] : String(args[1] ?? '');
    const t = now();
    const s = seen.get(msg);
    if (s && t - s.last < intervalMs) { s.suppressed += 1; return; }
    if (!s && seen.size >= MAX_KEYS) seen.delete(seen.keys().next().value!);
    seen.set(msg, { last: t, suppressed: 0 });
    if (s?.suppressed) {
      const obj = typeof args[0] === 'object' && args[0] !== null ? args[0] : {};
      const rest = typeof args[0] === 'string' ? args : args.slice(1);
      (log.warn as (...a: unknown[]) => void)({ ...obj, suppressed: s.suppressed }, ...rest);
      return;
    }
    (log.warn as (...a: unknown[]) => void)(...args);
  };
  return new Proxy(log, {
    get(target, prop, receiver) {
      if (prop === 'warn') return warn;
      if (prop === 'child') return (bindings: Record<string, unknown>) => limitWarnings(target.child(bindings), intervalMs, now);
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(target) : v;
    },
  });
}
