// One alert: its fields, triage (acknowledge / close / reopen with a note), its history, top features and events.
// The triage form is static HTML and is not redrawn by the periodic refresh, so a note being typed survives it.
import { api, apiPost } from './api.js';
import { $, SEV, el, fill } from './dom.js';
import { fmtTime } from './time.js';

const TRIAGE = { new: 'new', acknowledged: 'acknowledged', closed: 'closed', reopened: 'reopened (fired again after it was closed)' };
let shown = null;

/** A fan_in alert is named after its target: its src_ip is only the first of many (often spoofed) sources. */
export function alertTitle(a) {
  const what = `${a.class}${a.kind !== 'class' ? ` (${a.kind})` : ''}`;
  if (a.kind === 'fan_in') return `${what} against ${a.dest_ip} from ${a.source_count ?? 0} sources`;
  if (a.kind === 'host_sweep') return `${what} from ${a.src_ip} across ${a.host_count} hosts`;
  return `${what} from ${a.src_ip} against ${a.dest_ip}${a.host_count > 1 ? ` and ${a.host_count - 1} more` : ''}`;
}

/** Times in a history entry's detail (…_seen, …_ts, …_at) are shown like every other time. */
function detailValue(key, v) {
  if (typeof v === 'number' && /(seen|_ts|_at)$/.test(key) && v > 1e12) return fmtTime(v);
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

export const triageLabel = (t) => (t.state === 'new' ? 'new' : `${t.state}${t.actor ? ` by ${t.actor}` : ''}`);

function list(values, count, cap) {
  return `${count}: ${values.slice(0, cap).join(', ')}${values.length > cap ? ' …' : ''}`;
}

export async function showAlert(id) {
  if (shown !== id) {
    $('#triage-form').elements.note.value = '';
    $('#triage-error').textContent = '';
  }
  shown = id;
  const [a, { events }, { history }, { actions }] = await Promise.all([
    api(`/api/alerts/${id}`), api(`/api/alerts/${id}/events?limit=100`), api(`/api/alerts/${id}/history`),
    api(`/api/response/actions?alert=${encodeURIComponent(id)}`).catch(() => ({ actions: [] })),
  ]);
  $('#detail').hidden = false;
  $('#detail').dataset.alert = id;
  $('#detail-title').textContent = alertTitle(a);
  const fields = [
    ['id', a.id], ['severity', SEV[a.severity]], ['kind', a.kind],
    ['activity', a.status === 'open' ? 'active (correlation still adds events)' : 'ended'],
    ['triage', triageLabel(a.triage)], ['events', a.event_count], ['flows', a.flow_count ?? a.event_count],
    ['first seen', fmtTime(a.first_seen)], ['last seen', fmtTime(a.last_seen)], ['received', fmtTime(a.created_at)], ['sensors', a.sensors.join(', ')],
  ];
  if (a.kind === 'fan_in') fields.push(['target', a.dest_ip], ['sources', list(a.sources || [], a.source_count ?? 0, 20)]);
  else fields.push(['source', a.src_ip]);
  fields.push(['destinations', list(a.hosts, a.host_count, 20)], ['ports', list(a.ports, a.port_count, 30)],
    ['max score', a.score_max.toFixed(3)], ['max anomaly', a.anomaly_max.toFixed(2)], ['model', a.model]);
  if (a.merged_into) fields.push(['merged into', a.merged_into]);
  if (a.suppressed_by) fields.push(['suppressed by', `${a.suppressed_by}: not announced (docs/gateway.md, suppressions)`]);
  $('#detail-fields').replaceChildren(...fields.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  $('#triage-state').textContent = `${TRIAGE[a.triage.state] || a.triage.state}${a.triage.ts ? ` · ${fmtTime(a.triage.ts)}` : ''}${a.triage.actor ? ` · ${a.triage.actor}` : ''}`;
  $('#triage-state').className = `triage-${a.triage.state}`;
  for (const b of $('#triage-form').querySelectorAll('button[data-action]')) {
    const to = b.dataset.action;
    b.disabled = (to === 'acknowledge' && a.triage.state === 'acknowledged') || (to === 'close' && a.triage.state === 'closed')
      || (to === 'reopen' && a.triage.state !== 'closed');
  }
  fill($('#detail-history tbody'), history.map((h) => el('tr', { 'data-kind': h.kind },
    el('td', {}, fmtTime(h.ts)), el('td', {}, h.kind), el('td', {}, h.actor), el('td', { class: 'note' }, h.note ?? ''),
    el('td', {}, h.detail ? Object.entries(h.detail).map(([k, v]) => `${k.replace(/_/g, ' ')} ${detailValue(k, v)}`).join(', ') : ''))),
  'nothing yet', 5);

  fill($('#detail-response tbody'), actions.map((r) => el('tr', { 'data-action': r.id, 'data-state': r.state },
    el('td', {}, r.kind.replace(/_/g, ' ')), el('td', {}, r.src), el('td', {}, r.dst ?? ''), el('td', {}, r.sensor), el('td', {}, r.mode),
    el('td', {}, r.state.replace(/_/g, ' ')), el('td', {}, r.until_ms ? fmtTime(r.until_ms) : ''),
    el('td', {}, ...(r.state === 'pending' ? [responseButton(r.id, 'approve', 'Approve')] : r.state === 'active' ? [responseButton(r.id, 'undo', 'Undo')] : [])))),
  'no response action', 8);

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

let refreshPage = async () => {};

/** Approve a pending response action or undo an active one (docs/response.md), then redraw. */
function responseButton(actionId, op, label) {
  const b = el('button', { type: 'button', 'data-op': op }, label);
  b.addEventListener('click', async () => {
    $('#response-error').textContent = '';
    b.disabled = true;
    try {
      await apiPost(`/api/response/actions/${actionId}/${op}`, {});
      await refreshPage();
    } catch (e) {
      $('#response-error').textContent = e.message;
      b.disabled = false;
    }
  });
  return b;
}

/** Wires the triage buttons; `after` refreshes the rest of the page once an action is stored. */
export function initTriage(after) {
  refreshPage = after;
  const form = $('#triage-form');
  form.elements.actor.value = localStorage.getItem('netsensor-actor') || '';
  form.addEventListener('submit', (ev) => ev.preventDefault());
  for (const b of form.querySelectorAll('button[data-action]')) {
    b.addEventListener('click', async () => {
      if (!shown) return;
      const note = form.elements.note.value.trim();
      const actor = form.elements.actor.value.trim();
      localStorage.setItem('netsensor-actor', actor);
      $('#triage-error').textContent = '';
      try {
        await apiPost(`/api/alerts/${shown}/${b.dataset.action}`, { ...(note ? { note } : {}), actor: actor || 'dashboard' });
        form.elements.note.value = '';
        await after();
      } catch (e) {
        $('#triage-error').textContent = e.message;
      }
    });
  }
}
