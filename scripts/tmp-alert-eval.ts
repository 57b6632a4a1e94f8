import { readFileSync } from 'node:fs';
import { loadModel } from '../inference/model.ts';
import { replayAlerts } from '../cli/alert-replay.ts';
const [manifest, kind, split] = process.argv.slice(2);
const pcaps = '/work/shared/pcaps';
const rows = readFileSync(manifest!, 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t'));
const model = await loadModel(undefined);
let hit = 0, n = 0;
for (const r of rows) {
  if (kind === 'benign' && r[2] !== split) continue;
  if (kind === 'attack' && r[3] === 'out_of_scope') continue;
  n++;
  try {
    const res = await replayAlerts(`${pcaps}/${r[0]}`, model);
    const cls = [...new Set(res.alerts.map((a) => a.netsensor.class))];
    const ok = kind === 'benign' ? cls.length === 0 : cls.includes(r[3]!);
    if (ok) hit++;
    if (!ok || kind === 'attack') console.log(`${ok ? '✓' : '✗'} ${r[0]} flows ${res.flows} alerts ${JSON.stringify(cls)} ${kind === 'attack' ? 'want ' + r[3] : ''}`);
  } catch (e) { console.log(`ERR ${r[0]} ${(e as Error).message}`); }
}
console.log(`${kind} ${split ?? ''}: ${hit}/${n} ok`);
await model.close();
