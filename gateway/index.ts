/**
 * The gateway: broker (embedded or external) → ingest → store → correlation → alerts (MQTT) → API + dashboard.
 * `Gateway.start(config)` wires everything and returns once the broker and the HTTP server listen;
 * `stop()` closes them in reverse order and flushes the registry.
 */
import { NetsensorError } from '../common/errors.js';
import { loadPublicKeysFrom } from '../common/keys.js';
import { log as rootLog, type Logger } from '../common/log.js';
import { parseSensorTopic, topics } from '../protocol/topics.js';
import { AlertPublisher } from './alert-publisher.js';
import { alertTopic, toEve } from './alerts.js';
import { EmbeddedBroker } from './broker.js';
import { EveOutput } from './eve-output.js';
import type { AlertReason } from './alert-publisher.js';
import type { Alert } from './alert-types.js';
import type { Bus } from './bus.js';
import type { GatewayConfig } from './config.js';
import { Correlator, type AlertChange } from './correlate.js';
import { ExternalBroker } from './external.js';
import { HomeAssistant } from './homeassistant.js';
import { GATEWAY_WILL, gatewayOffline, gatewayOnline } from './gateway-status.js';
import { packageVersion } from '../common/version.js';
import { hostname } from 'node:os';
import { registerApi } from './http/api.js';
import { HttpServer } from './http/server.js';
import { Ingest } from './ingest.js';
import { limitWarnings } from './log-limit.js';
import { registerModelsApi } from './http/models-api.js';
import { createGatewayMetrics, watchGateway, type GatewayMetrics, type RECORD_STAGES } from './metrics.js';
import { SqliteRolloutStore } from './ota/model-store.js';
import { ModelDistributor } from './ota/distributor.js';
import { Registry } from './registry.js';
import { applyAccessAndRetention, planReload, type ReloadPlan } from './reload.js';
import { Baselines } from './baselines.js';
import { registerBaselinesApi } from './http/baselines-api.js';
import { registerTriageApi } from './http/triage-api.js';
import { Store } from './store.js';
import { ActionStore } from './response/action-store.js';
import { CommandSigner } from './response/command-signer.js';
import { ResponseEngine } from './response/engine.js';
import { registerResponseApi } from './http/response-api.js';
import { loadPrivateKey } from '../common/keys.js';
import { gatewaySuppressor, type Suppressor } from './suppression.js';
import { registerSuppressionsApi } from './http/suppressions-api.js';

export class Gateway {
  private timers: NodeJS.Timeout[] = [];
  private readonly publishing = new Set<Promise<void>>();
  private stopped = false;
  readonly alertPublisher: AlertPublisher;
  /** Operator suppressions: which alerts are stored but not announced. */
  readonly suppressor: Suppressor;
  /** Automated response (docs/response.md); set once the gateway started. */
  response!: ResponseEngine;
  /** The EVE file / syslog output of alerts, when configured. */
  eve: EveOutput | undefined;

  private constructor(
    readonly config: GatewayConfig,
    readonly store: Store,
    readonly bus: Bus,
    readonly http: HttpServer,
    readonly ingest: Ingest,
    readonly correlator: Correlator,
    readonly registry: Registry,
    readonly metrics: GatewayMetrics,
    private readonly ha: HomeAssistant | undefined,
    readonly models: ModelDistributor,
    private readonly log: Logger,
  ) {
    this.alertPublisher = new AlertPublisher((a, sensor, reason) => this.sendAlert(a, sensor, reason), config.correlation.updateIntervalMs);
    this.suppressor = gatewaySuppressor(config.suppress, metrics, log);
  }

