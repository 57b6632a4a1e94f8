// The alert timeline: stacked bars per severity, drawn at the SVG's real pixel size (no stretching, so text
// stays legible), with a labelled y axis (alerts per bucket), time ticks in the chosen zone, and a legend.
import { fmtDay, fmtDuration, fmtTick, fmtTime, zoneLabel } from './time.js';

const NS = 'http://www.w3.org/2000/svg';
const SEV = { 1: 'high', 2: 'medium', 3: 'low' };
const M = { left: 46, right: 12, top: 22, bottom: 40 };
const HEIGHT = 190;

function node(tag, attrs = {}, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Integer ticks 0…≥max with a 1/2/5 step, at most 5 of them. */
function yTicks(max) {
  const raw = Math.max(1, max) / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw));
  const top = Math.ceil(Math.max(1, max) / step) * step;
  const ticks = [];
  for (let v = 0; v <= top; v += step) ticks.push(v);
  return ticks;
}

/** `st`: /api/stats; `range`: {since, until}. */
export function renderTimeline(svg, st, range) {
  const width = Math.max(320, Math.round(svg.clientWidth || svg.parentElement.clientWidth || 720));
  svg.setAttribute('viewBox', `0 0 ${width} ${HEIGHT}`);
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(HEIGHT));
  svg.replaceChildren();
  const bucket = st.bucket;
  const start = Math.floor(range.since / bucket) * bucket;
  const n = Math.max(1, Math.ceil((range.until - start) / bucket));
  const per = new Map();
  for (const t of st.timeline) {
    const i = Math.round((t.t - start) / bucket);
    if (i < 0 || i >= n) continue;
    const b = per.get(i) || { 1: 0, 2: 0, 3: 0 };
    b[t.severity] += t.n;
    per.set(i, b);
  }
  let max = 0;
  for (const b of per.values()) max = Math.max(max, b[1] + b[2] + b[3]);
  const ticks = yTicks(max);
  const top = ticks[ticks.length - 1];
  const plotW = width - M.left - M.right;
  const plotH = HEIGHT - M.top - M.bottom;
  const y = (v) => M.top + plotH - (v / top) * plotH;
  const w = plotW / n;

  for (const v of ticks) {
    svg.append(node('line', { x1: M.left, x2: width - M.right, y1: y(v), y2: y(v), class: v === 0 ? 'axis' : 'grid' }));
    svg.append(node('text', { x: M.left - 6, y: y(v) + 4, class: 'tick', 'text-anchor': 'end' }, String(v)));
  }
  svg.append(node('text', { x: 12, y: M.top + plotH / 2, class: 'axis-label', 'text-anchor': 'middle', transform: `rotate(-90 12 ${M.top + plotH / 2})` },
    `alerts / ${fmtDuration(bucket)}`));

  for (const [i, b] of per) {
    let base = 0;
    for (const s of [3, 2, 1]) {
      if (!b[s]) continue;
      const r = node('rect', { x: M.left + i * w + 1, y: y(base + b[s]), width: Math.max(1, w - 2), height: y(base) - y(base + b[s]), class: `bar-${s}` });
      r.append(node('title', {}, `${fmtTime(start + i * bucket)}: ${b[s]} ${SEV[s]}`));
      svg.append(r);
      base += b[s];
    }
  }

  // Time ticks at least 80 px apart; the date under the first tick and wherever the day changes.
  const every = Math.max(1, Math.ceil(80 / w));
  let lastDay = '';
  for (let i = 0; i <= n; i += every) {
    const t = start + i * bucket;
    const x = M.left + i * w;
    svg.append(node('line', { x1: x, x2: x, y1: M.top + plotH, y2: M.top + plotH + 4, class: 'axis' }));
    const anchor = x > width - M.right - 24 ? 'end' : 'middle';
    svg.append(node('text', { x, y: M.top + plotH + 16, class: 'tick', 'text-anchor': anchor }, fmtTick(t, bucket)));
    const day = fmtDay(t);
    if (bucket < 86_400_000 && day !== lastDay) svg.append(node('text', { x, y: M.top + plotH + 28, class: 'tick day', 'text-anchor': anchor }, day));
    lastDay = day;
  }
  svg.append(node('text', { x: width - M.right, y: HEIGHT - 2, class: 'axis-label', 'text-anchor': 'end' }, `first seen (flow time, ${zoneLabel(range.until)})`));

  let lx = M.left;
  for (const s of [1, 2, 3]) {
    svg.append(node('rect', { x: lx, y: 6, width: 10, height: 10, class: `legend-${s}` }));
    svg.append(node('text', { x: lx + 14, y: 15, class: 'tick' }, SEV[s]));
    lx += 70;
  }
  if (max === 0) svg.append(node('text', { x: M.left + plotW / 2, y: M.top + plotH / 2, class: 'empty-chart', 'text-anchor': 'middle' }, 'no alerts began in this range'));
}
