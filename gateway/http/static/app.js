// netsensor dashboard: plain JS over the gateway's JSON API (same origin). On loopback the API answers
// without a token; otherwise the page asks for one and keeps it in sessionStorage for this tab only.
'use strict';

const SEV = { 1: 'high', 2: 'medium', 3: 'low' };
const state = { cursor: null, filters: {}, selected: null };
const $ = (sel) => document.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c == null ? '' : String(c)));
  return e;
}

const fmtTime = (ms) => (ms ? new Date(ms).toLocaleString() : '');
const sevBadge = (s) => el('span', { class: `sev sev-${s}` }, SEV[s] || s);

class AuthNeeded extends Error {}

async function api(path) {
  const headers = {};
  const token = sessionStorage.getItem('netsensor-token');
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(path, { headers });
  if (r.status === 401 || r.status === 403) throw new AuthNeeded((await r.json().catch(() => ({}))).error?.message || 'token required');
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

/** State-changing requests: JSON body, the token if any, and a custom header a cross-site form cannot send. */
async function apiPost(path, body = {}) {
  const headers = { 'content-type': 'application/json', 'x-netsensor-request': '1' };
  const token = sessionStorage.getItem('netsensor-token');
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body) });
  if (r.status === 401 || r.status === 403) throw new AuthNeeded((await r.json().catch(() => ({}))).error?.message || 'token required');
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

function askToken(message) {
  $('#token-form').hidden = false;
  $('#main').hidden = true;
  $('#token-error').textContent = message || '';
}

function fill(tbody, rows, empty, cols) {
  tbody.replaceChildren();
  if (rows.length === 0) tbody.append(el('tr', {}, el('td', { class: 'empty', colSpan: cols }, empty)));
  for (const r of rows) tbody.append(r);
}

async function loadHealth() {
  const h = await api('/api/health');
  $('#health').textContent = `sensors ${h.sensors.online}/${h.sensors.total} online · open alerts ${h.alerts.open} · events ${h.store.events} · rejected batches ${h.ingest.rejected_total}`;
}

async function loadSensors() {
  const { sensors } = await api('/api/sensors');
  fill($('#sensors tbody'), sensors.map((s) => el('tr', { 'data-sensor': s.id },
    el('td', {}, s.id),
    el('td', { class: `state-${s.state}` }, s.stale && s.state === 'online' ? 'online (quiet)' : s.state),
    el('td', {}, fmtTime(s.last_seen)), el('td', {}, s.model || ''), el('td', {}, s.events), el('td', {}, s.rejected))), 'no sensors yet', 6);
}

async function loadBaselines() {
  const { baselines } = await api('/api/baselines');
  const rows = [];
  for (const b of baselines) {
    const r = await api(`/api/sensors/${encodeURIComponent(b.sensor)}/baseline`);
    const state = r.learning ? `learning until ${fmtTime(r.learn_until_ms)}` : `learned · ${r.suppressed} suppressed`;
    const reset = el('button', { type: 'button', class: 'reset-baseline', 'data-sensor': b.sensor }, 'Reset');
    reset.addEventListener('click', () => {
      if (!confirm(`Forget what ${b.sensor} learned and start learning again?`)) return;
      apiPost(`/api/sensors/${encodeURIComponent(b.sensor)}/baseline/reset`).then(refresh).catch(report);
    });
    if (r.devices.length === 0) rows.push(el('tr', { 'data-sensor': b.sensor }, el('td', {}, b.sensor), el('td', {}, state), el('td', { colSpan: 5 }, 'no device learned yet'), el('td', {}, reset)));
    r.devices.forEach((d, i) => rows.push(el('tr', { 'data-sensor': b.sensor, 'data-device': d.device },
      el('td', {}, i === 0 ? b.sensor : ''), el('td', {}, i === 0 ? state : ''), el('td', {}, d.device), el('td', {}, d.endpoints),
      el('td', {}, d.flows), el('td', {}, d.peers.join(' ')), el('td', {}, d.ports.join(' ')), el('td', {}, i === 0 ? reset : ''))));
  }
  fill($('#baselines tbody'), rows, 'no sensor reports a baseline', 8);
}

const ROLLOUT = { staged: 'first stage', complete: 'complete', halted: 'halted' };

