/**
 * Failed broker logins per remote address. After `maxFailures` failures, each less than `windowMs` after the one
 * before, the address is refused without a password check (scrypt is deliberately slow: guesses also cost CPU)
 * until `windowMs` has passed since its last failure: at most `maxFailures` guesses per window. Refused attempts
 * do not count and a successful login only takes back its own attempt, so neither a sensor retrying a wrong password now and then behind
 * a shared address nor a valid login between guesses moves the limit. Memory is bounded: past `maxAddresses`
 * the address that failed least recently is forgotten.
 */
export interface LoginThrottleOptions {
  maxFailures: number;
  windowMs: number;
  maxAddresses: number;
}

export const LOGIN_THROTTLE_DEFAULTS: LoginThrottleOptions = { maxFailures: 10, windowMs: 60_000, maxAddresses: 10_000 };

export class LoginThrottle {
  /** Insertion order = least recently failed first (an entry is re-inserted on every failure). */
  private readonly failures = new Map<string, { count: number; last: number }>();

  constructor(private readonly opts: LoginThrottleOptions = LOGIN_THROTTLE_DEFAULTS, private readonly now: () => number = Date.now) {}

  /**
   * Called before a password check: false when `address` is refused now, else the attempt is counted as a
   * failure until `succeeded` takes it back (so parallel guesses cannot all pass before the first one failed).
   */
  attempt(address: string): boolean {
    const t = this.now();
    const f = this.current(address) ?? { count: 0, last: t };
    if (f.count >= this.opts.maxFailures) return false;
    f.count += 1;
    f.last = t;
    this.failures.delete(address);
    this.failures.set(address, f);
    if (this.failures.size > this.opts.maxAddresses) this.failures.delete(this.failures.keys().next().value!);
    return true;
  }

  /** The attempt's password was right: it no longer counts. */
  succeeded(address: string): void {
    const f = this.failures.get(address);
    if (!f) return;
    f.count -= 1;
    if (f.count <= 0) this.failures.delete(address);
  }

  private current(address: string): { count: number; last: number } | undefined {
    const f = this.failures.get(address);
    if (f && this.now() - f.last >= this.opts.windowMs) {
      this.failures.delete(address);
      return undefined;
    }
    return f;
  }
}
