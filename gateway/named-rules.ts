/**
 * A JSON list of named rules in the gateway's settings (response playbooks, operator suppressions), read the one
 * strict way: a list of objects with known keys only and a unique `name` each. What a rule's own keys mean is
 * checked by its parser, with the `bad` it is handed, so every message names the setting and the rule's place.
 */
import { configError } from '../common/settings.js';
import { ID_PATTERN } from '../protocol/topics.js';

export type RuleError = (why: string) => Error;

export function parseNamedRules<T>(raw: unknown, setting: string, keys: ReadonlySet<string>, what: string,
  parse: (x: Record<string, unknown> & { name: string }, bad: RuleError) => T): T[] {
  if (!Array.isArray(raw)) throw configError(`${setting}: expected a JSON list of ${what}`, { key: setting });
  const names = new Set<string>();
  return raw.map((r, i) => {
    const bad: RuleError = (why) => configError(`${setting}[${i}]: ${why}`, { key: setting });
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw bad('expected an object');
    const x = r as Record<string, unknown>;
    for (const k of Object.keys(x)) if (!keys.has(k)) throw bad(`unknown key '${k}' (known: ${[...keys].join(', ')})`);
    if (typeof x.name !== 'string' || !ID_PATTERN.test(x.name)) throw bad('name: letters, digits, _ . - (1-64)');
    if (names.has(x.name)) throw bad(`name ${x.name} twice`);
    names.add(x.name);
    return parse(x as Record<string, unknown> & { name: string }, bad);
  });
}
