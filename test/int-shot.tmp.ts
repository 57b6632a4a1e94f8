import { startGateway } from './helpers/gateway-fixtures.ts';
import { buildTestModel, keys, release } from './helpers/ota-fixtures.ts';
import { encodeBundle } from '../protocol/manifest.ts';
import { topics } from '../protocol/topics.ts';
import { execFileSync } from 'node:child_process';
const g = await startGateway({ http: { port: 18862 }, mqtt: { port: 18863 }, models: { maxFirstStagePercent: 50 } });
const k = keys();
const rel = await release(buildTestModel({ seed: 1 }), k.privateKey, { seq: 42, modelId: 'detect-2025-06' });
for (const [id, st] of [['edge-1', 'current'], ['edge-2', 'current']] as const)
  await g.gw.bus.publish(topics.ota(id), JSON.stringify({ v: 1, sensor: id, channel: 'stable', ts: Date.now(), state: st, current: { model_id: 'detect-2025-05', seq: 41 } }), { qos: 1 });
await g.gw.models.idle();
const r = await g.gw.models.upload(encodeBundle({ v: 1, envelope: rel.envelope, payload: rel.payload }));
const a = r.admitted[0];
await g.gw.bus.publish(topics.ota(a), JSON.stringify({ v: 1, sensor: a, channel: 'stable', ts: Date.now(), state: 'rejected', seq: 42, model_id: 'detect-2025-06', reason: 'self_test_failed', message: 'vector 3', current: { model_id: 'detect-2025-05', seq: 41 } }), { qos: 1 });
await g.gw.models.idle();
await new Promise((res) => setTimeout(res, 300));
console.log(JSON.stringify((await (await fetch('http://127.0.0.1:18862/api/models')).json()).channels[0].rollout));
execFileSync('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--window-size=1300,500', '--virtual-time-budget=4000', '--screenshot=/tmp/int-models.png', 'http://127.0.0.1:18862/'], { stdio: 'ignore' });
await g.stop();
