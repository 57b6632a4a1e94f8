// netsensor dashboard: plain JS modules over the gateway's JSON API (same origin), refreshed every 5 s.
// One time range and zone for every panel (time.js); `#sensor=<id>` narrows the page to one sensor.
import { AuthNeeded, api, apiPost } from './api.js';
import { alertTitle, initTriage, showAlert, triageLabel } from './alert-detail.js';
import { renderTimeline } from './chart.js';
import { $, el, fill, sevBadge } from './dom.js';
import { currentRange, describeRange, fmtTime, localZone, parseLocalInput, setZone, time, toLocalInput, zoneLabel } from './time.js';

const state = { cursor: null, filters: {}, selected: null, sensors: [] };
const ACTIVITY = { open: 'active', closed: 'ended' };

function askToken(message) {
  $('#token-form').hidden = false;
  $('#main').hidden = true;
  $('#token-error').textContent = message || '';
}

/** The sensor the page is narrowed to (`#sensor=<id>`), if any. */
function viewSensor() {
  const m = /^#sensor=(.+)$/.exec(location.hash);
  return m ? decodeURIComponent(m[1]) : undefined;
}

async function loadHealth() {
  const h = await api('/api/health');
  $('#health').textContent = `sensors ${h.sensors.online}/${h.sensors.total} online · open alerts ${h.alerts.open} · events ${h.store.events} · rejected batches ${h.ingest.rejected_total}`;
}

async function loadSensors() {
  const { sensors } = await api('/api/sensors');
  state.sensors = sensors;
  fill($('#sensors tbody'), sensors.map((s) => el('tr', { 'data-sensor': s.id, class: s.id === viewSensor() ? 'selected' : '' },
    el('td', {}, el('a', { href: `#sensor=${encodeURIComponent(s.id)}`, title: `only ${s.id}` }, s.id)),
    el('td', { class: `state-${s.state}` }, s.stale && s.state === 'online' ? 'online (quiet)' : s.state),
    el('td', {}, fmtTime(s.last_seen)), el('td', {}, s.model || ''), el('td', {}, s.events), el('td', {}, s.rejected))), 'no sensors yet', 6);
  renderSensorView();
}

