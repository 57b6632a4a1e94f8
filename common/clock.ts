/**
 * Time as a dependency (MQTT.js style): code that waits or stamps takes a Clock, real time by default, so its
 * tests run on fake time instead of sleeping. The gateway passes `now` the same way.
 */
/** Opaque: a fake clock hands out its own handles. */
export type TimerHandle = object;

export interface Clock {
  /** Wall-clock time, ms since the epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(t: TimerHandle | undefined): void;
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(t: TimerHandle | undefined): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => clearTimeout(t as NodeJS.Timeout | undefined),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (t) => clearInterval(t as NodeJS.Timeout | undefined),
};
