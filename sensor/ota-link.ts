/**
 * Wires signed model updates (sensor/ota.ts) into a running sensor:
 *  - start-up: a model applied by an earlier update (state directory, its bytes re-checked against the signed
 *    sha256, falling back to the previous one) is preferred to the configured/shipped model file;
 *  - updates: every applied model is handed to `pipeline.setModel`, which swaps it in between two batches; the
 *    receiver releases the old session only once the pipeline no longer uses it;
 *  - MQTT: the receiver rides on the sensor's own publisher connection (one login, one ACL identity, one
 *    reconnect policy, one last will). The publisher makes a new mqtt.js client per connection, so the receiver
 *    is re-attached on every connect; it then reports what it runs (`current`) and subscribes to the channel
 *    again, and the broker re-delivers the retained manifest and rollout record.
 * OTA is off while no public key is pinned (a sensor that trusts no key could never accept an update).
 */
import type { Logger } from '../common/log.js';
import { loadPublicKeysFrom } from '../common/keys.js';
import type { SensorConfig } from './config.js';
import type { DetectionModel } from '../inference/model.js';
import { OtaReceiver, type ActiveModel } from './ota.js';
import { detectionModelLoader, type DetectionLoadedModel } from '../inference/load.js';
import type { Pipeline } from './pipeline.js';
import type { Publisher } from './publish.js';

const detectionOf = (a: ActiveModel): DetectionModel => (a.model as DetectionLoadedModel).detection;

export class SensorOta {
  private pipeline?: Pipeline;
  /** The model loaded from a file at start-up (not owned by the receiver): closed once an update replaces it. */
  private bootstrap?: DetectionModel;
  private attaching: Promise<void> = Promise.resolve();
  private closed = false;

  private rx!: OtaReceiver;
  /** Set by the receiver's start-up load of a persisted model (before a pipeline exists). */
  private restored?: ActiveModel;

  private constructor(private readonly log: Logger) {}

  /** undefined when OTA is disabled (no pinned key). */
  static async open(cfg: SensorConfig, log: Logger): Promise<SensorOta | undefined> {
    const olog = log.child({ component: 'ota' });
    if (cfg.ota.pinnedKeys.length === 0) {
      olog.info('model updates disabled: no pinned key (ota.pinnedKeys / --ota-key)');
      return undefined;
    }
    const pinnedKeys = cfg.ota.pinnedKeys.flatMap((entry) => loadPublicKeysFrom(entry));
    const link = new SensorOta(olog);
    const rx = await OtaReceiver.open({
      sensorId: cfg.id, channel: cfg.ota.channel, stateDir: cfg.ota.stateDir, pinnedKeys, loader: detectionModelLoader, log,
      onApply: (active) => link.onApply(active),
    });
    link.rx = rx;
    olog.info({ channel: cfg.ota.channel, keys: rx.trustedKeyIds.map((k) => k.slice(0, 16)), current: rx.current ? { model: rx.current.modelId, seq: rx.current.seq } : null },
      'model updates enabled');
    return link;
  }

  /** The model restored from the state directory, to run instead of the configured one. */
  get restoredModel(): DetectionModel | undefined {
    return this.restored ? detectionOf(this.restored) : undefined;
  }

  /** From now on applied models go to `pipeline`; `bootstrap` is the file model it starts with, if any. */
  bindPipeline(pipeline: Pipeline, bootstrap?: DetectionModel): void {
    this.pipeline = pipeline;
    this.bootstrap = bootstrap;
  }

  private async onApply(active: ActiveModel): Promise<void> {
    if (!this.pipeline) {
      this.restored = active; // start-up: the pipeline is built with it
      return;
    }
    await this.pipeline.setModel(detectionOf(active));
    const old = this.bootstrap;
    this.bootstrap = undefined;
    if (old) await old.close().catch(() => undefined);
  }

  /** Rides on the publisher's connection, re-attaching after every reconnect. */
  attachTo(publisher: Publisher): void {
    const attach = () => {
      this.attaching = this.attaching.then(async () => {
        if (this.closed) return;
        await this.rx.detach();
        const client = publisher.mqttClient;
        if (!client) return; // lost again already: the next 'connect' attaches
        await this.rx.attach(client);
      }).catch((e) => this.log.warn({ err: e }, 'could not follow the model channel'));
    };
    publisher.on('connect', attach);
    if (publisher.connected) attach();
  }

  /** Stops following the channel, waits for an update in progress, releases the models it owns. */
  async close(): Promise<void> {
    this.closed = true;
    await this.attaching;
    await this.rx.close();
    if (this.bootstrap) await this.bootstrap.close().catch(() => undefined);
    this.bootstrap = undefined;
  }
}
