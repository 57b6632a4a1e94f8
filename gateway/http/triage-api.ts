/**
 * Alert triage over HTTP (state changes: the bearer token, or from loopback the `x-netsensor-request: 1` header):
 *   POST /api/alerts/:id/acknowledge   {note?, actor?} → triage state `acknowledged`
 *   POST /api/alerts/:id/close         {note?, actor?} → `closed` (reopened by the gateway if it fires again)
 *   POST /api/alerts/:id/reopen        {note?, actor?} → `reopened`
 *   POST /api/alerts/:id/note          {note, actor?}  → a history entry only
 *   GET  /api/alerts/:id/history       {alert_id, triage, history: [{id, alert_id, ts, kind, actor, note, detail}]}
 * Every action answers {alert_id, triage, entry}. `actor` is the name the caller gives (the token does not
 * identify a person); without one it is `api`. Served by the single gateway (SQLite) and by workers (PostgreSQL).
 */
import { isNetsensorError } from '../../common/errors.js';
import { MAX_ACTOR, MAX_NOTE, TRIAGE_ACTIONS, type TriageAction, type TriageStore } from '../alert-history.js';
import { UUID } from './api.js';
import { readBody } from './models-api.js';
import { HttpError, requireContentType, type HttpServer } from './server.js';

const ACTOR = new RegExp(`^[\\p{L}\\p{N}][\\p{L}\\p{N} ._@-]{0,${MAX_ACTOR - 1}}$`, 'u');
const MAX_BODY = 16 * 1024;

interface TriageBody { note: string | null; actor: string }

function parseBody(raw: Buffer, action: TriageAction): TriageBody {
  let body: unknown = {};
  if (raw.length > 0) {
    try { body = JSON.parse(raw.toString('utf8')); } catch { throw new HttpError(400, 'body is not JSON'); }
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'body must be a JSON object {note?, actor?}');
  const { note, actor, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length) throw new HttpError(400, `unknown field ${unknown[0].slice(0, 40)} (expected note, actor)`);
  if (note !== undefined && note !== null && typeof note !== 'string') throw new HttpError(400, 'note must be text');
  const text = typeof note === 'string' ? note.trim() : '';
  if (text.length > MAX_NOTE) throw new HttpError(400, `note is ${text.length} characters; at most ${MAX_NOTE}`);
  if (action === 'note' && text === '') throw new HttpError(400, 'a note needs text');
  if (actor !== undefined && (typeof actor !== 'string' || !ACTOR.test(actor.trim()))) {
    throw new HttpError(400, `actor must be a name of 1–${MAX_ACTOR} letters, digits, spaces or . _ @ -`);
  }
  return { note: text === '' ? null : text, actor: typeof actor === 'string' ? actor.trim() : 'api' };
}

function alertId(p: Record<string, string>): string {
  if (!UUID.test(p.id ?? '')) throw new HttpError(400, 'alert id is not a UUID');
  return p.id;
}

/** `beforeRead`: brings the alert rows up to date first (the single gateway's rate-limited alert writes). */
export function registerTriageApi(http: HttpServer, ctx: { history: TriageStore; beforeRead?: () => void }): void {
  for (const action of Object.keys(TRIAGE_ACTIONS) as TriageAction[]) {
    http.route('POST', `/api/alerts/:id/${action}`, async (req, _url, p) => {
      requireContentType(req, ['application/json']);
      const id = alertId(p);
      const body = parseBody(await readBody(req, MAX_BODY), action);
      // Alert rows still waiting for their (rate-limited) write go first: the close must see every event stored
      // so far, or that write would count as the alert firing again.
      ctx.beforeRead?.();
      try {
        const { triage, entry } = await ctx.history.act(id, action, body.actor, body.note, Date.now());
        return { alert_id: id, triage, entry };
      } catch (e) {
        if (isNetsensorError(e) && e.code === 'ERR_ALERT_NOT_FOUND') throw new HttpError(404, e.message);
        if (isNetsensorError(e) && e.code === 'ERR_ALERT_HISTORY_INVALID') throw new HttpError(400, e.message);
        throw e;
      }
    });
  }

  http.route('GET', '/api/alerts/:id/history', async (_req, _url, p) => {
    const id = alertId(p);
    ctx.beforeRead?.();
    const triage = await ctx.history.triage(id);
    if (!triage) throw new HttpError(404, `alert ${id} not found`);
    return { alert_id: id, triage, history: await ctx.history.list(id) };
  });
}
