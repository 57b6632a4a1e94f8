/**
 * Anomaly model for the site's normal: an under-complete autoencoder trained on benign flows only (mean
 * squared reconstruction error of the standardised features). Flows unlike anything benign reconstruct badly.
 */
import { adamStep, createAdam, createNet, netBackward, netForward, type DenseNet } from './dense.js';
import { createRng } from './rng.js';

export interface AutoencoderOptions {
  hidden: number[];
  epochs: number;
  batch: number;
  lr: number;
  seed: number;
  onEpoch?: (epoch: number, loss: number) => void;
}

export const DEFAULT_AUTOENCODER: AutoencoderOptions = { hidden: [32, 8, 32], epochs: 30, batch: 128, lr: 2e-3, seed: 2 };

export function trainAutoencoder(z: Float32Array, rows: number, width: number, opts: AutoencoderOptions): DenseNet {
  const net = createNet([width, ...opts.hidden, width], opts.seed);
  const adam = createAdam(net);
  const rng = createRng(opts.seed ^ 0xae);
  const order = Array.from({ length: rows }, (_, i) => i);
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    rng.shuffle(order);
    const lr = opts.lr * 0.5 * (1 + Math.cos((Math.PI * epoch) / opts.epochs));
    let lossSum = 0;
    for (let start = 0; start < rows; start += opts.batch) {
      const n = Math.min(opts.batch, rows - start);
      const xb = new Float32Array(n * width);
      for (let k = 0; k < n; k++) xb.set(z.subarray(order[start + k]! * width, (order[start + k]! + 1) * width), k * width);
      const acts = netForward(net, xb, n);
      const out = acts[acts.length - 1]!;
      const d = new Float32Array(n * width);
      for (let i = 0; i < d.length; i++) {
        const e = out[i]! - xb[i]!;
        lossSum += e * e;
        d[i] = (2 * e) / (n * width);
      }
      adamStep(net, adam, netBackward(net, acts, d, n), lr);
    }
    opts.onEpoch?.(epoch, lossSum / (rows * width));
  }
  return net;
}

/** Mean squared reconstruction error per row. */
export function reconstructionError(net: DenseNet, z: Float32Array, rows: number, width: number): Float32Array {
  const acts = netForward(net, z, rows);
  const out = acts[acts.length - 1]!;
  const err = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let i = 0; i < width; i++) { const e = out[r * width + i]! - z[r * width + i]!; s += e * e; }
    err[r] = s / width;
  }
  return err;
}