async function loadModels() {
  const m = await api('/api/models');
  fill($('#channels tbody'), m.channels.map((c) => el('tr', { 'data-channel': c.channel },
    el('td', {}, c.channel), el('td', {}, c.model_id), el('td', {}, c.seq),
    el('td', { class: `rollout-${c.rollout.state}`, title: c.rollout.halt_reason || `first stage ${c.rollout.first_stage_percent}%` },
      `${ROLLOUT[c.rollout.state] || c.rollout.state}${c.rollout.state === 'staged' ? ` (${c.rollout.admitted.length} admitted)` : ''}`),
    el('td', {}, c.rollout.applied.length),
    el('td', { title: Object.entries(c.rollout.failed).map(([s, r]) => `${s}: ${r}`).join('\n') }, Object.keys(c.rollout.failed).length))),
  'no model published', 6);
  fill($('#sensor-models tbody'), m.sensors.map((s) => el('tr', { 'data-sensor': s.id },
    el('td', {}, s.id), el('td', {}, s.channel || ''), el('td', {}, s.model_id || 'shipped model'), el('td', {}, s.seq ?? ''),
    el('td', { class: s.state === 'rejected' ? 'error' : '', title: s.message || '' },
      s.state === 'rejected' ? `rejected: ${s.reason}` : s.state || ''))),
  'no sensor follows a channel', 5);
}

async function loadStats() {
  const st = await api('/api/stats');
  const svg = $('#timeline');
  svg.replaceChildren();
  const ns = 'http://www.w3.org/2000/svg';
  const buckets = 24;
  const start = Math.floor(Date.now() / st.bucket) * st.bucket - (buckets - 1) * st.bucket;
  const per = new Map();
  for (const t of st.timeline) {
    const i = Math.round((t.t - start) / st.bucket);
    if (i < 0 || i >= buckets) continue;
    const b = per.get(i) || { 1: 0, 2: 0, 3: 0 };
    b[t.severity] += t.n;
    per.set(i, b);
  }
  let max = 1;
  for (const b of per.values()) max = Math.max(max, b[1] + b[2] + b[3]);
  const w = 720 / buckets;
  for (let i = 0; i < buckets; i++) {
    const b = per.get(i) || { 1: 0, 2: 0, 3: 0 };
    let y = 108;
    for (const s of [3, 2, 1]) {
      if (!b[s]) continue;
      const h = (b[s] / max) * 95;
      y -= h;
      const r = document.createElementNS(ns, 'rect');
      r.setAttribute('x', String(i * w + 2)); r.setAttribute('y', String(y));
      r.setAttribute('width', String(w - 4)); r.setAttribute('height', String(h));
      r.setAttribute('class', `bar-${s}`);
      const title = document.createElementNS(ns, 'title');
      title.textContent = `${new Date(start + i * st.bucket).toLocaleTimeString()}: ${b[s]} ${SEV[s]}`;
      r.append(title);
      svg.append(r);
    }
    if (i % 4 === 0) {
      const t = document.createElementNS(ns, 'text');
      t.setAttribute('x', String(i * w + 2)); t.setAttribute('y', '119');
      t.textContent = new Date(start + i * st.bucket).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
      svg.append(t);
    }
  }
  fill($('#sources tbody'), st.top_sources.map((s) => {
    const a = el('a', { href: '#' }, s.src_ip);
    a.addEventListener('click', (ev) => { ev.preventDefault(); $('#filters').elements.src_ip.value = s.src_ip; applyFilters(); });
    return el('tr', {}, el('td', {}, a), el('td', {}, s.alerts), el('td', {}, s.events), el('td', {}, sevBadge(s.severity)));
  }), 'no alerts yet', 4);
}

function alertRow(a) {
  const tr = el('tr', { 'data-alert': a.id },
    el('td', {}, sevBadge(a.severity)), el('td', {}, a.class), el('td', {}, a.kind), el('td', {}, a.src_ip),
    el('td', {}, a.host_count), el('td', {}, a.event_count), el('td', {}, a.sensors.join(', ')),
    el('td', {}, fmtTime(a.last_seen)), el('td', {}, a.status));
  if (a.id === state.selected) tr.classList.add('selected');
  tr.addEventListener('click', () => showAlert(a.id));
  return tr;
}

function query(extra = {}) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...state.filters, ...extra })) if (v) p.set(k, v);
  return p.toString();
}

