// One time basis for the whole page: flow time (when a sensor saw the traffic), shown in one chosen zone —
// the browser's own or UTC — with the zone written next to every time. The range picker gives [since, until].

const LOCAL = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
export const PRESETS = { '1h': HOUR, '6h': 6 * HOUR, '24h': DAY, '7d': 7 * DAY };

export const time = {
  zone: localStorage.getItem('netsensor-zone') === 'UTC' ? 'UTC' : LOCAL,
  /** '1h' | '6h' | '24h' | '7d' | 'all' | 'custom' */
  preset: '24h',
  custom: { since: null, until: null },
  /** Earliest first_seen / latest last_seen in the store (from /api/stats): what "all time" spans. */
  extent: { first: null, last: null },
};

export const localZone = LOCAL;

export function setZone(zone) {
  time.zone = zone === 'UTC' ? 'UTC' : LOCAL;
  localStorage.setItem('netsensor-zone', time.zone === 'UTC' ? 'UTC' : 'local');
}

const formats = new Map();
function format(zone, opts) {
  const key = `${zone}|${JSON.stringify(opts)}`;
  if (!formats.has(key)) formats.set(key, new Intl.DateTimeFormat('en-GB', { timeZone: zone, hourCycle: 'h23', ...opts }));
  return formats.get(key);
}

function parts(ms, opts) {
  const out = {};
  for (const p of format(time.zone, opts).formatToParts(new Date(ms))) out[p.type] = p.value;
  return out;
}

/** "UTC" or the zone's offset at that time ("GMT+1"). */
export function zoneLabel(ms = Date.now()) {
  if (time.zone === 'UTC') return 'UTC';
  return parts(ms, { timeZoneName: 'shortOffset' }).timeZoneName;
}

/** 2026-12-05 20:31:07 GMT+1 */
export function fmtTime(ms) {
  if (!ms) return '';
  const p = parts(ms, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: time.zone === 'UTC' ? undefined : 'shortOffset' });
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second} ${time.zone === 'UTC' ? 'UTC' : p.timeZoneName}`;
}

/** A tick label: the time of day for buckets under a day, the date otherwise. */
export function fmtTick(ms, bucket) {
  const p = parts(ms, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
  return bucket < DAY ? `${p.hour}:${p.minute}` : `${p.year}-${p.month}-${p.day}`;
}

/** The date of a tick, when a chart spans several days and the time of day alone is ambiguous. */
export function fmtDay(ms) {
  const p = parts(ms, { month: '2-digit', day: '2-digit' });
  return `${p.month}-${p.day}`;
}

/** 300000 → "5 min" */
export function fmtDuration(ms) {
  if (ms % DAY === 0) return ms === DAY ? 'day' : `${ms / DAY} days`;
  if (ms % HOUR === 0) return ms === HOUR ? 'hour' : `${ms / HOUR} h`;
  return `${Math.round(ms / 60_000)} min`;
}

/** The range asked for: {since, until} in ms, or nulls for "all time" before the store's extent is known. */
export function currentRange(now = Date.now()) {
  if (time.preset === 'custom' && time.custom.since !== null && time.custom.until !== null) return { ...time.custom };
  if (time.preset === 'all') {
    if (time.extent.first === null) return { since: null, until: null };
    // At least an hour, so a burst of a few seconds still draws as a bar among others, not one full-width block.
    return { since: time.extent.first, until: Math.max(time.extent.last ?? now, time.extent.first + HOUR) };
  }
  return { since: now - (PRESETS[time.preset] ?? DAY), until: now };
}

/** Value of a datetime-local input (wall time in the chosen zone) → ms since the epoch. */
export function parseLocalInput(value) {
  if (!value) return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value);
  if (!m) return null;
  const asUtc = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
  if (time.zone === 'UTC') return asUtc;
  // The zone's offset at that moment (from the zone's own formatting of it), applied once more near DST changes.
  let t = asUtc;
  for (let i = 0; i < 2; i++) t = asUtc - offsetAt(t);
  return t;
}

function offsetAt(ms) {
  const p = parts(ms, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) - Math.floor(ms / 1000) * 1000;
}

/** ms → value for a datetime-local input in the chosen zone. */
export function toLocalInput(ms) {
  const p = parts(ms, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}

export function describeRange(r) {
  if (r.since === null) return 'all time';
  if (time.preset in PRESETS) return `the last ${{ '1h': 'hour', '6h': '6 hours', '24h': '24 hours', '7d': '7 days' }[time.preset]}`;
  return `${fmtTime(r.since)} – ${fmtTime(r.until)}`;
}
