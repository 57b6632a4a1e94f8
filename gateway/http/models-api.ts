/**
 * Model distribution routes (docs/ota.md):
 *   POST /api/models                  body: CBOR upload bundle from `netsensor model publish --gateway`
 *                                     → 200 {channel, model_id, seq, state, admitted}; refused → 400 {error:{code:'ERR_OTA_REJECTED', reason, message}}
 *   GET  /api/models                  {models: release history, channels: releases + rollout state, sensors: per-sensor model}
 *   POST /api/models/:channel/halt    stop the channel's rollout (optional JSON body {reason})
 *
 * Authentication is the API's (auth.ts): the bearer token, or from loopback (unless `http.loopbackExempt` is
 * false) a same-origin request with the `x-netsensor-request: 1` header. An upload is signed besides: the gateway
 * refuses every upload until `models.trustedKeysFile` names the keys it must be signed by (403 no_trusted_keys),
 * and sensors verify it again whatever the gateway does. A halt is not signed; it can only stop a rollout
 * (availability), never install anything.
 *
 * Memory: an upload is read into one buffer of its declared Content-Length (required, at most the largest bundle)
 * and only one upload is taken at a time — a second one meanwhile gets 429 — so uploads can never hold more than
 * one bundle's worth of memory, whatever clients do.
 */
import type { IncomingMessage } from 'node:http';
import { OtaRejected, MAX_ENVELOPE_BYTES, MAX_PAYLOAD_BYTES } from '../../protocol/manifest.js';
import { ID_PATTERN } from '../../protocol/topics.js';
import { NetsensorError } from '../../common/errors.js';
import type { ModelDistributor } from '../ota/distributor.js';
import type { SqliteRolloutStore } from '../ota/model-store.js';
import { HttpError, JsonReply, requireContentType, type HttpServer } from './server.js';

const MAX_UPLOAD_BYTES = MAX_PAYLOAD_BYTES + MAX_ENVELOPE_BYTES + 1024;
const BUNDLE_TYPE = 'application/cbor';

/**
 * Reads a request body, refusing (413) past `limit` without buffering the rest. With a Content-Length the body
 * goes into one buffer of that size (no copies of the parts); `requireLength` refuses (411) a body without one.
 */
export async function readBody(req: IncomingMessage, limit: number, requireLength = false): Promise<Buffer> {
  const header = req.headers['content-length'];
  if (header === undefined && requireLength) throw new HttpError(411, 'Content-Length required');
  if (header !== undefined) return readDeclared(req, Number(header), limit);
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      req.destroy();
      throw new HttpError(413, `body exceeds ${limit} bytes`);
    }
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts);
}

async function readDeclared(req: IncomingMessage, declared: number, limit: number): Promise<Buffer> {
  if (!Number.isSafeInteger(declared) || declared < 0) throw new HttpError(400, 'Content-Length is not valid');
  if (declared > limit) throw new HttpError(413, `body of ${declared} bytes exceeds ${limit}`);
  const body = Buffer.allocUnsafe(declared);
  let at = 0;
  for await (const chunk of req) {
    const c = chunk as Buffer;
    if (at + c.length > declared) { req.destroy(); throw new HttpError(400, 'body longer than its Content-Length'); }
    c.copy(body, at);
    at += c.length;
  }
  if (at !== declared) throw new HttpError(400, `body of ${at} bytes, Content-Length says ${declared}`);
  return body;
}

export function registerModelsApi(http: HttpServer, dist: ModelDistributor, history: SqliteRolloutStore | undefined): void {
  let uploading = false;
  http.route('POST', '/api/models', async (req) => {
    requireContentType(req, [BUNDLE_TYPE]);
    if (!dist.acceptsUploads) {
      const e = new OtaRejected('no_trusted_keys', 'model uploads are refused until models.trustedKeysFile names the keys they must be signed by');
      return new JsonReply(403, { error: { code: e.code, reason: e.reason, message: e.message } });
    }
    if (uploading) throw new HttpError(429, 'another model upload is in progress; retry when it is done', { 'retry-after': '5' });
    uploading = true;
    try {
      const body = await readBody(req, MAX_UPLOAD_BYTES, true);
      if (body.length === 0) throw new HttpError(400, 'empty body: send the CBOR bundle of `netsensor model publish --out`');
      return await dist.upload(new Uint8Array(body.buffer, body.byteOffset, body.length));
    } catch (e) {
      if (e instanceof OtaRejected) {
        return new JsonReply(400, { error: { code: e.code, reason: e.reason, message: e.message } });
      }
      throw e;
    } finally {
      uploading = false;
    }
  });

  http.route('GET', '/api/models', () => ({ models: history?.history() ?? [], ...dist.apiData() }));

  http.route('POST', '/api/models/:channel/halt', async (req, _url, p) => {
    if (!ID_PATTERN.test(p.channel)) throw new HttpError(400, 'channel is not valid');
    let reason = 'halted by operator';
    requireContentType(req, ['application/json']);
    const body = await readBody(req, 4096);
    if (body.length) {
      let parsed: unknown;
      try { parsed = JSON.parse(body.toString('utf8')); } catch { throw new HttpError(400, 'body must be JSON {"reason": "..."}'); }
      const r = (parsed as { reason?: unknown })?.reason;
      if (r !== undefined) {
        if (typeof r !== 'string' || r.length === 0 || r.length > 200) throw new HttpError(400, 'reason must be a string of 1..200 characters');
        reason = r;
      }
    }
    try {
      await dist.halt(p.channel, reason);
    } catch (e) {
      if (e instanceof NetsensorError && e.code === 'ERR_USAGE') throw new HttpError(404, e.message);
      throw e;
    }
    return dist.apiData().channels.find((c) => c.channel === p.channel);
  });
}
