/**
 * Tracks by (family, role, actor key), in nested maps: a flow's evidence finds its track without building a string key
 * per flow (a flood is 100,000 flows a second, each of which would otherwise allocate one).
 */
import type { Role } from './families.js';

interface Keyed { family: string; role: Role; indexKey: string }

export class TrackIndex<T extends Keyed> {
  private readonly byFamily = new Map<string, { src: Map<string, T>; dst: Map<string, T> }>();
  private count = 0;

  get size(): number { return this.count; }

  get(family: string, role: Role, key: string): T | undefined {
    return this.byFamily.get(family)?.[role].get(key);
  }

  add(t: T): void {
    let f = this.byFamily.get(t.family);
    if (!f) this.byFamily.set(t.family, (f = { src: new Map(), dst: new Map() }));
    const m = f[t.role];
    if (!m.has(t.indexKey)) this.count += 1;
    m.set(t.indexKey, t);
  }

  delete(t: T): void {
    if (this.byFamily.get(t.family)?.[t.role].delete(t.indexKey)) this.count -= 1;
  }

  /** Calls fn on every track; fn may delete the track it is given (Map iteration semantics). No iterator objects. */
  forEach(fn: (t: T) => void): void {
    for (const f of this.byFamily.values()) {
      f.src.forEach(fn);
      f.dst.forEach(fn);
    }
  }

  values(): T[] {
    const out: T[] = [];
    this.forEach((t) => out.push(t));
    return out;
  }

  clear(): void {
    this.byFamily.clear();
    this.count = 0;
  }
}
