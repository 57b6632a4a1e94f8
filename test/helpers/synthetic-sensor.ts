/**
 * A sensor process whose events are synthetic (delivery is what is under test): the real Delivery (outbox,
 * publisher, forwarder, status) fed by `syntheticEvent`. Prints each committed event id on stdout after its
 * commit returned, so the test knows what was durable when it kills this process.
 * argv: JSON {db, url, id, events, perTick, tickMs, mqttVersion?, maxRows?}
 */
import { defaults, type SensorConfig } from '../../sensor/config.ts';
import { Delivery } from '../../sensor/delivery.ts';
import { newCounters } from '../../sensor/metrics.ts';
import { createLogger } from '../../common/log.ts';
import { syntheticEvent } from './synthetic-events.ts';

const a = JSON.parse(process.argv[2]!) as { db: string; url: string; id: string; events: number; perTick: number; tickMs: number; mqttVersion?: 4 | 5 | 'auto'; maxRows?: number };
const cfg: SensorConfig = structuredClone(defaults);
cfg.id = a.id;
cfg.outbox.db = a.db;
cfg.broker.url = a.url;
cfg.broker.mqttVersion = a.mqttVersion ?? 'auto';
cfg.broker.reconnectMinMs = 100;
cfg.broker.reconnectMaxMs = 1000;
cfg.outbox.flushIntervalMs = 50;
cfg.outbox.batchMaxEvents = 20;
cfg.heartbeatS = 1;
if (a.maxRows) cfg.outbox.maxRows = a.maxRows;
const counters = newCounters();
const d = new Delivery({ cfg, counters, status: { model: () => 'synthetic-1', counters: () => ({ packets: 0 }) }, log: createLogger('warn') });
d.start();
let made = 0;
const t = setInterval(() => {
  if (made >= a.events) {
    clearInterval(t);
    void d.close(30_000).then((ok) => { process.stdout.write(`DONE ${ok ? 'drained' : 'left'} ${d.outbox.depth}\n`); process.exit(0); });
    return;
  }
  const evs = Array.from({ length: Math.min(a.perTick, a.events - made) }, () => syntheticEvent(a.id));
  d.commit(evs);
  made += evs.length;
  process.stdout.write(evs.map((e) => `C ${e.id}`).join('\n') + '\n');
}, a.tickMs);
process.on('SIGTERM', () => { void d.close(3000).then(() => process.exit(0)); });
