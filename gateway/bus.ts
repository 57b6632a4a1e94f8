/**
 * What the rest of the gateway needs from MQTT, whichever broker is behind it: subscribe to sensor topics and
 * publish alerts / discovery / models. Two implementations: the embedded aedes broker (in-process delivery,
 * broker.ts) and a client of an external broker (MQTT v5 with a shared subscription for events, external.ts).
 */
/**
 * `done` must be called once the message is handled; the embedded broker acknowledges (PUBACK) a QoS 1
 * message only after every subscriber called it, so a handler may delay it until the data is committed.
 */
export type MessageHandler = (topic: string, payload: Buffer, done: () => void) => void;

export interface PublishOptions {
  qos: 0 | 1;
  retain?: boolean;
}

export interface Bus {
  readonly kind: 'embedded' | 'external';
  /**
   * Subscribes to `filter`. `shared`: with an external broker, several gateways split these messages
   * (`$share/<group>/<filter>`); ignored by the embedded broker, where one gateway sees everything.
   */
  subscribe(filter: string, handler: MessageHandler, opts?: { shared?: boolean }): Promise<void>;
  publish(topic: string, payload: Buffer | string, opts: PublishOptions): Promise<void>;
  close(): Promise<void>;
}

/** MQTT topic filter matching ('+' one level, '#' the rest). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
