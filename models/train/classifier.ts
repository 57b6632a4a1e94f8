/**
 * Supervised flow classifier: an MLP over standardised features trained with softmax cross-entropy and Adam.
 * Classes are re-weighted by inverse frequency (capped) because a lab produces far more scan flows than
 * beacons, and a rare class must still count.
 */
import { adamStep, createAdam, createNet, netBackward, netForward, type DenseNet } from './dense.js';
import { createRng } from './rng.js';

export interface ClassifierOptions {
  hidden: number[];
  epochs: number;
  batch: number;
  lr: number;
  weightDecay: number;
  seed: number;
  onEpoch?: (epoch: number, loss: number) => void;
}

/** Inverse-frequency class weights are capped: a rare class weighted 20× learns its port numbers, not its behaviour. */
export const CLASS_WEIGHT_CAP = 4;

export const DEFAULT_CLASSIFIER: ClassifierOptions = { hidden: [64, 32], epochs: 40, batch: 128, lr: 2e-3, weightDecay: 1e-4, seed: 1 };

export function softmaxRows(logits: Float32Array, rows: number, classes: number): Float32Array {
  const p = new Float32Array(rows * classes);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[r * classes + c]!);
    let sum = 0;
    for (let c = 0; c < classes; c++) { const e = Math.exp(logits[r * classes + c]! - max); p[r * classes + c] = e; sum += e; }
    for (let c = 0; c < classes; c++) p[r * classes + c]! /= sum;
  }
  return p;
}

export function trainClassifier(z: Float32Array, labels: Int32Array, width: number, classes: number, opts: ClassifierOptions): DenseNet {
  const rows = labels.length;
  const net = createNet([width, ...opts.hidden, classes], opts.seed);
  const adam = createAdam(net);
  const rng = createRng(opts.seed ^ 0x5eed);
  const counts = new Float64Array(classes);
  for (const y of labels) counts[y]!++;
  const present = counts.filter((c) => c > 0).length;
  const classWeight = Array.from(counts, (c) => (c > 0 ? Math.min(CLASS_WEIGHT_CAP, rows / (present * c)) : 0));
  const order = Array.from({ length: rows }, (_, i) => i);
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    rng.shuffle(order);
    // Cosine decay: big steps early, fine adjustment at the end.
    const lr = opts.lr * 0.5 * (1 + Math.cos((Math.PI * epoch) / opts.epochs));
    let lossSum = 0;
    for (let start = 0; start < rows; start += opts.batch) {
      const n = Math.min(opts.batch, rows - start);
      const xb = new Float32Array(n * width);
      const yb = new Int32Array(n);
      for (let k = 0; k < n; k++) {
        const r = order[start + k]!;
        xb.set(z.subarray(r * width, (r + 1) * width), k * width);
        yb[k] = labels[r]!;
      }
      const acts = netForward(net, xb, n);
      const p = softmaxRows(acts[acts.length - 1]!, n, classes);
      const d = new Float32Array(n * classes);
      let wsum = 0;
      for (let k = 0; k < n; k++) wsum += classWeight[yb[k]!]!;
      for (let k = 0; k < n; k++) {
        const w = classWeight[yb[k]!]! / wsum;
        lossSum -= classWeight[yb[k]!]! * Math.log(Math.max(1e-12, p[k * classes + yb[k]!]!));
        for (let c = 0; c < classes; c++) d[k * classes + c] = w * (p[k * classes + c]! - (c === yb[k] ? 1 : 0));
      }
      adamStep(net, adam, netBackward(net, acts, d, n), lr, opts.weightDecay);
    }
    opts.onEpoch?.(epoch, lossSum / rows);
  }
  return net;
}

export function predictProba(net: DenseNet, z: Float32Array, rows: number): Float32Array {
  const acts = netForward(net, z, rows);
  return softmaxRows(acts[acts.length - 1]!, rows, net.layers[net.layers.length - 1]!.outputs);
}