/** The per-sensor view: the sensor's own record above the page, which every panel below now filters by. */
function renderSensorView() {
  const id = viewSensor();
  $('#sensor-view').hidden = !id;
  for (const e of document.querySelectorAll('.sensor-scope')) e.textContent = id ? ` · sensor ${id}` : '';
  if (!id) return;
  const s = state.sensors.find((x) => x.id === id);
  $('#sensor-view-title').textContent = id;
  const counters = s ? Object.entries(s.counters || {}).filter(([, v]) => typeof v === 'number') : [];
  const fields = s ? [
    ['state', s.stale && s.state === 'online' ? 'online (quiet)' : s.state], ['last seen', fmtTime(s.last_seen)], ['first seen', fmtTime(s.first_seen)],
    ['model', s.model || ''], ['events stored', s.events], ['batches rejected', s.rejected],
    ...counters.map(([k, v]) => [k.replace(/_/g, ' '), v]),
  ] : [['state', 'not known to this gateway']];
  $('#sensor-view-fields').replaceChildren(...fields.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

async function loadBaselines() {
  const { baselines } = await api('/api/baselines');
  const rows = [];
  for (const b of baselines) {
    const r = await api(`/api/sensors/${encodeURIComponent(b.sensor)}/baseline`);
    const learn = r.learning ? `learning until ${fmtTime(r.learn_until_ms)}` : `learned · ${r.suppressed} suppressed`;
    const reset = el('button', { type: 'button', class: 'reset-baseline', 'data-sensor': b.sensor }, 'Reset');
    reset.addEventListener('click', () => {
      if (!confirm(`Forget what ${b.sensor} learned and start learning again?`)) return;
      apiPost(`/api/sensors/${encodeURIComponent(b.sensor)}/baseline/reset`).then(refresh).catch(report);
    });
    if (r.devices.length === 0) rows.push(el('tr', { 'data-sensor': b.sensor }, el('td', {}, b.sensor), el('td', {}, learn), el('td', { colSpan: 5 }, 'no device learned yet'), el('td', {}, reset)));
    r.devices.forEach((d, i) => rows.push(el('tr', { 'data-sensor': b.sensor, 'data-device': d.device },
      el('td', {}, i === 0 ? b.sensor : ''), el('td', {}, i === 0 ? learn : ''), el('td', {}, d.device), el('td', {}, d.endpoints),
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

function rangeQuery(r) {
  const p = new URLSearchParams();
  if (r.since !== null) { p.set('since', String(Math.floor(r.since))); p.set('until', String(Math.ceil(r.until))); }
  if (viewSensor()) p.set('sensor', viewSensor());
  return p;
}

/** A link that filters the alert list by one field. */
function filterLink(name, value, label = value) {
  const a = el('a', { href: '#', class: 'filter-link' }, label);
  a.addEventListener('click', (ev) => { ev.preventDefault(); $('#filters').elements[name].value = value; applyFilters(); });
  return a;
}

// A page opened on a store whose alerts all lie before the last 24 h (a replayed capture, a quiet week) starts on
// "all time" rather than on an empty page; a range the user picks is kept as picked.
let firstStats = true;

async function loadStats() {
  if (time.preset === 'all') {
    // "All time" spans the alerts of the current scope (all sensors or one): ask for that extent first.
    const first = await api(`/api/stats?${rangeQuery({ since: null }).toString()}`);
    time.extent = { first: first.alerts.first_seen, last: first.alerts.last_seen };
  }
  let range = currentRange();
  if (range.since === null) range = { since: Date.now() - 86_400_000, until: Date.now() };
  const st = await api(`/api/stats?${rangeQuery(range).toString()}`);
  if (firstStats) {
    firstStats = false;
    if (time.preset === '24h' && !viewSensor() && st.alerts.in_range === 0 && st.alerts.total > 0) { setPreset('all'); return; }
  }
  $('#range-label').textContent = `${describeRange(range)} · flow time (when a sensor saw the traffic) · times in ${time.zone === 'UTC' ? 'UTC' : `${localZone} (${zoneLabel()})`}`;
  renderTimeline($('#timeline'), st, range);
  const outside = st.alerts.total - st.alerts.in_range;
  const note = $('#range-note');
  note.hidden = st.alerts.in_range > 0 || outside === 0;
  note.replaceChildren(`No alerts were active in ${describeRange(range)}; ${outside} ${outside === 1 ? 'is' : 'are'} outside it (first ${fmtTime(st.alerts.first_seen)}, last ${fmtTime(st.alerts.last_seen)}). `,
    el('a', { href: '#', id: 'show-all' }, 'Show all time'));
  $('#show-all').addEventListener('click', (ev) => { ev.preventDefault(); setPreset('all'); });
  const empty = outside > 0 ? `no alerts in this range (${outside} outside it)` : 'no alerts yet';
  fill($('#sources tbody'), st.top_sources.map((s) => el('tr', {},
    el('td', {}, filterLink('src_ip', s.src_ip)), el('td', {}, s.alerts), el('td', {}, s.events), el('td', {}, sevBadge(s.severity)))), empty, 4);
  fill($('#destinations tbody'), st.top_destinations.map((d) => el('tr', {},
    el('td', {}, filterLink('dest_ip', d.dest_ip)), el('td', {}, d.alerts), el('td', {}, d.events), el('td', {}, sevBadge(d.severity)))), empty, 4);
}

function destination(a) {
  if (a.kind === 'host_sweep') return `${a.host_count} hosts`;
  return `${a.dest_ip}${a.host_count > 1 ? ` (+${a.host_count - 1})` : ''}`;
}

function alertRow(a) {
  const tr = el('tr', { 'data-alert': a.id, title: alertTitle(a), class: a.merged_into ? 'merged' : a.suppressed_by ? 'suppressed' : '' },
    el('td', {}, sevBadge(a.severity)), el('td', {}, a.class), el('td', {}, a.kind),
    el('td', {}, a.kind === 'fan_in' ? `${a.source_count ?? 0} sources` : a.src_ip), el('td', { class: 'dest' }, destination(a)),
    el('td', {}, a.event_count), el('td', {}, a.sensors.join(', ')), el('td', {}, fmtTime(a.last_seen)),
    el('td', {}, a.merged_into ? 'merged' : a.suppressed_by ? `suppressed (${a.suppressed_by})` : ACTIVITY[a.status] || a.status),
    el('td', { class: `triage-${a.triage.state}` }, triageLabel(a.triage)));
  if (a.id === state.selected) tr.classList.add('selected');
  tr.addEventListener('click', () => select(a.id));
  return tr;
}

function alertQuery(extra = {}) {
  const p = rangeQuery(currentRange());
  if (time.preset === 'all') { p.delete('since'); p.delete('until'); }
  for (const [k, v] of Object.entries({ ...state.filters, ...extra })) if (v) p.set(k, v);
  if (!p.has('merged')) p.set('merged', 'false');
  else p.delete('merged');
  return p.toString();
}

async function loadAlerts() {
  const { alerts, next_cursor } = await api(`/api/alerts?${alertQuery({ limit: '50' })}`);
  fill($('#alerts tbody'), alerts.map(alertRow), 'no matching alerts', 10);
  state.cursor = next_cursor;
  $('#more').hidden = !next_cursor;
}

async function moreAlerts() {
  if (!state.cursor) return;
  const { alerts, next_cursor } = await api(`/api/alerts?${alertQuery({ limit: '50', cursor: state.cursor })}`);
  for (const a of alerts) $('#alerts tbody').append(alertRow(a));
  state.cursor = next_cursor;
  $('#more').hidden = !next_cursor;
}

async function select(id) {
  state.selected = id;
  for (const tr of document.querySelectorAll('#alerts tbody tr')) tr.classList.toggle('selected', tr.dataset.alert === id);
  await showAlert(id).catch(report);
}

function applyFilters() {
  const f = new FormData($('#filters'));
  state.filters = {};
  for (const [k, v] of f.entries()) if (String(v).trim()) state.filters[k] = String(v).trim();
  // The sensor filter and the per-sensor view are one thing.
  const sensor = state.filters.sensor;
  delete state.filters.sensor;
  const hash = sensor ? `#sensor=${encodeURIComponent(sensor)}` : '';
  if (hash !== location.hash) { history.replaceState(null, '', hash || location.pathname); onSensorChange(); return; }
  loadAlerts().catch(report);
}

function onSensorChange() {
  $('#filters').elements.sensor.value = viewSensor() ?? '';
  renderSensorView();
  refresh();
}

function setPreset(preset) {
  time.preset = preset;
  $('#range').value = preset;
  $('#custom-range').hidden = preset !== 'custom';
  if (preset === 'custom') {
    const r = currentRange();
    if (r.since !== null) { $('#from').value = toLocalInput(r.since); $('#to').value = toLocalInput(r.until); }
    return;
  }
  refresh();
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

function init() {
  $('#zone').replaceChildren(el('option', { value: 'local' }, `local (${localZone})`), el('option', { value: 'UTC' }, 'UTC'));
  $('#zone').value = time.zone === 'UTC' ? 'UTC' : 'local';
  $('#zone').addEventListener('change', () => { setZone($('#zone').value); refresh(); });
  $('#range').addEventListener('change', () => setPreset($('#range').value));
  $('#custom-range').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const since = parseLocalInput($('#from').value);
    const until = parseLocalInput($('#to').value);
    if (since === null || until === null || since >= until) { $('#range-error').textContent = 'give a start before the end'; return; }
    $('#range-error').textContent = '';
    time.custom = { since, until };
    refresh();
  });
  $('#filters').elements.sensor.value = viewSensor() ?? '';
  $('#filters').addEventListener('submit', (ev) => { ev.preventDefault(); applyFilters(); });
  $('#filters').addEventListener('reset', () => setTimeout(applyFilters, 0));
  $('#filters').elements.merged.addEventListener('change', applyFilters);
  $('#filters').elements.triage.addEventListener('change', applyFilters);
  $('#more').addEventListener('click', () => moreAlerts().catch(report));
  window.addEventListener('hashchange', onSensorChange);
  initTriage(refresh);
  $('#token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessionStorage.setItem('netsensor-token', $('#token').value.trim());
    $('#token-form').hidden = true;
    $('#main').hidden = false;
    refresh();
  });
  refresh();
  setInterval(() => { if (!$('#main').hidden) refresh(); }, 5000);
}

init();
