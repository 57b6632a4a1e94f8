/**
 * `netsensor sensor`: live (tcpdump) or replayed capture → WASM flow core → ONNX detection → SQLite outbox →
 * MQTT. Configuration from file + NETSENSOR_* + flags (sensor/config.ts); a bad one is one line and exit 2.
 *
 * Signals: SIGTERM / SIGINT flush live flows (end reason `shutdown`), score and commit them, publish what
 * can be published within `shutdownTimeoutMs`, set the retained status offline and close the database. A
 * second signal exits at once — nothing committed is lost, it waits in the outbox for the next start.
 *
 * With a pinned key (ota.pinnedKeys) the sensor follows its model channel (sensor/ota-link.ts): it starts on
 * the last applied update if there is one, and swaps verified updates in between batches.
 */
import { isNetsensorError } from '../../common/errors.js';
import { createLogger } from '../../common/log.js';
import { configHelp, loadConfig } from '../../sensor/config.js';
import { Delivery } from '../../sensor/delivery.js';
import { flowsScored, newCounters, SensorMetrics } from '../../sensor/metrics.js';
import { liveSource, Pipeline, replaySource, type CaptureSource } from '../../sensor/pipeline.js';

export const summary = 'run a sensor: live or replayed capture → detection → outbox → MQTT';

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'observations') return runObservations(argv.slice(1));
  const { help, config: cfg } = loadConfig(argv);
  if (help) {
    process.stdout.write(configHelp() + '\n');
    return 0;
  }
  const log = createLogger().child({ sensor: cfg.id });
  const counters = newCounters();

  // Heavy modules only now: `--help` and config errors stay instant.
  const [{ loadModel, defaultModelPath }, { createFlowEngine, sensorCore }, { readCapture }] = await Promise.all([
    import('../../inference/model.js'),
    import('../../sensor/flow-engine.js'),
    import('../../core/capture/reader.js'),
  ]);
  // A model applied by a signed update (and re-verified from the state directory) wins over the model file.
  const { SensorOta } = await import('../../sensor/ota-link.js');
  const ota = await SensorOta.open(cfg, log);
  const restored = ota?.restoredModel;
  const bootstrap = restored ? undefined : await loadModel(cfg.detect.model ?? defaultModelPath());
  const model = restored ?? bootstrap!;
  const engine = await createFlowEngine(sensorCore(cfg), counters);

  let pipeline: Pipeline | undefined;
  let metrics: SensorMetrics | undefined;
  if (cfg.metrics.port > 0) {
    metrics = new SensorMetrics(counters, {
      outboxDepth: () => delivery.outbox.depth,
      outboxBytes: () => delivery.outbox.bytes,
      mqttConnected: () => delivery.publisher.connected,
      activeFlows: () => engine.counters().activeFlows,
    }, { sensor: cfg.id });
  }
  const delivery: Delivery = new Delivery({
    cfg, counters, log, metrics,
    status: {
      model: () => pipeline?.modelVersion ?? model.version,
      counters: () => {
        const c = engine.counters();
        return {
          // flows: every flow scored, on its own record or folded into a flood's (flows_folded of them)
          packets: c.packets, bytes: c.bytes, flows: flowsScored(counters), flows_folded: counters.foldedFlows, flows_active: c.activeFlows,
          kernel_drops: counters.kernelDrops, if_drops: counters.ifDrops, capture_restarts: counters.captureRestarts,
          decoder_events: Object.fromEntries(Object.entries(c.events).filter(([, n]) => n > 0)),
          ...(pipeline ? { episodes: { ...pipeline.tracker.counters, open: pipeline.tracker.openEpisodes().length } } : {}),
        };
      },
    },
  });
  // Evidence → episodes, with the site baseline (persisted beside the outbox) unless it is off.
  const { EpisodeTracker } = await import('../../detection/episodes.js');
  const { episodeThresholds } = await import('../../detection/families.js');
  let baselineStore: import('../../sensor/baseline-store.js').BaselineStore | undefined;
  let baselineLink: import('../../sensor/baseline-link.js').BaselineLink | undefined;
  let baseline: import('../../detection/baseline.js').Baseline | undefined;
  if (cfg.baseline.learnS > 0) {
    const [{ Baseline }, { BaselineStore }] = await Promise.all([import('../../detection/baseline.js'), import('../../sensor/baseline-store.js')]);
    baselineStore = new BaselineStore(cfg.outbox.db);
    baseline = new Baseline({ learnMs: cfg.baseline.learnS * 1000, driftPerHour: cfg.baseline.driftPerHour }, baselineStore, baselineStore.restore());
  }
  const { ObservationStore } = await import('../../sensor/observation-store.js');
  const observations = new ObservationStore(cfg.outbox.db);
  // observations and learned endpoints are written once a second, one transaction each
  const observationTimer = setInterval(() => {
    try { observations.flush(); baselineStore?.flush(); } catch (e) { log.warn({ err: e }, 'observations or baseline not stored'); }
  }, 1000);
  observationTimer.unref();
  const tracker = new EpisodeTracker({
    thresholds: episodeThresholds(model.metadata), updateIntervalMs: cfg.detect.updateIntervalMs, baseline,
    onObservation: (v) => observations.push(v),
  });
  pipeline = new Pipeline({ cfg, engine, model, delivery, counters, metrics, log, tracker });
  if (baseline) {
    const { BaselineLink } = await import('../../sensor/baseline-link.js');
    baselineLink = new BaselineLink({ sensorId: cfg.id, baseline, publisher: delivery.publisher, log, intervalMs: Math.max(10_000, cfg.heartbeatS * 1000), now: () => tracker.now });
  }
  ota?.bindPipeline(pipeline, bootstrap);

  let source: CaptureSource;
  let mode: 'live' | 'replay';
  let live: import('../../sensor/sources/tcpdump.js').LiveCapture | undefined;
  if (cfg.capture.iface) {
    const { LiveCapture } = await import('../../sensor/sources/tcpdump.js');
    live = new LiveCapture({ ...cfg.capture, iface: cfg.capture.iface, log });
    live.on('exit', () => { counters.captureRestarts = live!.restarts; });
    const capture = live;
    const statsTimer = setInterval(() => {
      const s = capture.stats;
      counters.kernelDrops = s.kernelDrops;
      counters.ifDrops = s.ifDrops;
    }, 1000);
    statsTimer.unref();
    source = liveSource(live, (p, sink, o) => readCapture(p, sink, o), log);
    mode = 'live';
  } else {
    source = replaySource(cfg.capture.pcap!, cfg.capture.replay, (p, sink, o) => readCapture(p, sink, o), pipeline);
    mode = 'replay';
  }

  if (metrics) {
    // A port that cannot be bound is a configuration error: close what is open, then exit 2 with its one line.
    const port = await metrics.listen(cfg.metrics.port, cfg.metrics.host).catch(async (e: unknown) => {
      await ota?.close();
      baselineStore?.close();
      await delivery.close(0);
      if (!ota) await model.close();
      throw e;
    });
    log.info({ port }, 'metrics endpoint listening');
  }

  let stopping = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ sig }, 'second signal: exiting now (committed events stay in the outbox)');
      process.exit(130);
    }
    stopping = true;
    log.info({ sig }, 'stopping');
    void pipeline!.stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  // Response enforcement (docs/response.md): the table is set up before any command can arrive.
  let response: import('../../sensor/response/response-link.js').ResponseLink | undefined;
  if (cfg.response.enabled) {
    const [{ ResponseLink }, { loadPublicKeysFrom }] = await Promise.all([import('../../sensor/response/response-link.js'), import('../../common/keys.js')]);
    response = new ResponseLink({
      sensorId: cfg.id, gatewayKey: loadPublicKeysFrom(cfg.response.gatewayKey!)[0], stateDir: cfg.response.stateDir, allowlist: cfg.response.allowlist,
      brokerUrl: cfg.broker.url, ratePps: cfg.response.ratePps, maxActions: cfg.response.maxActions, log: log.child({ component: 'response' }),
    });
    await response.prepare();
  }
  delivery.start();
  ota?.attachTo(delivery.publisher);
  if (response) response.attachTo(delivery.publisher);
  baselineLink?.start();
  log.info({ mode, iface: cfg.capture.iface, pcap: cfg.capture.pcap, model: model.version, model_source: restored ? 'ota' : 'file', broker: cfg.broker.url }, 'sensor started');

  let code = 0;
  let fatal: unknown;
  const started = Date.now();
  const cpu0 = process.cpuUsage();
  try {
    await pipeline.run(source, mode);
  } catch (e) {
    // bad input only the capture could see (a filter tcpdump refuses, a file that is no capture): exit 2 after cleanup
    if (isNetsensorError(e) && e.exitCode === 2) fatal = e;
    else log.error({ err: e }, 'capture failed');
    code = 1;
  }
  const t0 = Date.now();
  if (stopping || mode === 'live') await pipeline.shutdown();
  await live?.stop();
  const c = engine.counters();
  const elapsed = (Date.now() - started) / 1000;
  // CPU time of this process (all its threads): on a shared or throttled machine the steadier figure
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  log.info({
    // flows: every flow scored, directly or folded into a flood's record (folded_flows of them)
    packets: c.packets, flows: flowsScored(counters), folded_flows: counters.foldedFlows, records: counters.flows, events: counters.events, seconds: elapsed,
    packets_per_s: Math.round(c.packets / Math.max(elapsed, 1e-3)),
    cpu_seconds: Math.round(cpuSeconds * 1000) / 1000,
    packets_per_cpu_s: Math.round(c.packets / Math.max(cpuSeconds, 1e-3)),
  }, 'capture finished');
  await response?.idle();
  await ota?.close(); // before the connection goes: an update being applied finishes or is abandoned
  baselineLink?.stop();
  baselineStore?.close();
  clearInterval(observationTimer);
  observations.close();
  const drained = await delivery.close(Math.max(500, cfg.shutdownTimeoutMs - (Date.now() - t0)));
  if (!drained) log.warn({ left: delivery.outbox.depth }, 'events left in the outbox for the next start');
  await metrics?.close();
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  if (!ota) await model.close(); // with OTA the link owns (and has closed) every model
  if (fatal) throw fatal;
  return code;
}

