/**
 * What a running gateway takes from a new configuration on SIGHUP, and what needs a restart.
 *
 * Applied: the API token and loopback rule, the embedded broker's credentials file (read again even when its
 * path is unchanged: `add-sensor` then SIGHUP admits a new sensor) and its TLS certificate, key and CA (a renewed
 * certificate), retention by age and size, the operator suppressions (gateway/suppression.ts). Everything else — listen addresses and ports, broker choice and login,
 * mutual TLS on or off, store path, correlation, Home Assistant, model distribution — is reported as needing a
 * restart and left as it was.
 */
import { isDeepStrictEqual } from 'node:util';
import { getPath } from '../common/settings.js';
import { SETTINGS, type GatewayConfig } from './config.js';

export const RELOADABLE: readonly string[] = [
  'http.token', 'http.tokenFile', 'http.loopbackExempt', 'mqtt.credentialsFile',
  'mqtt.tls.certFile', 'mqtt.tls.keyFile', 'mqtt.tls.caFile', 'store.retentionDays', 'store.maxBytes', 'suppress',
];

export interface ReloadPlan {
  /** Changed settings that will be applied. */
  apply: string[];
  /** Changed settings left as they were until a restart. */
  restart: string[];
}

/** The API access settings and retention by age, which a single gateway and a worker both take on SIGHUP. */
export function applyAccessAndRetention(http: { setAccess(token: string | undefined, loopbackExempt: boolean): void }, current: GatewayConfig, next: GatewayConfig): void {
  http.setAccess(next.http.token, next.http.loopbackExempt);
  current.http.token = next.http.token;
  current.http.tokenFile = next.http.tokenFile;
  current.http.loopbackExempt = next.http.loopbackExempt;
  current.store.retentionDays = next.store.retentionDays;
}

export function planReload(current: GatewayConfig, next: GatewayConfig): ReloadPlan {
  // deep: list and JSON settings (allowlists, playbooks) are new arrays on every load
  const changed = SETTINGS.map((s) => s.path).filter((p) => !isDeepStrictEqual(getPath(current, p), getPath(next, p)));
  // TLS files can be swapped on a TLS listener; turning TLS on or off means a new listener
  const tlsSwitch = Boolean(current.mqtt.tls) !== Boolean(next.mqtt.tls);
  const reloadable = (p: string) => RELOADABLE.includes(p) && !(tlsSwitch && p.startsWith('mqtt.tls.'));
  return { apply: changed.filter(reloadable), restart: changed.filter((p) => !reloadable(p)) };
}
