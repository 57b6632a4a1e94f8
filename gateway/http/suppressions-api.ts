/**
 * Operator suppressions over HTTP (docs/gateway.md): read-only — the rules live in the gateway's settings
 * (`suppress`) and change on SIGHUP, so the file under version control or configuration management stays the one
 * place they are written.
 *   GET /api/suppressions   {suppressions: [{name, class, src?, dest?, sensor?, until?, reason, active, alerts}]}
 * `alerts`: alerts the rule held back since the gateway started; `active`: its `until` has not passed.
 */
import type { Suppressor } from '../suppression.js';
import type { HttpServer } from './server.js';

export function registerSuppressionsApi(http: HttpServer, suppressor: Suppressor): void {
  http.route('GET', '/api/suppressions', () => ({ suppressions: suppressor.list() }));
}
