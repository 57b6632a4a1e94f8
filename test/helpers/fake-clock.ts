/**
 * Fake time for code that takes a Clock (common/clock.ts): timers fire only when the test moves time forward,
 * in time order, with the promise callbacks they start run before the next one fires.
 */
import type { Clock, TimerHandle } from '../../common/clock.ts';

interface Timer { id: number; at: number; every?: number; fn: () => void }

export class FakeClock implements Clock {
  private t: number;
  private nextId = 1;
  private readonly timers = new Map<number, Timer>();

  constructor(start = 1_800_000_000_000) { this.t = start; }

  now(): number { return this.t; }
  setTimeout(fn: () => void, ms: number): TimerHandle { return this.add(fn, ms); }
  setInterval(fn: () => void, ms: number): TimerHandle { return this.add(fn, ms, Math.max(1, ms)); }
  clearTimeout(h: TimerHandle | undefined): void { if (h) this.timers.delete((h as { id: number }).id); }
  clearInterval(h: TimerHandle | undefined): void { this.clearTimeout(h); }

  /** Timers waiting to fire. */
  get pending(): number { return this.timers.size; }

  private add(fn: () => void, ms: number, every?: number): TimerHandle {
    const timer: Timer = { id: this.nextId++, at: this.t + Math.max(0, ms), every, fn };
    this.timers.set(timer.id, timer);
    return { id: timer.id };
  }

  /** Moves time forward by `ms`, firing every timer due on the way; awaits the work each one starts. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      let due: Timer | undefined;
      for (const x of this.timers.values()) if (x.at <= end && (!due || x.at < due.at)) due = x;
      if (!due) break;
      this.t = due.at;
      if (due.every) due.at += due.every;
      else this.timers.delete(due.id);
      due.fn();
      await settle();
    }
    this.t = end;
    await settle();
  }
}

/** Lets pending promise callbacks and I/O callbacks (real time, a few turns of the event loop) run. */
export async function settle(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
}
