/**
 * A gateway worker: one of several on one external broker (MQTT v5) and one PostgreSQL store (docs/scale.md).
 * Every worker stores the event batches the broker hands it through the shared subscription (exactly once by
 * event id), keeps the sensors' status and serves the API from the shared store. One of them, the holder of the
 * leader lease, also correlates the stored events into alerts and publishes them; when it dies, another takes
 * the lease over and goes on from the cursor and the open alerts in the store.
 */
import type { Logger } from '../../common/log.js';
import { parseSensorTopic, topics } from '../../protocol/topics.js';
import { AlertPublisher, type AlertReason } from '../alert-publisher.js';
import type { Alert } from '../alert-types.js';
import { alertTopic, toEve } from '../alerts.js';
import type { GatewayConfig } from '../config.js';
import { ExternalBroker } from '../external.js';
import { GATEWAY_WILL, gatewayOffline, gatewayOnline } from '../gateway-status.js';
import { HttpServer } from '../http/server.js';
import { applyAccessAndRetention, planReload, type ReloadPlan } from '../reload.js';
import { createGatewayMetrics } from '../metrics.js';
import { LEADER_LEASE } from '../store/event-store.js';
import { describeUrl } from '../store/postgres-connection.js';
import { PostgresStore } from '../store/postgres.js';
import { PostgresAlertHistory } from '../store/postgres-triage.js';
import { registerTriageApi } from '../http/triage-api.js';
import { registerClusterApi } from './cluster-api.js';
import { CorrelationLeader } from './correlation-leader.js';
import { LeaderBus } from './leader-bus.js';
import { LeaderLease } from './leader-lease.js';
import { ModelDistributor } from '../ota/distributor.js';
import { PostgresRolloutStore } from '../ota/postgres-rollout-store.js';
import { trustedUploadKeys } from '../index.js';
import { SensorCounts } from './sensor-counts.js';
import { SharedIngest } from './shared-ingest.js';
import { gatewaySuppressor, type Suppressor } from '../suppression.js';
import { registerSuppressionsApi } from '../http/suppressions-api.js';

const WORKER_RELOADABLE = ['http.token', 'http.tokenFile', 'http.loopbackExempt', 'store.retentionDays', 'suppress'];