const OBSERVATIONS_HELP = `usage: netsensor sensor observations [--db FILE] [--limit N] [--since MS] [--class NAME]

Prints the sensor's local observations, newest first, one JSON object per line: flows that gave evidence (a
non-benign verdict or a rule) but fed no published episode. They never reach the alerts topic; the sensor keeps the
newest 100,000 in its database (--db, default: the sensor's outbox database).
`;

async function runObservations(argv: string[]): Promise<number> {
  const { parseArgs } = await import('node:util');
  const { NetsensorError } = await import('../../common/errors.js');
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: {
      db: { type: 'string' }, limit: { type: 'string', default: '100' }, since: { type: 'string' }, class: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    } }));
  } catch (e) {
    throw new NetsensorError('ERR_USAGE', `${(e as Error).message} (netsensor sensor observations --help)`);
  }
  if (values.help) { process.stdout.write(OBSERVATIONS_HELP); return 0; }
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1_000_000) throw new NetsensorError('ERR_USAGE', `--limit must be an integer in [1, 1000000], got '${values.limit}'`);
  const since = values.since === undefined ? undefined : Number(values.since);
  if (since !== undefined && !Number.isFinite(since)) throw new NetsensorError('ERR_USAGE', `--since must be milliseconds since the epoch, got '${values.since}'`);
  const { defaults } = await import('../../sensor/config.js');
  const { ObservationStore } = await import('../../sensor/observation-store.js');
  const store = new ObservationStore(values.db ?? defaults.outbox.db, 100_000, true);
  try {
    const rows = store.query({ limit, sinceMs: since, cls: values.class });
    if (rows.length) process.stdout.write(rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    return 0;
  } finally { store.close(); }
}