  /** `root`: the root logger; each component takes its own child ({component: 'broker'|'ingest'|…}). */
  static async start(config: GatewayConfig, root: Logger = rootLog): Promise<Gateway> {
    const log = root.child({ component: 'gateway' });
    const metrics = createGatewayMetrics();
    const store = new Store(config.store.path);
    let bus: Bus | undefined;
    let http: HttpServer | undefined;
    let eve: EveOutput | undefined;
    try {
      eve = EveOutput.create(config.eve, root.child({ component: 'eve' }));
      const correlator = new Correlator(config.correlation);
      correlator.resume(store.openAlerts(Date.now() - config.correlation.windowMs));
      // Components that warn about what remote parties send log each such warning at most once a minute.
      const registry = new Registry(store, config.sensorStaleMs, limitWarnings(root.child({ component: 'registry' })));
      watchGateway(metrics, { sensors: () => registry.list(), storeBytes: () => store.usedBytes() });
      const statusTopic = topics.gatewayStatus(config.gatewayId);
      let gw: Gateway | undefined;
      // Alert changes of events committed before the gateway object exists (queued events arrive first) wait for it.
      const early: AlertChange[][] = [];
      const ingest = new Ingest(store, correlator, registry, metrics, root.child({ component: 'ingest' }), (changes) => (gw ? gw.onAlertChanges(changes) : early.push(changes)));
      bus = config.mqtt.broker
        // A stable client id: a gateway restarted under a new one would leave its old persistent session in the
        // shared-subscription group, where the broker goes on handing it a share of the events nobody reads.
        // Events are acknowledged to the broker only once committed (a kill -9 in between loses nothing).
        ? await ExternalBroker.connect({ ...config.mqtt, clientId: config.mqtt.clientId || `netsensor-gateway-${config.gatewayId}` }, root.child({ component: 'mqtt' }),
          { topic: statusTopic, will: GATEWAY_WILL, online: gatewayOnline }, { ackAfterHandled: [topics.allEvents] })
        : await EmbeddedBroker.start(config.mqtt, config.homeAssistant.discoveryPrefix, metrics, limitWarnings(root.child({ component: 'broker' })));
      // The events handler before anything else awaits the broker: a resumed session's queued events hold the
      // connection's incoming packets until they are committed (gateway/external.ts), the PUBACK awaited below too.
      const eventsSubscribed = bus.subscribe(topics.allEvents, (topic, payload, done) => ingest.enqueue(topic, payload, done), { shared: true });
      eventsSubscribed.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
      await bus.publish(statusTopic, gatewayOnline(), { qos: 1, retain: true });
      const ha = config.homeAssistant.enabled ? new HomeAssistant(bus, {
        prefix: config.homeAssistant.discoveryPrefix, gatewayId: config.gatewayId, version: packageVersion(),
        configurationUrl: config.homeAssistant.configurationUrl ?? dashboardUrl(config.http),
      }, root.child({ component: 'homeassistant' })) : undefined;
      await ha?.announceGateway();
      http = new HttpServer(config.http, root.child({ component: 'http' }));
      const rollouts = new SqliteRolloutStore(store.db);
      const models = new ModelDistributor({
        bus, persist: rollouts, trustedKeys: trustedUploadKeys(config, log),
        maxFailureRate: config.models.maxFailureRate, maxFirstStagePercent: config.models.maxFirstStagePercent,
        log: limitWarnings(root),
      });
      gw = new Gateway(config, store, bus, http, ingest, correlator, registry, metrics, ha, models, log);
      gw.eve = eve;
      gw.suppressor.resume(correlator.openAlerts());
      const broker = bus;
      registerApi(http, {
        store, registry, ingest, correlator, metrics, startedAt: Date.now(), suppressor: gw.suppressor,
        broker: { kind: bus.kind, clients: broker instanceof EmbeddedBroker ? () => broker.connectedClients : undefined },
      });
      registerTriageApi(http, { history: store.history, beforeRead: () => ingest.persistAlerts() });
      registerModelsApi(http, models, rollouts);
      const actions = new ActionStore(store.db);
      gw.response = new ResponseEngine({
        config: config.response, store: actions, alertHistory: store.history, bus, log: root.child({ component: 'response' }), registry: metrics.registry,
        signer: config.response.keyFile ? new CommandSigner(responseKey(config.response.keyFile), config.response.commandValidityMs) : undefined,
      });
      registerResponseApi(http, gw.response, actions);
      registerSuppressionsApi(http, gw.suppressor);
      for (const changes of early.splice(0)) gw.onAlertChanges(changes);
      if (ha) registry.onChange((s) => void ha.announce(s.id, registry.versionOf(s.id), s.state === 'online'));
      await bus.subscribe(topics.allStatus, (topic, payload, done) => {
        const t = parseSensorTopic(topic);
        if (t) registry.onStatus(t.sensorId, payload);
        done();
      });
      await eventsSubscribed;
      const baselines = new Baselines(bus, root.child({ component: 'baselines' }));
      registerBaselinesApi(http, baselines);
      await baselines.start();
      await models.start();
      await gw.response.start();
      await http.listen();
      gw.timers.push(setInterval(() => gw!.housekeeping(), Math.min(config.store.retentionIntervalMs, 5000)).unref());
      gw.timers.push(setInterval(() => gw!.retention(), config.store.retentionIntervalMs).unref());
      log.info({ http: `http://${config.http.host}:${http.port}/`, broker: config.mqtt.broker ?? `mqtt://${config.mqtt.host}:${gw.mqttPort}` }, 'gateway started');
      return gw;
    } catch (e) {
      eve?.close();
      await http?.close().catch(() => {});
      await bus?.close().catch(() => {});
      store.close();
      throw e;
    }
  }

