/** Threshold calibration: the log-normal anomaly fit and the per-class false-alert budget. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { calibrateAnomalyThreshold, calibrateClassThresholds, normalQuantile } from '../models/train/calibrate.ts';
import { createRng } from '../models/train/rng.ts';
import { decide } from '../inference/decide.ts';

test('normal quantile matches known values', () => {
  assert.ok(Math.abs(normalQuantile(0.5)) < 1e-9);
  assert.ok(Math.abs(normalQuantile(0.975) - 1.959964) < 1e-5);
  assert.ok(Math.abs(normalQuantile(1 - 1e-4) - 3.719016) < 1e-5);
  assert.ok(Math.abs(normalQuantile(0.01) + 2.326348) < 1e-5);
  assert.throws(() => normalQuantile(1));
});

test('log-normal fit recovers the parameters and puts the threshold at the target false-positive rate', () => {
  const rng = createRng(9);
  const mu = -2, sigma = 0.7;
  const sample = Array.from({ length: 5000 }, () => Math.exp(mu + sigma * rng.gauss()));
  const fit = calibrateAnomalyThreshold(sample, 1e-3);
  assert.ok(Math.abs(fit.mu - mu) < 0.05, `mu ${fit.mu}`);
  assert.ok(Math.abs(fit.sigma - sigma) < 0.05, `sigma ${fit.sigma}`);
  // Fresh benign data from the same distribution: the false-positive rate is near the target.
  const fresh = Array.from({ length: 200_000 }, () => Math.exp(mu + sigma * rng.gauss()));
  const fpr = fresh.filter((e) => e >= fit.threshold).length / fresh.length;
  assert.ok(fpr < 2.5e-3 && fpr > 2e-4, `fpr ${fpr}`);
});

test('a heavy real tail is never made optimistic by the fit: the empirical quantile is the floor', () => {
  const rng = createRng(10);
  const sample = Array.from({ length: 2000 }, (_, i) => (i % 50 === 0 ? 1e3 : Math.exp(0.1 * rng.gauss())));
  const fit = calibrateAnomalyThreshold(sample, 0.01);
  assert.ok(fit.threshold >= fit.empirical);
  assert.ok(sample.filter((e) => e >= fit.threshold).length / sample.length <= 0.02);
});

test('class thresholds keep benign false alerts within budget', () => {
  // 3 classes; benign rows whose argmax is class 1 with probabilities 0.6..0.99.
  const rows = 1000, k = 3;
  const p = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    const v = r < 50 ? 0.6 + (0.39 * r) / 50 : 0.1;
    p[r * k + 1] = v; p[r * k] = 1 - v - 0.01; p[r * k + 2] = 0.01;
  }
  const t = calibrateClassThresholds(p, rows, k, 0, 0.005);
  let alerts = 0;
  for (let r = 0; r < rows; r++) if (decide(p, r * k, 0, { classNames: ['benign', 'a', 'b'], benignIndex: 0, perClass: t, anomaly: 1 }).alert) alerts++;
  assert.ok(alerts <= 5, `alerts ${alerts}`);
  assert.equal(t[2], 0.5, 'a class benign rows never reach keeps the floor');
});

test('decision: class alert at threshold, anomaly alert otherwise, nothing for plain benign', () => {
  const th = { classNames: ['benign', 'scan'], benignIndex: 0, perClass: [1, 0.8], anomaly: 2 };
  assert.equal(decide([0.1, 0.9], 0, 0.5, th).alertClass, 'scan');
  assert.equal(decide([0.25, 0.75], 0, 0.5, th).alert, false);
  assert.equal(decide([0.9, 0.1], 0, 5, th).alertClass, 'anomaly');
  assert.equal(decide([0.9, 0.1], 0, 5, th, { useAnomaly: false }).alert, false);
  assert.equal(decide([0.9, 0.1], 0, 1, th).anomaly, 0.5);
});

test.run();
