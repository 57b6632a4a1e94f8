/**
 * One settings system for every service: a table of settings (dotted path, type, bounds, help, flag) over one
 * `defaults` object, merged from defaults < JSON file < environment < flags (then programmatic overrides) and
 * validated once at start-up.
 *
 * Every setting has a path in the file (`outbox.maxRows`), an environment variable derived from it
 * (`<prefix>OUTBOX_MAX_ROWS`; older names a service shipped stay readable as aliases) and, where the service
 * gives it one, a flag. A key no setting knows — at any depth, in the file or the overrides — is refused: a typo
 * must not silently fall back to a default. Anything wrong is one NetsensorError('ERR_CONFIG') naming the
 * setting, where the value came from and what was received (never a secret); the CLI prints it and exits 2.
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { NetsensorError } from './errors.js';

export type SettingKind = 'string' | 'file' | 'int' | 'number' | 'bool' | 'enum' | 'mqtt-version' | 'list' | 'json';

export interface FlagSpec {
  /** Without dashes. */
  name: string;
  /** A switch: present, it sets this value (`--homeassistant` → true). */
  sets?: boolean;
  /** The flag takes the setting in a larger unit: value = flag × scale (`--window-s` → ms). */
  scale?: number;
}

export interface Setting {
  path: string;
  kind: SettingKind;
  help: string;
  /** Flag name (without dashes) or spec; none: file and environment only. */
  flag?: string | FlagSpec;
  /** Environment names the service read before the derived one; still honoured. */
  envAliases?: readonly string[];
  min?: number;
  max?: number;
  /** `min` itself is not allowed (a positive number). */
  exclusiveMin?: boolean;
  minLength?: number;
  values?: readonly string[];
  pattern?: RegExp;
  /** The string must parse as a URL (WHATWG: a port above 65535 does not). */
  url?: boolean;
  /** Never echoed in errors or --help. */
  secret?: boolean;
}

export interface SettingsTable<T> {
  /** Environment names are this prefix + the path in upper snake case. */
  envPrefix: string;
  /** Environment variable naming the config file, when the service has one. */
  configEnv?: string;
  defaults: T;
  /** Every setting, once. Order = order in --help. */
  settings: readonly Setting[];
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** Flag values as node:util parseArgs returns them. */
export type FlagValues = Record<string, string | string[] | boolean | undefined>;

export const configError = (message: string, detail?: Record<string, unknown>) =>
  new NetsensorError('ERR_CONFIG', message, { exitCode: 2, detail });

export const flagSpec = (s: Setting): FlagSpec | undefined => (typeof s.flag === 'string' ? { name: s.flag } : s.flag);

/** `outbox.batchMaxEvents` → `<prefix>OUTBOX_BATCH_MAX_EVENTS`. */
export const deriveEnvName = (prefix: string, path: string): string =>
  prefix + path.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/\./g, '_').toUpperCase();

/** The derived name first, then the aliases kept from before. */
export const envNamesOf = (table: SettingsTable<unknown>, s: Setting): string[] => [deriveEnvName(table.envPrefix, s.path), ...(s.envAliases ?? [])];

const isPlainObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function leafPaths(obj: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(obj).flatMap(([k, v]) => (isPlainObject(v) ? leafPaths(v, `${prefix}${k}.`) : [`${prefix}${k}`]));
}

/**
 * Checks the table against itself once, at load: every default has a setting, no path or flag twice, no
 * derived environment name used twice. A mistake here is a bug of the table, not of the configuration.
 */
export function defineSettings<T>(table: SettingsTable<T>): SettingsTable<T> {
  const paths = new Set<string>();
  const flags = new Set<string>(['config', 'help']);
  const envs = new Set<string>(table.configEnv ? [table.configEnv] : []);
  for (const s of table.settings) {
    if (paths.has(s.path)) throw new Error(`settings table: ${s.path} twice`);
    paths.add(s.path);
    const f = flagSpec(s)?.name;
    if (f !== undefined && flags.has(f)) throw new Error(`settings table: flag --${f} twice`);
    if (f !== undefined) flags.add(f);
    for (const e of envNamesOf(table as SettingsTable<unknown>, s)) {
      if (envs.has(e)) throw new Error(`settings table: environment name ${e} twice`);
      envs.add(e);
    }
  }
  for (const p of leafPaths(table.defaults as Record<string, unknown>)) {
    if (!paths.has(p)) throw new Error(`settings table: default ${p} has no setting`);
  }
  return table;
}

function range(s: Setting): string {
  return `${s.exclusiveMin ? '(' : '['}${s.min ?? '-∞'}, ${s.max ?? '∞'}]`;
}

