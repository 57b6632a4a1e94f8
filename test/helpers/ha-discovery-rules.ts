/**
 * Home Assistant's MQTT discovery rules, as its documentation states them, for checking what the gateway
 * announces. `checkDiscovery` returns every broken rule (empty: valid):
 * - topic `<prefix>/<component>/[<node_id>/]<object_id>/config`, ids of [a-zA-Z0-9_-];
 * - keys expanded from their abbreviations (a key given both abbreviated and in full is an error), and every key
 *   one the component knows (HA refuses a config with an unknown key);
 * - `unique_id` present (needed for a device) and unique across configs;
 * - `device`: `identifiers` or `connections`, known device keys, `configuration_url` an http(s) or
 *   homeassistant:// URL;
 * - `origin`: `name` required, known origin keys;
 * - `availability`: a list of objects with `topic` (no wildcards), never together with `availability_topic`;
 *   `availability_mode` all | any | latest;
 * - topics without wildcards; the component's own rules (device/state classes, event `event_types`).
 */
export const ABBREVIATIONS: Record<string, string> = {
  avty: 'availability', avty_mode: 'availability_mode', avty_t: 'availability_topic', avty_tpl: 'availability_template',
  dev: 'device', dev_cla: 'device_class', en: 'enabled_by_default', ent_cat: 'entity_category', ent_pic: 'entity_picture',
  evt_typ: 'event_types', exp_aft: 'expire_after', frc_upd: 'force_update', ic: 'icon', json_attr_t: 'json_attributes_topic',
  json_attr_tpl: 'json_attributes_template', o: 'origin', obj_id: 'object_id', off_dly: 'off_delay', pl_avail: 'payload_available',
  pl_not_avail: 'payload_not_available', pl_on: 'payload_on', pl_off: 'payload_off', stat_cla: 'state_class', stat_t: 'state_topic',
  uniq_id: 'unique_id', unit_of_meas: 'unit_of_measurement', val_tpl: 'value_template', sug_dsp_prc: 'suggested_display_precision',
  enc: 'encoding', t: 'topic', def_ent_id: 'default_entity_id',
};
export const DEVICE_ABBREVIATIONS: Record<string, string> = {
  cns: 'connections', ids: 'identifiers', mf: 'manufacturer', mdl: 'model', mdl_id: 'model_id', hw: 'hw_version',
  sw: 'sw_version', sa: 'suggested_area', cu: 'configuration_url', sn: 'serial_number',
};
export const ORIGIN_ABBREVIATIONS: Record<string, string> = { sw: 'sw_version', url: 'support_url' };

const ENTITY_KEYS = ['availability', 'availability_mode', 'availability_template', 'availability_topic', 'payload_available',
  'payload_not_available', 'device', 'enabled_by_default', 'encoding', 'entity_category', 'entity_picture', 'icon',
  'json_attributes_template', 'json_attributes_topic', 'name', 'object_id', 'default_entity_id', 'origin', 'qos', 'unique_id'];
const COMPONENT_KEYS: Record<string, string[]> = {
  binary_sensor: ['device_class', 'expire_after', 'force_update', 'off_delay', 'payload_off', 'payload_on', 'state_topic', 'value_template'],
  sensor: ['device_class', 'expire_after', 'force_update', 'last_reset_value_template', 'options', 'state_class', 'state_topic',
    'suggested_display_precision', 'unit_of_measurement', 'value_template'],
  event: ['device_class', 'event_types', 'state_topic', 'value_template'],
};
const DEVICE_KEYS = ['connections', 'identifiers', 'manufacturer', 'model', 'model_id', 'hw_version', 'sw_version', 'suggested_area',
  'configuration_url', 'serial_number', 'via_device', 'name'];
const ORIGIN_KEYS = ['name', 'sw_version', 'support_url'];
const BINARY_SENSOR_CLASSES = ['battery', 'battery_charging', 'carbon_monoxide', 'cold', 'connectivity', 'door', 'garage_door', 'gas',
  'heat', 'light', 'lock', 'moisture', 'motion', 'moving', 'occupancy', 'opening', 'plug', 'power', 'presence', 'problem', 'running',
  'safety', 'smoke', 'sound', 'tamper', 'update', 'vibration', 'window'];
const STATE_CLASSES = ['measurement', 'measurement_angle', 'total', 'total_increasing'];
const EVENT_CLASSES = ['button', 'doorbell', 'motion'];
const ID = /^[a-zA-Z0-9_-]+$/;

function expand(obj: Record<string, unknown>, table: Record<string, string>, where: string, errors: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const full = table[k] ?? k;
    if (full in out) errors.push(`${where}: '${full}' given twice (abbreviated and in full)`);
    out[full] = v;
  }
  return out;
}

