/**
 * Site baselines over HTTP:
 *   GET  /api/baselines                    one line per sensor (learning?, endpoints, devices, suppressed)
 *   GET  /api/sensors/:id/baseline         a sensor's inventory: devices, their usual peers and ports
 *   POST /api/sensors/:id/baseline/reset   ask the sensor to forget it and learn again
 */
import { ID_PATTERN } from '../../protocol/topics.js';
import type { Baselines } from '../baselines.js';
import { HttpError, requireContentType, type HttpServer } from './server.js';

export function registerBaselinesApi(http: HttpServer, baselines: Baselines): void {
  const sensorId = (p: Record<string, string>): string => {
    const id = p.id ?? '';
    if (!ID_PATTERN.test(id)) throw new HttpError(400, 'sensor id is not valid');
    return id;
  };
  http.route('GET', '/api/baselines', () => ({ baselines: baselines.list() }));
  http.route('GET', '/api/sensors/:id/baseline', (_req, _url, p) => {
    const r = baselines.get(sensorId(p));
    if (!r) throw new HttpError(404, 'no baseline reported by this sensor (baseline off, or not connected yet)');
    return r;
  });
  http.route('POST', '/api/sensors/:id/baseline/reset', async (req, _url, p) => {
    requireContentType(req, ['application/json']);
    const id = sensorId(p);
    await baselines.reset(id, 'api');
    return { requested: true, sensor: id };
  });
}
