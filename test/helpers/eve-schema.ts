/** Suricata's EVE JSON Schema (the shared specs folder) compiled once with ajv: `eveErrors(record)` → undefined when valid. */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';

const schemaPath = new URL('../../../shared/specs/suricata-eve-schema.json', import.meta.url);
// Unknown keywords ("suricata": keyword lists) are documentation in this schema, not rules: strict off.
const validate = new Ajv({ strict: false, allErrors: true }).compile(JSON.parse(readFileSync(schemaPath, 'utf8')));

export function eveErrors(record: unknown): string | undefined {
  if (validate(record)) return undefined;
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`).join('; ');
}
