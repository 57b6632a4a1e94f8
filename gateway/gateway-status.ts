/**
 * The gateway's own status on netsensor/v1/gateway/<id>/status (retained JSON, like a sensor's): `online` with
 * the version when it starts, `offline` when it stops, and — with an external broker — `offline` as its last
 * will, so a killed gateway is shown offline by the broker itself. Home Assistant's availability reads `state`.
 */
import { packageVersion } from '../common/version.js';

export const gatewayOnline = (): string => JSON.stringify({ state: 'online', version: packageVersion(), ts: Date.now() });
export const gatewayOffline = (): string => JSON.stringify({ state: 'offline', ts: Date.now() });
/** The last will carries no time: the broker sends it whenever the connection dies. */
export const GATEWAY_WILL = JSON.stringify({ state: 'offline' });
