/**
 * Running statistics (Welford's online algorithm: numerically stable mean and variance in one pass) over a
 * 32-byte block in linear memory: +0 mean f64, +8 m2 f64 (sum of squared deviations), +16 min f32,
 * +20 max f32, +24 n u32. A zeroed block is an empty statistic. Standard deviations are population ones.
 */

// @ts-ignore: decorator
@inline export function statAdd(p: usize, x: f64): void {
  const n = load<u32>(p, 24) + 1;
  store<u32>(p, n, 24);
  const mean = load<f64>(p);
  const d = x - mean;
  const m = mean + d / <f64>n;
  store<f64>(p, m);
  store<f64>(p, load<f64>(p, 8) + d * (x - m), 8);
  const xf = <f32>x;
  if (n == 1) {
    store<f32>(p, xf, 16);
    store<f32>(p, xf, 20);
  } else {
    if (xf < load<f32>(p, 16)) store<f32>(p, xf, 16);
    if (xf > load<f32>(p, 20)) store<f32>(p, xf, 20);
  }
}

// @ts-ignore: decorator
@inline export function statN(p: usize): u32 { return load<u32>(p, 24); }
// @ts-ignore: decorator
@inline export function statMean(p: usize): f64 { return load<u32>(p, 24) == 0 ? 0 : load<f64>(p); }
// @ts-ignore: decorator
@inline export function statMin(p: usize): f32 { return load<u32>(p, 24) == 0 ? 0 : load<f32>(p, 16); }
// @ts-ignore: decorator
@inline export function statMax(p: usize): f32 { return load<u32>(p, 24) == 0 ? 0 : load<f32>(p, 20); }
// @ts-ignore: decorator
@inline export function statStd(p: usize): f64 {
  const n = load<u32>(p, 24);
  return n == 0 ? 0 : Math.sqrt(load<f64>(p, 8) / <f64>n);
}

/** Scratch result of statMerge (module globals: no allocation). */
export let mergedN: f64 = 0;
export let mergedMean: f64 = 0;
export let mergedStd: f64 = 0;
export let mergedMin: f32 = 0;
export let mergedMax: f32 = 0;

/** Combines two blocks (Chan et al. parallel formula) into the merged* globals; used for both-direction sizes. */
export function statMerge(a: usize, b: usize): void {
  const na = <f64>load<u32>(a, 24);
  const nb = <f64>load<u32>(b, 24);
  const n = na + nb;
  mergedN = n;
  if (n == 0) {
    mergedMean = 0; mergedStd = 0; mergedMin = 0; mergedMax = 0;
    return;
  }
  if (na == 0) {
    mergedMean = load<f64>(b); mergedStd = Math.sqrt(load<f64>(b, 8) / nb);
    mergedMin = load<f32>(b, 16); mergedMax = load<f32>(b, 20);
    return;
  }
  if (nb == 0) {
    mergedMean = load<f64>(a); mergedStd = Math.sqrt(load<f64>(a, 8) / na);
    mergedMin = load<f32>(a, 16); mergedMax = load<f32>(a, 20);
    return;
  }
  const ma = load<f64>(a);
  const mb = load<f64>(b);
  const d = mb - ma;
  mergedMean = ma + d * nb / n;
  const m2 = load<f64>(a, 8) + load<f64>(b, 8) + d * d * na * nb / n;
  mergedStd = Math.sqrt(m2 / n);
  const mina = load<f32>(a, 16), minb = load<f32>(b, 16);
  const maxa = load<f32>(a, 20), maxb = load<f32>(b, 20);
  mergedMin = mina < minb ? mina : minb;
  mergedMax = maxa > maxb ? maxa : maxb;
}
