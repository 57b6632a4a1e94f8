// Small DOM helpers shared by the dashboard's modules.
export const SEV = { 1: 'high', 2: 'medium', 3: 'low' };
export const $ = (sel) => document.querySelector(sel);

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c == null ? '' : String(c)));
  return e;
}

export function fill(tbody, rows, empty, cols) {
  tbody.replaceChildren();
  if (rows.length === 0) tbody.append(el('tr', {}, el('td', { class: 'empty', colSpan: cols }, empty)));
  for (const r of rows) tbody.append(r);
}

export const sevBadge = (s) => el('span', { class: `sev sev-${s}` }, SEV[s] || s);