export class ClusterWorker {
  private leader: CorrelationLeader | undefined;
  private models: { distributor: ModelDistributor; rollouts: PostgresRolloutStore } | undefined;
  /** Leading and done taking over (correlation resumed, rollouts restored). */
  private ready = false;
  private timers: NodeJS.Timeout[] = [];
  private readonly publishing = new Set<Promise<void>>();
  private stopped = false;
  /** Retention runs on the leader only: one worker deleting is enough. */
  private retentionTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly config: GatewayConfig,
    readonly store: PostgresStore,
    readonly bus: ExternalBroker,
    private readonly leaderBus: LeaderBus,
    readonly http: HttpServer,
    readonly ingest: SharedIngest,
    readonly sensors: SensorCounts,
    readonly lease: LeaderLease,
    private readonly publisher: AlertPublisher,
    /** Operator suppressions (gateway/suppression.ts): applied by whichever worker leads. */
    readonly suppressor: Suppressor,
    private readonly log: Logger,
    private readonly root: Logger,
  ) {}

  get id(): string { return this.config.cluster.workerId; }
  get httpPort(): number { return this.http.port; }
  get isLeader(): boolean { return this.lease.isLeader; }

  static async start(config: GatewayConfig, root: Logger): Promise<ClusterWorker> {
    const id = config.cluster.workerId;
    const log = root.child({ component: 'worker', worker: id });
    const store = await PostgresStore.open({ url: config.store.url!, passwordFile: config.store.passwordFile, caFile: config.store.caFile });
    let bus: ExternalBroker | undefined;
    let http: HttpServer | undefined;
    try {
      const metrics = createGatewayMetrics();
      const sensors = new SensorCounts(store, root.child({ component: 'registry' }));
      const statusTopic = topics.gatewayStatus(id);
      // A stable client id: a worker that restarts resumes its broker session and gets what was queued for it.
      let w: ClusterWorker | undefined;
      const ingest = new SharedIngest(store, sensors, metrics, root.child({ component: 'ingest' }));
      bus = await ExternalBroker.connect({ ...config.mqtt, clientId: `netsensor-worker-${id}` }, root.child({ component: 'mqtt' }),
        { topic: statusTopic, will: GATEWAY_WILL, online: gatewayOnline }, { ackAfterHandled: true });
      // Both handlers before anything else is awaited: a resumed session's queued messages arrive at once, and
      // mqtt.js handles incoming packets in order, so a SUBACK or PUBACK waits behind a message nobody takes.
      const leaderBus = new LeaderBus(bus);
      await Promise.all([
        leaderBus.prepare([topics.allOta, topics.allModelUploads]),
        bus.subscribe(topics.allEvents, (topic, payload, done) => ingest.enqueue(topic, payload, done), { shared: true }),
        bus.subscribe(topics.allStatus, (topic, payload, done) => {
          const t = parseSensorTopic(topic);
          if (t) sensors.onStatus(t.sensorId, payload);
          done();
        }),
      ]);
      await bus.publish(statusTopic, gatewayOnline(), { qos: 1, retain: true });
      const publisher = new AlertPublisher((a, sensor, reason) => w?.announce(a, sensor, reason), config.correlation.updateIntervalMs);
      const lease = new LeaderLease(store, id, config.cluster.leaseMs, {
        gained: () => w!.lead(),
        lost: () => w!.follow(),
      }, log);
      http = new HttpServer(config.http, root.child({ component: 'http' }));
      const suppressor = gatewaySuppressor(config.suppress, metrics, log);
      w = new ClusterWorker(config, store, bus, leaderBus, http, ingest, sensors, lease, publisher, suppressor, log, root);
      const worker = w;
      registerClusterApi(http, {
        store, ingest, metrics, startedAt: Date.now(), suppressor,
        worker: { id, leader: () => lease.isLeader && worker.ready, leaderId: () => store.leaseHolder(LEADER_LEASE), openAlerts: () => worker.leader?.openCount() ?? 0 },
      });
      registerTriageApi(http, { history: new PostgresAlertHistory(store.pool) });
      registerSuppressionsApi(http, suppressor);
      await http.listen();
      lease.start();
      w.timers.push(setInterval(() => sensors.flush().catch((e) => log.warn({ err: e }, 'writing sensor counts failed')), 2000).unref());
      log.info({ http: `http://${config.http.host}:${http.port}/`, broker: config.mqtt.broker, store: describeUrl(config.store.url!) }, 'gateway worker started');
      return w;
    } catch (e) {
      await http?.close().catch(() => {});
      await bus?.close().catch(() => {});
      await store.close().catch(() => {});
      throw e;
    }
  }

  /** Taking the lead: model distribution goes on from the rollout state in the store, correlation from its cursor. */
  private async lead(): Promise<void> {
    this.leaderBus.activate();
    const rollouts = await PostgresRolloutStore.load(this.store.pool, this.log);
    const distributor = new ModelDistributor({
      bus: this.leaderBus, persist: rollouts, trustedKeys: trustedUploadKeys(this.config, this.log),
      maxFailureRate: this.config.models.maxFailureRate, maxFirstStagePercent: this.config.models.maxFirstStagePercent, log: this.root.child({ worker: this.id }),
    });
    await distributor.start();
    this.models = { distributor, rollouts };
    await this.announcePending();
    this.retentionTimer = setInterval(() => void this.retention(), this.config.store.retentionIntervalMs).unref();
    const leader = new CorrelationLeader({
      store: this.store, rules: this.config.correlation, holder: this.id, log: this.root.child({ component: 'correlate', worker: this.id }),
      onChanges: (changes) => {
        // Test-only: die between the commit and publishing, the case the stored announcements are for.
        if (process.env.NETSENSOR_TEST_KILL_AFTER_COMMIT === '1' && changes.length) process.kill(process.pid, 'SIGKILL');
        this.publisher.onChanges(changes);
      },
      announced: (changes) => this.suppressor.filter(changes),
      resumed: (open) => this.suppressor.resume(open),
      onFenced: () => void this.lease.relinquish(),
    });
    await leader.start();
    this.leader = leader;
    this.ready = true;
  }

  private async follow(): Promise<void> {
    this.ready = false;
    clearInterval(this.retentionTimer);
    this.leaderBus.deactivate();
    const leader = this.leader;
    this.leader = undefined;
    await leader?.stop();
    this.publisher.flush();
    const models = this.models;
    this.models = undefined;
    await models?.distributor.idle().catch(() => {});
    await models?.rollouts.flushed();
  }

  private async retention(): Promise<void> {
    try {
      const r = await this.store.applyRetention(Date.now(), this.config.store.retentionDays * 86_400_000);
      if (r.events || r.alerts) this.log.info(r, 'retention removed old data');
    } catch (e) {
      this.log.error({ err: e }, 'retention failed');
    }
  }

  /**
   * What the previous leader committed but the broker never acknowledged: published again before correlation goes
   * on. A subscriber may so see a message twice, with the same (alert_id, version). Of an alert's rate-limited
   * updates only the newest is sent, as the publisher would have.
   */
  private async announcePending(): Promise<void> {
    const pending = await this.store.pendingAnnouncements();
    const newest = new Map<string, number>();
    for (const a of pending) newest.set(a.alert.id, Math.max(newest.get(a.alert.id) ?? 0, a.alert.version ?? 0));
    const due = pending.filter((a) => a.reason !== 'updated' || (a.alert.version ?? 0) === newest.get(a.alert.id));
    if (due.length) this.log.info({ alerts: due.length }, 'publishing the alert messages the previous leader left');
    for (const a of due) this.announce(a.alert, a.sensor, a.reason);
  }

  /** Publishes an alert message; once the broker acknowledged it (PUBACK), its stored announcement is done. */
  private announce(a: Alert, sensor: string, reason: AlertReason): void {
    const version = a.version ?? 0;
    const p: Promise<void> = this.bus.publish(alertTopic(a, sensor), JSON.stringify(toEve(a, sensor, reason)), { qos: 1 })
      .then(() => this.store.markAnnounced(a.id, version))
      .catch((e) => this.log.warn({ err: e, alert: a.id }, 'alert publish failed; a later leader publishes it again'))
      .finally(() => this.publishing.delete(p));
    this.publishing.add(p);
  }

  /**
   * SIGHUP: the API token and loopback rule, retention by age and the operator suppressions take effect; the rest
   * of what reload.ts applies belongs to the embedded broker or SQLite, which a worker does not have, and waits for
   * a restart like any other change.
   */
  reload(next: GatewayConfig): ReloadPlan {
    const plan = planReload(this.config, next);
    const apply = plan.apply.filter((p) => WORKER_RELOADABLE.includes(p));
    applyAccessAndRetention(this.http, this.config, next);
    if (apply.includes('suppress')) {
      this.suppressor.setRules(next.suppress);
      this.config.suppress = next.suppress;
    }
    return { apply, restart: [...plan.restart, ...plan.apply.filter((p) => !WORKER_RELOADABLE.includes(p))] };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    clearInterval(this.retentionTimer);
    await this.http.close().catch(() => {});
    await this.lease.stop();
    this.ingest.stop();
    await Promise.all([...this.publishing]);
    await this.bus.publish(topics.gatewayStatus(this.id), gatewayOffline(), { qos: 1, retain: true }).catch(() => {});
    await this.bus.close().catch((e) => this.log.warn({ err: e }, 'closing broker connection failed'));
    await this.sensors.flush().catch(() => {});
    await this.store.close().catch(() => {});
    this.log.info('gateway worker stopped');
  }
}
