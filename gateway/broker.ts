/**
 * The embedded MQTT broker (aedes, MQTT 3.1.1) with per-sensor credentials, the topic ACL of acl.ts and an
 * optional TLS listener. The gateway itself consumes and publishes in-process (no client connection, no ACL).
 *
 * Without a credentials file, only clients connecting from a loopback address are accepted (anonymous);
 * binding to a non-loopback address therefore requires a credentials file. A login may use only the client ids
 * acl.ts allows it and never one another login holds (no takeover); failed logins are throttled per address
 * (login-throttle.ts). Every refusal is counted by reason.
 */
import { createServer as createTcpServer, type Server, type AddressInfo } from 'node:net';
import { createSecureContext, createServer as createTlsServer, Server as TlsServer } from 'node:tls';
import { readPem } from './tls-files.js';
import { Aedes, type Client, type AuthenticateError } from 'aedes';
import type { Logger } from '../common/log.js';
import { NetsensorError } from '../common/errors.js';
import { mayPublish, maySubscribe, mayUseClientId, sameIdentity, type Identity } from './acl.js';
import { LoginThrottle } from './login-throttle.js';
import { readCredentials, verifyPassword, type Credential } from './credentials.js';
import type { Bus, MessageHandler, PublishOptions } from './bus.js';
import type { GatewayConfig } from './config.js';
import type { AUTH_FAILURES, GatewayMetrics } from './metrics.js';

/** Certificate, key and CA of the TLS listener, read now (start and reload). */
export function tlsContext(tls: NonNullable<GatewayConfig['mqtt']['tls']>): { cert?: Buffer; key?: Buffer; ca?: Buffer } {
  return { cert: readPem(tls.certFile, 'mqtt.tls.certFile'), key: readPem(tls.keyFile, 'mqtt.tls.keyFile'), ca: readPem(tls.caFile, 'mqtt.tls.caFile') };
}

