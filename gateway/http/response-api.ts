/**
 * Response actions over HTTP (docs/response.md):
 *   GET  /api/response/actions[?state=&alert=&sensor=]  newest first
 *   GET  /api/response/actions/:id                      the action and its history
 *   GET  /api/response/history?alert=ID                 an alert's containment history, in order
 *   POST /api/response/actions/:id/approve              approve a pending action (mode approve): it is sent now
 *   POST /api/response/actions/:id/undo                 remove an active action now / decline a pending one
 */
import type { ActionStore } from '../response/action-store.js';
import { ResponseRequestError, type ResponseEngine } from '../response/engine.js';
import { HttpError, requireContentType, type HttpServer } from './server.js';

const ID = /^[0-9a-f-]{36}$/;

export function registerResponseApi(http: HttpServer, engine: ResponseEngine, store: ActionStore): void {
  const actionId = (p: Record<string, string>): string => {
    if (!ID.test(p.id ?? '')) throw new HttpError(400, 'action id is not valid');
    return p.id;
  };
  const param = (url: URL, name: string) => url.searchParams.get(name)?.slice(0, 128) || undefined;
  const act = (fn: () => unknown) => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof ResponseRequestError) throw new HttpError(e.status, e.message);
      throw e;
    }
  };
  http.route('GET', '/api/response/actions', (_req, url) => ({
    actions: store.list({ state: param(url, 'state'), alert: param(url, 'alert'), sensor: param(url, 'sensor') }),
  }));
  http.route('GET', '/api/response/actions/:id', (_req, _url, p) => {
    const a = store.get(actionId(p));
    if (!a) throw new HttpError(404, 'no such action');
    return { action: a, history: store.history({ action: a.id }) };
  });
  http.route('GET', '/api/response/history', (_req, url) => {
    const alert = param(url, 'alert');
    if (!alert) throw new HttpError(400, 'alert=ID is required');
    return { alert, history: store.history({ alert }) };
  });
  http.route('POST', '/api/response/actions/:id/approve', (req, _url, p) => {
    requireContentType(req, ['application/json']);
    return { action: act(() => engine.approve(actionId(p), 'api')) };
  });
  http.route('POST', '/api/response/actions/:id/undo', (req, _url, p) => {
    requireContentType(req, ['application/json']);
    return { action: act(() => engine.undo(actionId(p), 'api')) };
  });
}
