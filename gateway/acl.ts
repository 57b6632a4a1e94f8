/**
 * Topic access rules of the embedded broker, as pure functions (the Mosquitto example in deploy/mosquitto
 * expresses the same rules in its ACL file).
 *  - sensor <id>: publish only netsensor/v1/sensors/<id>/{events,status,ota}; subscribe only netsensor/v1/models/#.
 *  - anonymous (loopback only, no credentials file): publish only to sensors/<any id>/{events,status,ota};
 *    subscribe to anything. Never models/ or alerts/.
 *  - observer: publish nothing; subscribe to alerts, sensor status and Home Assistant topics.
 *  - admin: everything.
 * Client ids: a sensor connects only as `netsensor-<its id>`, and that prefix is reserved for sensors, so no login
 * can take over (and disconnect, and fire the last will of) another sensor's session.
 * The gateway's in-process publishes (alerts, models) do not pass through these checks.
 */
import { parseSensorTopic, SENSOR_CLIENT_PREFIX, sensorClientId, TOPIC_ROOT } from '../protocol/topics.js';
import type { Role } from './credentials.js';

export type Identity = { role: Role; id: string } | { role: 'anonymous'; id: string };

const SENSOR_KINDS = new Set(['events', 'status', 'ota', 'baseline']);

export function mayPublish(who: Identity, topic: string): boolean {
  if (who.role === 'admin') return true;
  if (who.role === 'observer') return false;
  const t = parseSensorTopic(topic);
  if (!t || !SENSOR_KINDS.has(t.kind)) return false;
  return who.role === 'anonymous' || t.sensorId === who.id;
}

export function maySubscribe(who: Identity, filter: string, haPrefix = 'homeassistant'): boolean {
  if (who.role === 'admin' || who.role === 'anonymous') return true;
  // a sensor follows the model channels and its own baseline-reset command (which only the gateway may publish)
  if (who.role === 'sensor') return filter.startsWith(`${TOPIC_ROOT}/models/`) || filter === `${TOPIC_ROOT}/sensors/${who.id}/baseline/reset`;
  return filter.startsWith(`${TOPIC_ROOT}/alerts/`) || filter === `${TOPIC_ROOT}/sensors/+/status` ||
    /^netsensor\/v1\/sensors\/[^/#+]+\/status$/.test(filter) || filter.startsWith(`${TOPIC_ROOT}/ha/`) || filter.startsWith(`${haPrefix}/`) ||
    /^netsensor\/v1\/gateway\/[^/#]+\/status$/.test(filter);
}

export function mayUseClientId(who: Identity, clientId: string): boolean {
  if (who.role === 'admin' || who.role === 'anonymous') return true;
  if (who.role === 'sensor') return clientId === sensorClientId(who.id);
  return !clientId.startsWith(SENSOR_CLIENT_PREFIX);
}

/** Whether two logins are the same: only then may a new connection take over an existing client id. */
export const sameIdentity = (a: Identity, b: Identity): boolean => a.role === b.role && a.id === b.id;