export function isLoopback(addr: string | undefined): boolean {
  if (!addr) return false;
  const a = addr.startsWith('::ffff:') ? addr.slice(7) : addr;
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

function authError(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

export class EmbeddedBroker implements Bus {
  readonly kind = 'embedded' as const;
  private readonly identities = new WeakMap<Client, Identity>();
  private constructor(private readonly aedes: Aedes, private readonly server: Server, private readonly log: Logger,
    /** Logins by id; undefined: anonymous loopback clients only. Replaced by a reload. */
    private creds: Map<string, Credential> | undefined) {}

  static async start(cfg: GatewayConfig['mqtt'], haPrefix: string, metrics: GatewayMetrics, log: Logger): Promise<EmbeddedBroker> {
    const creds: Map<string, Credential> | undefined = cfg.credentialsFile ? readCredentials(cfg.credentialsFile) : undefined;
    const aedes = await Aedes.createBroker({ id: 'netsensor-gateway', heartbeatInterval: 60_000 });
    // Mutual TLS: the handshake itself refuses a client without a certificate from the CA, before MQTT begins.
    const mutual = Boolean(cfg.tls?.requireClientCert);
    const server = cfg.tls
      ? createTlsServer({ ...tlsContext(cfg.tls), requestCert: mutual, rejectUnauthorized: mutual }, aedes.handle)
      : createTcpServer(aedes.handle);
    const broker = new EmbeddedBroker(aedes, server, log, creds);

    // Connected clients by id: a CONNECT with an id in use by a different login is a takeover attempt.
    const connected = new Map<string, Client>();
    aedes.on('clientReady', (c) => connected.set(c.id, c));
    aedes.on('clientDisconnect', (c) => { if (connected.get(c.id) === c) connected.delete(c.id); });
    const throttle = new LoginThrottle();
    const refuse = (reason: (typeof AUTH_FAILURES)[number], returnCode: number, message: string) => {
      metrics.authFailed.inc({ reason });
      return authError(message, returnCode);
    };
    /** The login is valid: now the client id must be one this identity may use, and not another login's. */
    const admit = (client: Client, who: Identity): AuthenticateError | undefined => {
      if (!mayUseClientId(who, client.id)) {
        log.warn({ client: client.id.slice(0, 128), user: who.id, role: who.role }, 'refused: client id not allowed for this login');
        return refuse('client_id', 2, 'identifier rejected');
      }
      const holder = connected.get(client.id);
      const held = holder && holder !== client ? broker.identities.get(holder) : undefined;
      if (held && !sameIdentity(held, who)) {
        log.warn({ client: client.id.slice(0, 128), user: who.id, holder: held.id }, 'refused: client id in use by another login (takeover)');
        return refuse('takeover', 2, 'identifier rejected');
      }
      broker.identities.set(client, who);
      return undefined;
    };

    aedes.authenticate = (client, username, password, done) => {
      const remote = (client.conn as { remoteAddress?: string }).remoteAddress;
      const creds = broker.creds;
      if (!creds) {
        if (isLoopback(remote)) {
          const err = admit(client, { role: 'anonymous', id: client.id });
          return err ? done(err, false) : done(null, true);
        }
        log.warn({ client: client.id, remote }, 'refused: anonymous access is loopback-only (configure a credentials file)');
        return done(refuse('anonymous_remote', 5, 'not authorized'), false);
      }
      const address = remote ?? 'unknown';
      if (!throttle.attempt(address)) return done(refuse('throttled', 5, 'not authorized'), false);
      const cred = username ? creds.get(username) : undefined;
      if (!cred || !password) return done(refuse('bad_credentials', 4, 'bad username or password'), false);
      verifyPassword(password.toString('utf8'), cred.hash).then((ok) => {
        if (!ok) {
          log.warn({ user: username, remote }, 'refused: bad password');
          return done(refuse('bad_credentials', 4, 'bad username or password'), false);
        }
        throttle.succeeded(address);
        const err = admit(client, { role: cred.role, id: cred.id });
        return err ? done(err, false) : done(null, true);
      }, () => done(authError('server unavailable', 3), false));
    };
    aedes.authorizePublish = (client, packet, done) => {
      if (!client) return done(null); // in-process publish by the gateway
      const who = broker.identities.get(client);
      if (who && mayPublish(who, packet.topic)) return done(null);
      metrics.aclDenied.inc({ action: 'publish' });
      log.warn({ client: client.id, user: who?.id, topic: packet.topic.slice(0, 200) }, 'publish denied by ACL');
      done(new Error('publish not authorized')); // aedes drops the message and closes the connection
    };
    aedes.authorizeSubscribe = (client, sub, done) => {
      const who = broker.identities.get(client);
      if (who && maySubscribe(who, sub.topic, haPrefix)) return done(null, sub);
      metrics.aclDenied.inc({ action: 'subscribe' });
      log.warn({ client: client.id, user: who?.id, topic: sub.topic.slice(0, 200) }, 'subscribe denied by ACL');
      done(null, null); // negative SUBACK (0x80)
    };
    aedes.on('clientError', (client, err) => log.debug({ client: client?.id, err }, 'mqtt client error'));
    aedes.on('connectionError', (client, err) => log.debug({ client: client?.id, err }, 'mqtt connection error'));

    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e) => reject(new NetsensorError('ERR_CONFIG', `embedded broker cannot listen on ${cfg.host}:${cfg.port}: ${(e as Error).message}`)));
        server.listen(cfg.port, cfg.host, () => resolve());
      });
    } catch (e) {
      // aedes' heartbeat timer would keep a gateway that cannot serve MQTT running
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      throw e;
    }
    if (!creds && !isLoopback(cfg.host)) {
      log.warn({ host: cfg.host }, 'broker listens beyond loopback without a credentials file: only loopback clients will be accepted');
    }
    log.info({ host: cfg.host, port: broker.port, tls: Boolean(cfg.tls), clientCerts: mutual, credentials: Boolean(creds) }, 'embedded MQTT broker listening');
    return broker;
  }

  /**
   * Reads the credentials file and the TLS files again (SIGHUP) and returns the step that puts them in use; throws,
   * changing nothing, when one is unusable. New logins and TLS handshakes use them; open connections stay.
   */
  prepareReload(cfg: GatewayConfig['mqtt']): () => void {
    const creds = cfg.credentialsFile ? readCredentials(cfg.credentialsFile) : undefined;
    const tls = cfg.tls && this.server instanceof TlsServer ? tlsContext(cfg.tls) : undefined;
    if (tls) createSecureContext(tls); // a key that does not fit its certificate throws here, not in the listener
    return () => {
      this.creds = creds;
      if (tls) (this.server as TlsServer).setSecureContext(tls);
    };
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get connectedClients(): number {
    return this.aedes.connectedClients;
  }

  subscribe(filter: string, handler: MessageHandler): Promise<void> {
    return new Promise((resolve) => {
      this.aedes.subscribe(filter, (packet, cb) => {
        let called = false;
        const done = () => { if (!called) { called = true; cb(); } };
        try {
          handler(packet.topic, Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload as string), done);
        } catch (e) {
          this.log.error({ err: e, topic: packet.topic }, 'message handler failed');
          done();
        }
      }, resolve);
    });
  }

  publish(topic: string, payload: Buffer | string, opts: PublishOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      this.aedes.publish({
        cmd: 'publish', topic, payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
        qos: opts.qos, retain: opts.retain ?? false, dup: false,
      }, (err) => (err ? reject(err) : resolve()));
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