  /**
   * Applies what can change safely from `next` (gateway/reload.ts) and reports the rest. Files are read first:
   * when one is unusable this throws and nothing changed.
   */
  reload(next: GatewayConfig): ReloadPlan {
    const plan = planReload(this.config, next);
    const commitBroker = this.bus instanceof EmbeddedBroker ? this.bus.prepareReload({ ...next.mqtt, tls: this.config.mqtt.tls && next.mqtt.tls }) : undefined;
    commitBroker?.();
    applyAccessAndRetention(this.http, this.config, next);
    const c = this.config;
    c.mqtt.credentialsFile = next.mqtt.credentialsFile;
    if (c.mqtt.tls && next.mqtt.tls) Object.assign(c.mqtt.tls, { certFile: next.mqtt.tls.certFile, keyFile: next.mqtt.tls.keyFile, caFile: next.mqtt.tls.caFile });
    c.store.maxBytes = next.store.maxBytes;
    if (plan.apply.includes('suppress')) {
      this.suppressor.setRules(next.suppress);
      c.suppress = next.suppress;
    }
    return plan;
  }

  /** The embedded broker's port (useful with port 0), or undefined with an external broker. */
  get mqttPort(): number | undefined {
    return this.bus instanceof EmbeddedBroker ? this.bus.port : undefined;
  }

  get httpPort(): number {
    return this.http.port;
  }

  private onAlertChanges(all: AlertChange[]): void {
    try {
      for (const c of all) {
        if (c.created) this.metrics.alertsCreated.inc({ kind: c.alert.kind });
        if (c.escalated) this.metrics.alertsEscalated.inc();
      }
      // what an operator suppression holds back is stored (above, by the ingest) but goes no further
      const changes = this.suppressor.filter(all);
      for (const c of changes) {
        if (this.ha && !c.silent && (c.created || c.escalated)) {
          this.ha.alert(c.alert, c.created ? 'created' : 'escalated').catch((e) => this.recordFailed('homeassistant', e, { alert: c.alert.id }));
        }
      }
      this.alertPublisher.onChanges(changes);
      this.response.onAlertChanges(changes);
    } catch (e) {
      this.recordFailed('alert_changes', e, { changes: all.length });
    }
    this.updateHomeAssistant();
  }

  private updateHomeAssistant(): void {
    if (!this.ha) return;
    this.ha.update(this.correlator.openAlerts().filter((a) => !this.suppressor.ruleFor(a))).catch((e) => this.recordFailed('homeassistant', e));
  }

  /** One failed record is counted and skipped: nothing one alert holds may end the process. */
  private recordFailed(stage: (typeof RECORD_STAGES)[number], e: unknown, detail: Record<string, unknown> = {}): void {
    this.metrics.recordFailed.inc({ stage });
    this.log.error({ err: (e as Error)?.message ?? String(e), stage, ...detail }, 'record handling failed; skipped');
  }