async function loadAlerts() {
  const { alerts, next_cursor } = await api(`/api/alerts?${query({ limit: '50' })}`);
  fill($('#alerts tbody'), alerts.map(alertRow), 'no matching alerts', 9);
  state.cursor = next_cursor;
  $('#more').hidden = !next_cursor;
}

async function moreAlerts() {
  if (!state.cursor) return;
  const { alerts, next_cursor } = await api(`/api/alerts?${query({ limit: '50', cursor: state.cursor })}`);
  for (const a of alerts) $('#alerts tbody').append(alertRow(a));
  state.cursor = next_cursor;
  $('#more').hidden = !next_cursor;
}

async function showAlert(id) {
  state.selected = id;
  for (const tr of document.querySelectorAll('#alerts tbody tr')) tr.classList.toggle('selected', tr.dataset.alert === id);
  const [a, { events }] = await Promise.all([api(`/api/alerts/${id}`), api(`/api/alerts/${id}/events?limit=100`)]);
  $('#detail').hidden = false;
  $("#detail-title").textContent = `${a.class}${a.kind !== "class" ? ` (${a.kind})` : ""} from ${a.src_ip}`;
  const fields = [
    ['id', a.id], ['severity', SEV[a.severity]], ['kind', a.kind], ['status', a.status], ['events', a.event_count],
    ['first seen', fmtTime(a.first_seen)], ['last seen', fmtTime(a.last_seen)], ['sensors', a.sensors.join(', ')],
    ['hosts', `${a.host_count}: ${a.hosts.slice(0, 20).join(', ')}${a.hosts.length > 20 ? ' …' : ''}`],
    ['ports', `${a.port_count}: ${a.ports.slice(0, 30).join(', ')}${a.ports.length > 30 ? ' …' : ''}`],
    ['max score', a.score_max.toFixed(3)], ['max anomaly', a.anomaly_max.toFixed(2)], ['model', a.model],
  ];
  $('#detail-fields').replaceChildren(...fields.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  const max = Math.max(1e-9, ...a.top.map((t) => t[1]));
  $('#detail-top').replaceChildren(...(a.top.length ? a.top.map(([name, v]) => {
    const bar = el('span', { class: 'bar' });
    bar.style.width = `${Math.max(2, (v / max) * 300)}px`;
    return el('div', {}, el('span', { class: 'name' }, name), bar, el('span', {}, v.toFixed(3)));
  }) : [el('span', { class: 'empty' }, 'no feature contributions reported')]));
  fill($('#detail-events tbody'), events.map((e) => el('tr', {},
    el('td', {}, fmtTime(e.flow.last_seen_ms)), el('td', {}, e.sensor),
    el('td', {}, `${e.flow.src_ip}:${e.flow.src_port} → ${e.flow.dst_ip}:${e.flow.dst_port}/${e.flow.proto}`),
    el('td', {}, e.class), el('td', {}, e.score.toFixed(3)), el('td', {}, e.anomaly.toFixed(2)),
    el('td', {}, e.top.slice(0, 3).map((t) => `${t[0]} ${t[1].toFixed(2)}`).join(', ')))), 'no events', 7);
}

function applyFilters() {
  const f = new FormData($('#filters'));
  state.filters = {};
  for (const [k, v] of f.entries()) if (String(v).trim()) state.filters[k] = String(v).trim();
  loadAlerts().catch(report);
}

function report(e) {
  if (e instanceof AuthNeeded) askToken(sessionStorage.getItem('netsensor-token') ? 'token rejected' : e.message);
  else $('#health').textContent = `error: ${e.message}`;
}

async function refresh() {
  try {
    await Promise.all([loadHealth(), loadSensors(), loadModels(), loadStats(), loadAlerts(), loadBaselines()]);
    if (state.selected) await showAlert(state.selected);
  } catch (e) { report(e); }
}

document.addEventListener('DOMContentLoaded', () => {
  $('#filters').addEventListener('submit', (ev) => { ev.preventDefault(); applyFilters(); });
  $('#filters').addEventListener('reset', () => setTimeout(applyFilters, 0));
  $('#more').addEventListener('click', () => moreAlerts().catch(report));
  $('#token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessionStorage.setItem('netsensor-token', $('#token').value.trim());
    $('#token-form').hidden = true;
    $('#main').hidden = false;
    refresh();
  });
  refresh();
  setInterval(() => { if (!$('#main').hidden) refresh(); }, 5000);
});
