import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { FEATURES, FEATURE_NAMES, NUM_FEATURES, SCHEMA_ID, SCHEMA_HASH32 } from '../core/schema.ts';
import { renderSchema, renderEvents } from '../scripts/gen-assembly.ts';
import { renderFeatureDoc } from '../scripts/gen-docs.ts';

const read = (rel: string) => readFileSync(new URL(`../${rel}`, import.meta.url), 'utf8');

test('the schema has at least 60 uniquely named NFStream-style features', () => {
  assert.ok(NUM_FEATURES >= 60, `${NUM_FEATURES} features`);
  assert.is(new Set(FEATURE_NAMES).size, NUM_FEATURES);
  for (const f of FEATURES) {
    assert.match(f.name, /^[a-z][a-z0-9_]*$/, f.name);
    assert.ok(f.unit.length > 0 && f.description.length > 0, f.name);
  }
  assert.match(SCHEMA_ID, /^nsf\d+-[0-9a-f]{12}$/);
});

test('the WASM core was generated from the current schema and event list', () => {
  assert.fixture(read('assembly/generated/schema.ts'), renderSchema());
  assert.fixture(read('assembly/generated/events.ts'), renderEvents());
});

test('the documented feature list is the schema', () => {
  const doc = read('docs/features.md');
  assert.fixture(doc, renderFeatureDoc());
  const documented = [...doc.matchAll(/^\| \d+ \| `([a-z0-9_]+)` \|/gm)].map((m) => m[1]);
  assert.equal(documented, [...FEATURE_NAMES]);
});

test('the built WASM core carries the schema hash', async () => {
  const bytes = readFileSync(new URL('../build/netsensor.wasm', import.meta.url));
  const { instance } = await WebAssembly.instantiate(bytes, { env: { abort() { throw new Error('abort'); } } });
  const ex = instance.exports as Record<string, unknown>;
  if (typeof ex.schemaHash !== 'function') throw new Error('core does not export schemaHash()');
  assert.is((ex.schemaHash as () => number)() >>> 0, SCHEMA_HASH32);
  assert.is((ex.numFeatures as () => number)(), NUM_FEATURES);
});

test.run();