  private sendAlert(a: Alert, sensor: string, reason: AlertReason): void {
    let msg: string;
    try {
      this.eve?.onAlert(a, sensor, reason);
    } catch (e) {
      this.recordFailed('alert', e, { alert: a.id, output: 'eve' });
    }
    try {
      msg = JSON.stringify(toEve(a, sensor, reason));
    } catch (e) {
      return this.recordFailed('alert', e, { alert: a.id });
    }
    // Not awaited one by one: both brokers keep the order of one publisher's messages anyway.
    const p: Promise<void> = this.bus.publish(alertTopic(a, sensor), msg, { qos: 1 })
      .catch((e) => this.log.warn({ err: e, alert: a.id }, 'alert publish failed'))
      .finally(() => this.publishing.delete(p));
    this.publishing.add(p);
  }

  private housekeeping(): void {
    try {
      this.registry.flush();
      this.ingest.persistAlerts();
      const closed = this.correlator.closeIdle();
      if (closed.length) {
        this.store.transaction(() => { for (const a of closed) this.store.upsertAlert(a); });
        this.updateHomeAssistant();
      }
      this.metrics.sensorsOnline.set(this.registry.onlineCount());
      this.metrics.openAlerts.set(this.correlator.openCount());
    } catch (e) {
      this.log.error({ err: e }, 'housekeeping failed');
    }
  }

  private retention(): void {
    try {
      const r = this.store.applyRetention(Date.now(), this.config.store.retentionDays * 86_400_000, this.config.store.maxBytes);
      if (r.events || r.alerts) this.log.info(r, 'retention removed old data');
    } catch (e) {
      this.log.error({ err: e }, 'retention failed');
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await this.http.close().catch(() => {});
    this.ingest.flush();
    this.alertPublisher.flush();
    await Promise.all([...this.publishing]);
    await this.models.idle().catch(() => {});
    await this.response.stop().catch(() => {});
    await this.bus.publish(topics.gatewayStatus(this.config.gatewayId), gatewayOffline(), { qos: 1, retain: true })
      .catch((e) => this.log.warn({ err: e }, 'publishing the offline status failed'));
    await this.bus.close().catch((e) => this.log.warn({ err: e }, 'closing broker failed'));
    this.ingest.flush(); // anything delivered while the broker was closing
    try { this.ingest.persistAlerts(); } catch (e) { this.log.error({ err: e }, 'writing alerts failed'); }
    try { this.registry.flush(); } catch { /* store may already be unusable; nothing to save */ }
    this.eve?.close();
    this.store.close();
    this.log.info('gateway stopped');
  }
}

/** The dashboard's URL as seen from elsewhere: a wildcard listen address becomes this host's name. */
function dashboardUrl(http: GatewayConfig['http']): string {
  const host = http.host === '0.0.0.0' || http.host === '::' ? hostname() : http.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${http.port}/`;
}

/** Keys an upload must be signed by (models.trustedKeysFile); none → every upload is refused. */
export function trustedUploadKeys(config: GatewayConfig, log: Logger): import('node:crypto').KeyObject[] | undefined {
  const file = config.models.trustedKeysFile;
  if (!file) {
    log.warn('models.trustedKeysFile not set: model uploads are refused until it names the public keys they must be signed by');
    return undefined;
  }
  try {
    return loadPublicKeysFrom(file);
  } catch (e) {
    throw new NetsensorError('ERR_CONFIG', `config models.trustedKeysFile: ${(e as Error).message}`, { cause: e });
  }
}

function responseKey(file: string): import('node:crypto').KeyObject {
  try {
    return loadPrivateKey(file);
  } catch (e) {
    throw new NetsensorError('ERR_CONFIG', `config response.keyFile: ${(e as Error).message}`, { cause: e });
  }
}

export { loadConfig, defaults as gatewayDefaults, type GatewayConfig } from './config.js';
