/** MQTT topics, v1 (see README "MQTT topics"). The only place topic strings are built or parsed. */
export const TOPIC_ROOT = 'netsensor/v1';

/** Sensor and channel ids appear inside topics and ACLs: keep them to a safe alphabet. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export const topics = {
  events: (sensorId: string) => `${TOPIC_ROOT}/sensors/${sensorId}/events`,
  status: (sensorId: string) => `${TOPIC_ROOT}/sensors/${sensorId}/status`,
  ota: (sensorId: string) => `${TOPIC_ROOT}/sensors/${sensorId}/ota`,
  /** Site baseline inventory (sensor → all, JSON, retained) and the gateway's reset command (gateway → sensor). */
  baseline: (sensorId: string) => `${TOPIC_ROOT}/sensors/${sensorId}/baseline`,
  baselineReset: (sensorId: string) => `${TOPIC_ROOT}/sensors/${sensorId}/baseline/reset`,
  allBaselines: `${TOPIC_ROOT}/sensors/+/baseline`,
  model: (channel: string) => `${TOPIC_ROOT}/models/${channel}`,
  /** OTA (docs/ota.md): payload chunk `index` of manifest `seq` (raw bytes, retained). */
  modelChunk: (channel: string, seq: number, index: number) => `${TOPIC_ROOT}/models/${channel}/chunk/${seq}/${index}`,
  modelChunks: (channel: string, seq: number) => `${TOPIC_ROOT}/models/${channel}/chunk/${seq}/+`,
  /** OTA: the gateway's rollout record for the channel (which sensors may apply which seq; retained). */
  modelRollout: (channel: string) => `${TOPIC_ROOT}/models/${channel}/rollout`,
  /** OTA: operator → gateway upload of a signed bundle (manifest envelope + payload). */
  modelUpload: (channel: string) => `${TOPIC_ROOT}/models/${channel}/upload`,
  allModelUploads: `${TOPIC_ROOT}/models/+/upload`,
  alert: (severity: string, sensorId: string) => `${TOPIC_ROOT}/alerts/${severity}/${sensorId}`,
  allEvents: `${TOPIC_ROOT}/sensors/+/events`,
  allStatus: `${TOPIC_ROOT}/sensors/+/status`,
  allOta: `${TOPIC_ROOT}/sensors/+/ota`,
  /** The gateway's health, JSON, retained; its last will (external broker) says {"state":"offline"}. */
  gatewayStatus: (gatewayId: string) => `${TOPIC_ROOT}/gateway/${gatewayId}/status`,
} as const;

/** The MQTT client id a sensor connects with; brokers bind it to the sensor's login (gateway/acl.ts). */
export const SENSOR_CLIENT_PREFIX = 'netsensor-';
export const sensorClientId = (sensorId: string) => `${SENSOR_CLIENT_PREFIX}${sensorId}`;

/** Returns the sensor id of a `netsensor/v1/sensors/<id>/<kind>` topic, or undefined. */
export function parseSensorTopic(topic: string): { sensorId: string; kind: string } | undefined {
  const parts = topic.split('/');
  if (parts.length !== 5 || parts[0] !== 'netsensor' || parts[1] !== 'v1' || parts[2] !== 'sensors') return undefined;
  if (!ID_PATTERN.test(parts[3])) return undefined;
  return { sensorId: parts[3], kind: parts[4] };
}

export type ModelTopicKind = 'manifest' | 'upload' | 'rollout' | 'chunk';

/** Returns the channel of a `netsensor/v1/models/<channel>[/upload|/rollout|/chunk/<seq>/<i>]` topic, or undefined. */
export function parseModelTopic(topic: string): { channel: string; kind: ModelTopicKind } | undefined {
  const parts = topic.split('/');
  if (parts.length < 4 || parts[0] !== 'netsensor' || parts[1] !== 'v1' || parts[2] !== 'models') return undefined;
  if (!ID_PATTERN.test(parts[3])) return undefined;
  const rest = parts.slice(4);
  if (rest.length === 0) return { channel: parts[3], kind: 'manifest' };
  if (rest.length === 1 && (rest[0] === 'upload' || rest[0] === 'rollout')) return { channel: parts[3], kind: rest[0] };
  if (rest.length === 3 && rest[0] === 'chunk' && /^\d+$/.test(rest[1]) && /^\d+$/.test(rest[2])) return { channel: parts[3], kind: 'chunk' };
  return undefined;
}
