/**
 * The gateway's HTTP server (node:http, no framework): a small router for the JSON API, /metrics, and the
 * dashboard's static files. API and metrics pass the checks of auth.ts (token, or loopback with an allowed Host
 * and, for state changes, a same-origin request with the custom header); the static page itself holds no data and
 * is served to anyone (it asks for a token when the API says 401).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import type { Logger } from '../../common/log.js';
import { NetsensorError } from '../../common/errors.js';
import { packagePath } from '../../common/paths.js';
import { allowedHosts, authorizeRequest, type AccessPolicy } from './auth.js';

const ERROR_CODES: Record<number, string> = {
  400: 'ERR_BAD_REQUEST', 403: 'ERR_FORBIDDEN', 404: 'ERR_NOT_FOUND', 411: 'ERR_LENGTH_REQUIRED', 413: 'ERR_TOO_LARGE',
  415: 'ERR_UNSUPPORTED_MEDIA_TYPE', 429: 'ERR_BUSY',
};

export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

/** Refuses (415) a request body whose media type is not one of `types`; a request without a body passes. */
export function requireContentType(req: IncomingMessage, types: readonly string[]): void {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) return;
  const media = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (!types.includes(media)) throw new HttpError(415, `Content-Type must be ${types.join(' or ')}, not '${media.slice(0, 60)}'`);
}

export type Handler = (req: IncomingMessage, url: URL, params: Record<string, string>) => Promise<unknown> | unknown;

/** A JSON reply with a status other than 200 (e.g. a refused model upload: 400 with its reason). */
export class JsonReply {
  constructor(readonly status: number, readonly body: unknown) {}
}

/** A reply that is not JSON (e.g. Prometheus text). */
export class RawReply {
  constructor(readonly contentType: string, readonly body: string | Buffer) {}
}

interface Route {
  method: string;
  parts: string[];
  handler: Handler;
}

const STATIC: Record<string, string> = {
  '/': 'index.html',
  '/index.html': 'index.html',
  '/app.js': 'app.js',
  '/api.js': 'api.js',
  '/dom.js': 'dom.js',
  '/time.js': 'time.js',
  '/chart.js': 'chart.js',
  '/alert-detail.js': 'alert-detail.js',
  '/style.css': 'style.css',
};
const TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'",
};

export class HttpServer {
  private readonly routes: Route[] = [];
  private server?: Server;
  private readonly staticDir = packagePath('gateway', 'http', 'static');
  private readonly policy: AccessPolicy;

  /** `hosts`: names besides loopback and the listen address that a token-less request may use in Host. */
  constructor(private readonly opts: { host: string; port: number; token?: string; loopbackExempt: boolean; hosts?: string[] }, private readonly log: Logger) {
    this.policy = { token: opts.token, loopbackExempt: opts.loopbackExempt, hosts: allowedHosts(opts.host, opts.hosts) };
  }

  /** A new token / loopback rule for the requests that follow (configuration reload). */
  setAccess(token: string | undefined, loopbackExempt: boolean): void {
    this.policy.token = token;
    this.policy.loopbackExempt = loopbackExempt;
  }

  /** Registers `GET /api/things/:id`-style routes (other gateway modules add theirs, e.g. model rollouts). */
  route(method: string, pattern: string, handler: Handler): void {
    this.routes.push({ method, parts: pattern.split('/').filter(Boolean), handler });
  }

  private match(method: string, path: string): { route: Route; params: Record<string, string> } | 'method' | undefined {
    const parts = path.split('/').filter(Boolean);
    let wrongMethod = false;
    for (const r of this.routes) {
      if (r.parts.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        if (r.parts[i].startsWith(':')) {
          try { params[r.parts[i].slice(1)] = decodeURIComponent(parts[i]); } catch { ok = false; }
        } else ok = r.parts[i] === parts[i];
      }
      if (!ok) continue;
      if (r.method !== method) { wrongMethod = true; continue; }
      return { route: r, params };
    }
    return wrongMethod ? 'method' : undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://gateway.invalid');
    const method = req.method ?? 'GET';
    if (method === 'GET' && STATIC[url.pathname]) return this.serveStatic(res, STATIC[url.pathname]);
    const decision = authorizeRequest({ remoteAddress: req.socket.remoteAddress, method, headers: req.headers }, this.policy);
    if (!decision.ok) {
      return this.send(res, decision.status, { error: { code: decision.status === 401 ? 'ERR_UNAUTHORIZED' : 'ERR_FORBIDDEN', message: decision.reason } },
        decision.status === 401 ? { 'www-authenticate': 'Bearer realm="netsensor"' } : {});
    }
    const m = this.match(method, url.pathname);
    if (m === undefined) return this.send(res, 404, { error: { code: 'ERR_NOT_FOUND', message: `no route ${url.pathname}` } });
    if (m === 'method') return this.send(res, 405, { error: { code: 'ERR_METHOD', message: `${method} not allowed` } });
    try {
      const out = await m.route.handler(req, url, m.params);
      if (out instanceof RawReply) {
        res.writeHead(200, { 'content-type': out.contentType, ...SECURITY_HEADERS });
        res.end(out.body);
        return;
      }
      if (out instanceof JsonReply) return this.send(res, out.status, out.body);
      this.send(res, 200, out);
    } catch (e) {
      if (e instanceof HttpError) return this.send(res, e.status, { error: { code: ERROR_CODES[e.status] ?? 'ERR_BAD_REQUEST', message: e.message } }, e.headers);
      this.log.error({ err: e, path: url.pathname }, 'API handler failed');
      this.send(res, 500, { error: { code: 'ERR_INTERNAL', message: 'internal error' } });
    }
  }

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...SECURITY_HEADERS, ...headers });
    res.end(text);
  }

  private async serveStatic(res: ServerResponse, file: string): Promise<void> {
    const path = normalize(join(this.staticDir, file));
    try {
      const body = await readFile(path);
      res.writeHead(200, { 'content-type': TYPES[file.split('.').pop()!] ?? 'application/octet-stream', 'cache-control': 'no-cache', ...SECURITY_HEADERS });
      res.end(body);
    } catch {
      this.send(res, 404, { error: { code: 'ERR_NOT_FOUND', message: file } });
    }
  }

  async listen(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((e) => {
        this.log.error({ err: e }, 'http request failed');
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(new NetsensorError('ERR_CONFIG', `HTTP server cannot listen on ${this.opts.host}:${this.opts.port}: ${(e as Error).message}`)));
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    this.server = server;
  }

  get port(): number {
    return (this.server!.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
