/**
 * `--help` of a service, written from its settings table (common/settings.ts): every setting with its flag (if
 * any), help, default, file path and environment names, so the help cannot drift from what is accepted.
 */
import { envNamesOf, flagSpec, getPath, type Setting, type SettingsTable } from './settings.js';

const COLUMN = 34;
const WIDTH = 112;

/** Word-wraps `text` to the help column. */
function wrap(text: string): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && COLUMN + line.length + 1 + word.length > WIDTH) { out.push(line); line = word; } else line = line ? `${line} ${word}` : word;
  }
  out.push(line);
  return out;
}

const METAVAR: Record<Setting['kind'], string> = {
  string: 'V', file: 'FILE', int: 'N', number: 'N', bool: 'true|false', enum: 'V', 'mqtt-version': '4|5|auto', list: 'V[,V…]', json: 'JSON',
};

function shownDefault(table: SettingsTable<unknown>, s: Setting): string {
  const d = getPath(table.defaults, s.path);
  if (d === undefined || (Array.isArray(d) && d.length === 0)) return '';
  return ` [default ${s.secret ? '-' : String(d)}]`;
}

function left(s: Setting): string {
  const f = flagSpec(s);
  if (!f) return `  ${s.path}`;
  if (f.sets !== undefined) return `  --${f.name}`;
  return `  --${f.name} ${s.kind === 'enum' ? s.values!.join('|') : METAVAR[s.kind]}`;
}

export interface HelpText {
  /** Usage lines and what the command does. */
  intro: string[];
  /** Options of the command that are not settings: [left column, help]. */
  commandOptions?: Array<[string, string]>;
}

export function settingsHelp(table: SettingsTable<unknown>, text: HelpText): string {
  const row = (l: string, r: string) => {
    const [first, ...more] = wrap(r);
    const head = l.length >= COLUMN ? `${l}\n${''.padEnd(COLUMN)}${first}` : l.padEnd(COLUMN) + first;
    return [head, ...more.map((m) => ''.padEnd(COLUMN) + m)].join('\n');
  };
  const lines = [
    ...text.intro,
    '',
    `Every setting can be set in the JSON config file (path shown), the environment (${table.envPrefix}…) or, where it`,
    'has one, a flag. Precedence: defaults < file < environment < flags. Unknown keys in the file are refused.',
    'Bad configuration: one error line, exit code 2.',
    '',
    row('  --config FILE', `JSON config file${table.configEnv ? ` (env ${table.configEnv})` : ''}`),
    ...(text.commandOptions ?? []).map(([l, r]) => row(`  ${l}`, r)),
    row('  -h, --help', 'this help'),
    '',
  ];
  for (const s of table.settings) {
    lines.push(row(left(s), `${s.help}${shownDefault(table, s)}`));
    lines.push(''.padEnd(COLUMN) + `file: ${s.path}   env: ${envNamesOf(table, s).join(' or ')}`);
  }
  return lines.join('\n');
}