/** One raw value (file: JSON; environment and flags: strings) to the setting's type, or ERR_CONFIG. */
export function convert(s: Setting, raw: unknown, origin: string): unknown {
  const where = `${s.path} (${origin})`;
  const shown = s.secret ? '<hidden>' : JSON.stringify(raw)?.slice(0, 80);
  const bad = (why: string) => configError(`${where}: ${why}`, { key: s.path, source: origin });
  switch (s.kind) {
    case 'string':
    case 'file': {
      if (typeof raw !== 'string' || raw.length === 0) throw bad(`expected a non-empty string, got ${shown}`);
      if (s.minLength !== undefined && raw.length < s.minLength) throw bad(`expected at least ${s.minLength} characters, got ${shown}`);
      if (s.pattern && !s.pattern.test(raw)) throw bad(`${shown} is not valid (${s.help})`);
      if (s.url && !URL.canParse(raw)) throw bad(`${shown} is not a valid URL (host, port 0-65535)`);
      return raw;
    }
    case 'list': {
      const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : undefined;
      if (!items || !items.every((x) => typeof x === 'string')) throw bad(`expected a list of strings (JSON array, or comma-separated), got ${shown}`);
      return items.map((x: string) => x.trim()).filter(Boolean);
    }
    case 'json': {
      // structured settings (a list of playbooks): JSON in the file as is, JSON text from the environment
      if (typeof raw !== 'string') return raw;
      try {
        return JSON.parse(raw);
      } catch (e) {
        throw bad(`not valid JSON (${(e as Error).message})`);
      }
    }
    case 'enum': {
      if (typeof raw !== 'string' || !s.values!.includes(raw)) throw bad(`expected one of ${s.values!.join(', ')}, got ${shown}`);
      return raw;
    }
    case 'mqtt-version': {
      const v = typeof raw === 'string' ? raw.trim() : raw;
      if (v === 'auto') return 'auto';
      if (v === 4 || v === '4' || v === '3.1.1') return 4;
      if (v === 5 || v === '5') return 5;
      throw bad(`expected 4, 5 or auto, got ${shown}`);
    }
    case 'bool': {
      if (raw === true || raw === 'true' || raw === '1' || raw === 'yes') return true;
      if (raw === false || raw === 'false' || raw === '0' || raw === 'no') return false;
      throw bad(`expected true or false, got ${shown}`);
    }
    case 'int':
    case 'number': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (!Number.isFinite(n)) throw bad(`expected a number, got ${shown}`);
      if (s.kind === 'int' && !Number.isInteger(n)) throw bad(`expected an integer, got ${shown}`);
      const low = s.min !== undefined && (s.exclusiveMin ? n <= s.min : n < s.min);
      if (low || (s.max !== undefined && n > s.max)) throw bad(`${n} is out of range ${range(s)}`);
      return n;
    }
  }
}

export function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const p of path.split('.')) {
    if (!isPlainObject(cur)) return undefined;
    cur = cur[p];
  }
  return cur;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = obj;
  for (const p of parts.slice(0, -1)) cur = (cur[p] ??= {}) as Record<string, unknown>;
  cur[parts[parts.length - 1]] = value;
}

/** Edit distance, for "did you mean" (keys are short). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

function suggestion(settings: readonly Setting[], path: string): string {
  const near = settings.map((s) => s.path).filter((p) => distance(p.toLowerCase(), path.toLowerCase()) <= 2);
  return near.length === 1 ? ` (did you mean '${near[0]}'?)` : '';
}

/** Refuses any key, at any depth, that is neither a setting nor a group of settings. */
export function checkKeys(settings: readonly Setting[], obj: Record<string, unknown>, origin: string, prefix = ''): void {
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue; // an override left unset
    const path = prefix ? `${prefix}.${k}` : k;
    if (settings.some((s) => s.path === path)) continue;
    if (settings.some((s) => s.path.startsWith(path + '.'))) {
      if (!isPlainObject(v)) throw configError(`${origin}: '${path}' is a group of settings, expected an object, got ${JSON.stringify(v)?.slice(0, 80)}`, { key: path, source: origin });
      checkKeys(settings, v, origin, path);
      continue;
    }
    throw configError(`${origin}: unknown setting '${path}'${suggestion(settings, path)}`, { key: path, source: origin });
  }
}