const isTopic = (t: unknown) => typeof t === 'string' && t.length > 0 && !/[+#]/.test(t);

export function checkDiscovery(topic: string, raw: Record<string, unknown>, prefix = 'homeassistant'): string[] {
  const errors: string[] = [];
  const parts = topic.split('/');
  const component = parts[1];
  if (parts[0] !== prefix || parts.at(-1) !== 'config' || !(parts.length === 4 || parts.length === 5) || !parts.slice(2, -1).every((p) => ID.test(p))) {
    errors.push(`${topic}: not <prefix>/<component>/[<node_id>/]<object_id>/config`);
  }
  const allowed = COMPONENT_KEYS[component];
  if (!allowed) return [...errors, `${topic}: component '${component}' not covered by these rules`];
  const p = expand(raw, ABBREVIATIONS, topic, errors);
  for (const k of Object.keys(p)) if (!ENTITY_KEYS.includes(k) && !allowed.includes(k)) errors.push(`${topic}: unknown key '${k}'`);
  if (typeof p.unique_id !== 'string' || p.unique_id === '') errors.push(`${topic}: unique_id missing`);
  if (p.state_topic !== undefined && !isTopic(p.state_topic)) errors.push(`${topic}: state_topic is not a topic`);
  if (p.availability_topic !== undefined && !isTopic(p.availability_topic)) errors.push(`${topic}: availability_topic is not a topic`);

  if (p.availability !== undefined) {
    if (p.availability_topic !== undefined) errors.push(`${topic}: availability and availability_topic together`);
    if (!Array.isArray(p.availability) || p.availability.length === 0) errors.push(`${topic}: availability must be a non-empty list`);
    else for (const [i, a] of p.availability.entries()) {
      if (typeof a !== 'object' || a === null) { errors.push(`${topic}: availability[${i}] not an object`); continue; }
      const e = expand(a as Record<string, unknown>, ABBREVIATIONS, `${topic} availability[${i}]`, errors);
      for (const k of Object.keys(e)) if (!['topic', 'payload_available', 'payload_not_available', 'value_template'].includes(k)) errors.push(`${topic}: availability[${i}] unknown key '${k}'`);
      if (!isTopic(e.topic)) errors.push(`${topic}: availability[${i}].topic missing or a wildcard`);
    }
  }
  if (p.availability_mode !== undefined && !['all', 'any', 'latest'].includes(p.availability_mode as string)) errors.push(`${topic}: availability_mode ${p.availability_mode}`);

  if (p.device !== undefined) {
    const d = expand(p.device as Record<string, unknown>, DEVICE_ABBREVIATIONS, `${topic} device`, errors);
    for (const k of Object.keys(d)) if (!DEVICE_KEYS.includes(k)) errors.push(`${topic}: device has unknown key '${k}'`);
    const ids = d.identifiers;
    const hasIds = (typeof ids === 'string' && ids !== '') || (Array.isArray(ids) && ids.length > 0 && ids.every((x) => typeof x === 'string' && x !== ''));
    if (!hasIds && !(Array.isArray(d.connections) && d.connections.length > 0)) errors.push(`${topic}: device needs identifiers or connections`);
    if (d.configuration_url !== undefined) {
      const u = URL.canParse(String(d.configuration_url)) ? new URL(String(d.configuration_url)) : undefined;
      if (!u || !['http:', 'https:', 'homeassistant:'].includes(u.protocol)) errors.push(`${topic}: configuration_url ${d.configuration_url} is not an http(s) or homeassistant:// URL`);
    }
    for (const k of ['name', 'manufacturer', 'model', 'sw_version', 'via_device']) if (d[k] !== undefined && typeof d[k] !== 'string') errors.push(`${topic}: device.${k} not a string`);
  }
  if (p.origin !== undefined) {
    const o = expand(p.origin as Record<string, unknown>, ORIGIN_ABBREVIATIONS, `${topic} origin`, errors);
    for (const k of Object.keys(o)) if (!ORIGIN_KEYS.includes(k)) errors.push(`${topic}: origin has unknown key '${k}'`);
    if (typeof o.name !== 'string' || o.name === '') errors.push(`${topic}: origin.name required`);
  }

  if (component === 'binary_sensor') {
    if (!isTopic(p.state_topic)) errors.push(`${topic}: state_topic required`);
    if (p.device_class !== undefined && !BINARY_SENSOR_CLASSES.includes(p.device_class as string)) errors.push(`${topic}: binary_sensor device_class ${p.device_class}`);
  }
  if (component === 'sensor') {
    if (!isTopic(p.state_topic)) errors.push(`${topic}: state_topic required`);
    if (p.state_class !== undefined && !STATE_CLASSES.includes(p.state_class as string)) errors.push(`${topic}: state_class ${p.state_class}`);
  }
  if (component === 'event') {
    if (!isTopic(p.state_topic)) errors.push(`${topic}: state_topic required`);
    const types = p.event_types;
    if (!Array.isArray(types) || types.length === 0 || !types.every((t) => typeof t === 'string' && t !== '') || new Set(types).size !== types.length) {
      errors.push(`${topic}: event_types must be a non-empty list of distinct strings`);
    }
    if (p.device_class !== undefined && !EVENT_CLASSES.includes(p.device_class as string)) errors.push(`${topic}: event device_class ${p.device_class}`);
  }
  return errors;
}

/**
 * What Home Assistant shows for an entity given the last payload on each availability topic (undefined: none
 * yet). Templates of the form `{{ value_json.<key> }}` only; anything else is refused.
 */
export function isAvailable(config: Record<string, unknown>, last: Map<string, string>): boolean {
  const list = (config.availability as Array<Record<string, string>> | undefined) ?? [];
  const each = list.map((a) => {
    const payload = last.get(a.topic);
    if (payload === undefined) return undefined;
    let value = payload;
    if (a.value_template !== undefined) {
      const m = /^\{\{ value_json\.([a-z_]+) \}\}$/.exec(a.value_template);
      if (!m) throw new Error(`template ${a.value_template} not supported by this check`);
      try { value = String(JSON.parse(payload)[m[1]]); } catch { return undefined; }
    }
    if (value === (a.payload_available ?? 'online')) return true;
    if (value === (a.payload_not_available ?? 'offline')) return false;
    return undefined;
  });
  const mode = (config.availability_mode as string | undefined) ?? 'latest';
  if (mode === 'all') return each.every((x) => x === true);
  if (mode === 'any') return each.some((x) => x === true);
  throw new Error('mode latest depends on arrival order; not used by netsensor');
}
