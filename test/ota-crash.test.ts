/**
 * kill -9 in the middle of applying: a child process applies a large model (≈8 MB) and is SIGKILLed at random
 * instants, several times. After every kill a fresh receiver on the same directory must load a valid model —
 * the old one or the new one, whose bytes match their signed sha256 — never a half-written one.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rawPublicKey } from '../common/keys.ts';
import { NUM_FEATURES } from '../core/schema.ts';
import { encodeBundle } from '../protocol/manifest.ts';
import { buildTestModel, keys, openReceiver, release, tempDir } from './helpers/ota-fixtures.ts';

const CHILD = fileURLToPath(new URL('./helpers/ota-apply-child.ts', import.meta.url));
const owner = keys();
const pinned = Buffer.from(rawPublicKey(owner.publicKey)).toString('base64');

/** `timer`: the parent SIGKILLs the child `delayMs` after it printed `afterStage` (a kill at an arbitrary
 * instant); `self`: the child SIGKILLs itself `delayMs` after reaching the stage (a kill at a precise step). */
type KillPlan = { mode: 'timer' | 'self'; afterStage: string; delayMs: number };

interface ChildRun { stages: string[]; code: number | null; signal: string | null; readyMs?: number; doneMs?: number; stageMs: Map<string, number> }

/** Runs the child; `killAfter(stages)` decides (on each line) how long to wait before SIGKILL, or never. */
function runChild(dir: string, bundle: string, killPlan?: KillPlan): Promise<ChildRun> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const self = killPlan?.mode === 'self' ? [killPlan.afterStage, String(killPlan.delayMs)] : [];
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, bundle, pinned, ...self], { stdio: ['ignore', 'pipe', 'inherit'] });
    const run: ChildRun = { stages: [], code: null, signal: null, stageMs: new Map() };
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        run.stages.push(line);
        run.stageMs.set(line.split(' ').slice(0, 2).join(' '), Date.now() - t0);
        if (killPlan?.mode === 'timer' && line.startsWith(killPlan.afterStage)) setTimeout(() => child.kill('SIGKILL'), killPlan.delayMs);
      }
    });
    child.on('exit', (code, signal) => { run.code = code; run.signal = signal; resolve(run); });
  });
}

test('SIGKILL at random points while applying never leaves a half-written model', async () => {
  const t = tempDir('netsensor-ota-crash-');
  try {
    const big = (seed: number) => buildTestModel({ seed, hidden: 16384 });
    // Base: seq 10 applied by an uninterrupted child; also measures how long each stage takes.
    const base = await release(big(1), owner.privateKey, { seq: 10 });
    const basePath = join(t.dir, 'bundle-10.cbor');
    writeFileSync(basePath, encodeBundle({ v: 1, envelope: base.envelope, payload: base.payload }));
    const state = join(t.dir, 'state');
    const first = await runChild(state, basePath);
    assert.is(first.code, 0, first.stages.join(' | '));
    const persistMs = (first.stageMs.get('stage committed') ?? 0) - (first.stageMs.get('stage persisting') ?? 0);
    const wholeMs = (first.stageMs.get('done 10') ?? 0) - (first.stageMs.get('ready 0') ?? 0);
    console.log(`  uninterrupted apply of ${(base.payload.length / 1e6).toFixed(1)} MB: ${wholeMs} ms, of which persisting ${persistMs} ms`);

    let committedSeq = 10;
    const outcomes: string[] = [];
    // Two kills at arbitrary instants of the whole apply, the rest at each step, most inside the persisting
    // window (writes, fsyncs, renames run asynchronously, so a timer lands between them).
    const rnd = (ms: number) => Math.floor(Math.random() * ms);
    const PLANS: Array<() => KillPlan> = [
      () => ({ mode: 'timer', afterStage: 'ready', delayMs: rnd(wholeMs) }),
      () => ({ mode: 'self', afterStage: 'verified', delayMs: 0 }),
      () => ({ mode: 'self', afterStage: 'self_test', delayMs: 0 }),
      () => ({ mode: 'self', afterStage: 'persisting', delayMs: 0 }),
      () => ({ mode: 'self', afterStage: 'persisting', delayMs: 1 + rnd(Math.max(2, persistMs)) }),
      () => ({ mode: 'self', afterStage: 'persisting', delayMs: 1 + rnd(Math.max(2, persistMs)) }),
      () => ({ mode: 'self', afterStage: 'persisting', delayMs: 1 + rnd(Math.max(2, persistMs)) }),
      () => ({ mode: 'self', afterStage: 'committed', delayMs: 0 }),
      () => ({ mode: 'timer', afterStage: 'ready', delayMs: rnd(wholeMs) }),
      () => ({ mode: 'self', afterStage: 'applied', delayMs: 0 }),
    ];
    const KILLS = PLANS.length;
    for (let k = 0; k < KILLS; k++) {
      const seq = 11 + k;
      const rel = await release(big(seq), owner.privateKey, { seq });
      const p = join(t.dir, `bundle-${seq}.cbor`);
      writeFileSync(p, encodeBundle({ v: 1, envelope: rel.envelope, payload: rel.payload }));
      const plan = PLANS[k % PLANS.length]();
      const run = await runChild(state, p, plan);
      const last = run.stages.at(-1) ?? '(nothing)';
      const leftBehind = readdirSync(state).filter((f) => f.endsWith('.tmp') || !f.match(new RegExp(`^(state\\.json|model-${committedSeq}\\..*)$`)));
      // Restart: a fresh receiver on the same directory.
      const h = await openReceiver(state, [owner.publicKey], { sensorId: 'crash' });
      const cur = h.rx.current;
      assert.ok(cur, `after kill #${k} (last: ${last}) a model loads`);
      const sawCommit = run.stages.includes('stage committed');
      const sawPersist = run.stages.includes('stage persisting');
      if (sawCommit) assert.is(cur!.seq, seq, 'committed → new model');
      else if (!sawPersist) assert.is(cur!.seq, committedSeq, 'killed before persisting → old model');
      else assert.ok(cur!.seq === seq || cur!.seq === committedSeq, `seq ${cur!.seq} is old or new`);
      // It is a working model (loaded by onnxruntime from bytes that matched their signed sha256).
      const out = await cur!.model.predict(new Float32Array(NUM_FEATURES), 1, NUM_FEATURES);
      assert.ok(Math.abs(out[0] + out[1] + out[2] - 1) < 1e-4);
      assert.is(h.applied.length, 1);
      await h.rx.close();
      const leftovers = readdirSync(state).filter((f) => f.endsWith('.tmp'));
      assert.equal(leftovers, [], 'temporary files are cleaned up at start-up');
      outcomes.push(`${plan.mode} ${plan.afterStage}+${plan.delayMs}ms: ${run.signal ?? `exit ${run.code}`} after "${last}" → runs seq ${cur!.seq}${cur!.seq === seq ? ' (new)' : ' (old)'}; on disk before restart: ${leftBehind.join(' ') || '-'}`);
      committedSeq = cur!.seq;
    }
    console.log(outcomes.map((o) => `  ${o}`).join('\n'));
    assert.ok(outcomes.filter((o) => o.includes(': SIGKILL')).length >= KILLS / 2, 'most runs were really killed');
  } finally {
    t.cleanup();
  }
});

test.run();