export function readSettingsFile(settings: readonly Setting[], file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw configError(`config file ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : (e as Error).message}`);
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw configError(`config file ${file}: not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(obj)) throw configError(`config file ${file}: expected a JSON object`);
  checkKeys(settings, obj, `file ${file}`);
  return obj;
}

/**
 * `--max-flows -1` → `--max-flows=-1` for an option that takes a value: node:util parseArgs refuses a value that
 * starts with a dash as "ambiguous", so a negative number would never reach the check that names the range.
 */
export function attachNegativeValues(argv: string[], options: NonNullable<ParseArgsConfig['options']>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') return [...out, ...argv.slice(i)];
    const takesValue = a.startsWith('--') && !a.includes('=') && options[a.slice(2)]?.type === 'string';
    if (takesValue && /^-\.?\d/.test(argv[i + 1] ?? '')) out.push(`${a}=${argv[++i]}`);
    else out.push(a);
  }
  return out;
}

/**
 * Parses a command line (without the command name): `--config FILE`, `-h/--help`, `extra` options of the
 * command, and each setting's flag. An unknown or malformed option is ERR_CONFIG (one line).
 */
export function parseFlags(table: SettingsTable<unknown>, argv: string[], extra: NonNullable<ParseArgsConfig['options']> = {}): FlagValues {
  const options: NonNullable<ParseArgsConfig['options']> = { config: { type: 'string' }, help: { type: 'boolean', short: 'h' }, ...extra };
  for (const s of table.settings) {
    const f = flagSpec(s);
    if (f) options[f.name] = f.sets !== undefined ? { type: 'boolean' } : { type: 'string', ...(s.kind === 'list' ? { multiple: true } : {}) };
  }
  try {
    return parseArgs({ args: attachNegativeValues(argv, options), options, allowPositionals: false, strict: true }).values as FlagValues;
  } catch (e) {
    throw configError((e as Error).message.split('\n')[0].replace(/\. To specify.*$/, ''));
  }
}

/** A flag's raw value in the setting's own terms (a switch's value, a unit scaled). */
function fromFlag(s: Setting, f: FlagSpec, raw: string | string[] | boolean): unknown {
  if (f.sets !== undefined) return raw === true ? f.sets : undefined;
  if (f.scale === undefined || typeof raw !== 'string') return raw;
  const n = raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isFinite(n)) throw configError(`${s.path} (--${f.name}): expected a number, got ${JSON.stringify(raw).slice(0, 80)}`, { key: s.path, source: `--${f.name}` });
  return Math.round(n * f.scale);
}

function fromEnv(table: SettingsTable<unknown>, s: Setting, env: NodeJS.ProcessEnv): [string, string] | undefined {
  // an empty variable is unset (`Environment=NAME=` clears it)
  const set = envNamesOf(table, s).filter((n) => env[n] !== undefined && env[n] !== '');
  if (set.length > 1 && set.some((n) => env[n] !== env[set[0]])) {
    throw configError(`${s.path}: environment ${set.join(' and ')} disagree; set one`, { key: s.path, source: `env ${set.join(', ')}` });
  }
  return set.length > 0 ? [env[set[0]]!, set[0]] : undefined;
}

export interface SettingsSources<T> {
  /** Config file; when absent, the table's configEnv variable names it (if set). */
  file?: string;
  env?: NodeJS.ProcessEnv;
  flags?: FlagValues;
  /** Programmatic values (tests, benchmarks, embedding); applied last, checked like a file. */
  overrides?: DeepPartial<T>;
}

/** defaults < file < environment < flags < overrides, each value converted and checked. */
export function resolveSettings<T>(table: SettingsTable<T>, src: SettingsSources<T> = {}): T {
  const env = src.env ?? {};
  const flags = src.flags ?? {};
  const file = src.file ?? (table.configEnv && env[table.configEnv] ? env[table.configEnv] : undefined);
  const fromFile = file ? readSettingsFile(table.settings, file) : {};
  if (src.overrides) checkKeys(table.settings, src.overrides as Record<string, unknown>, 'options');
  const cfg = structuredClone(table.defaults) as Record<string, unknown>;
  for (const s of table.settings) {
    const f = flagSpec(s);
    const e = fromEnv(table as SettingsTable<unknown>, s, env);
    const layers: Array<[unknown, string]> = [
      [getPath(fromFile, s.path), `file ${file}`],
      [e?.[0], `env ${e?.[1]}`],
      [f && flags[f.name] !== undefined ? fromFlag(s, f, flags[f.name]!) : undefined, `--${f?.name}`],
      [getPath(src.overrides, s.path), 'options'],
    ];
    for (const [raw, origin] of layers) if (raw !== undefined) setPath(cfg, s.path, convert(s, raw, origin));
  }
  return cfg as T;
}
