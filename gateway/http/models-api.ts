/**
 * Model distribution routes (docs/ota.md):
 *   POST /api/models                  body: CBOR upload bundle from `netsensor model publish --gateway`
 *                                     → 200 {channel, model_id, seq, state, admitted}; refused → 400 {error:{code:'ERR_OTA_REJECTED', reason, message}}
 *   GET  /api/models                  {models: release history, channels: releases + rollout state, sensors: per-sensor model}
 *   POST /api/models/:channel/halt    stop the channel's rollout (optional JSON body {reason})
 *
 * Authentication is the API's (auth.ts): loopback clients are exempt unless `http.loopbackExempt` is false,
 * every other client needs the bearer token. An upload needs no more than that because it is signed: sensors
 * verify it whatever the gateway does, and with `models.trustedKeysFile` the gateway refuses a badly signed one
 * here. A halt is not signed; it can only stop a rollout (availability), never install anything.
 */
import type { IncomingMessage } from 'node:http';
import { OtaRejected, MAX_ENVELOPE_BYTES, MAX_PAYLOAD_BYTES } from '../../protocol/manifest.js';
import { ID_PATTERN } from '../../protocol/topics.js';
import { NetsensorError } from '../../common/errors.js';
import type { ModelDistributor } from '../ota/distributor.js';
import type { SqliteRolloutStore } from '../ota/model-store.js';
import { HttpError, JsonReply, type HttpServer } from './server.js';

const MAX_UPLOAD_BYTES = MAX_PAYLOAD_BYTES + MAX_ENVELOPE_BYTES + 1024;

/** Reads a request body, refusing (413) past `limit` without buffering the rest. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new HttpError(413, `body of ${declared} bytes exceeds ${limit}`);
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

export function registerModelsApi(http: HttpServer, dist: ModelDistributor, history: SqliteRolloutStore | undefined): void {
  http.route('POST', '/api/models', async (req) => {
    const body = await readBody(req, MAX_UPLOAD_BYTES);
    if (body.length === 0) throw new HttpError(400, 'empty body: send the CBOR bundle of `netsensor model publish --out`');
    try {
      return await dist.upload(new Uint8Array(body.buffer, body.byteOffset, body.length));
    } catch (e) {
      if (e instanceof OtaRejected) {
        return new JsonReply(400, { error: { code: e.code, reason: e.reason, message: e.message } });
      }
      throw e;
    }
  });

  http.route('GET', '/api/models', () => ({ models: history?.history() ?? [], ...dist.apiData() }));

  http.route('POST', '/api/models/:channel/halt', async (req, _url, p) => {
    if (!ID_PATTERN.test(p.channel)) throw new HttpError(400, 'channel is not valid');
    let reason = 'halted by operator';
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
