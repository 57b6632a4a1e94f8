/**
 * The JS/WASM boundary is declared once (core/abi.ts): the core is generated from it, and the host refuses a
 * core whose exported ABI globals differ from it — a clear ERR_CORE_ABI, never rows read at the wrong offsets.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { KEY_RECORD, RECORD_HEADER, abiGlobals, offsetGlobal } from '../core/abi.ts';
import { checkCoreAbi } from '../core/host.ts';
import { NetsensorError } from '../common/errors.ts';
import { renderAbi, renderAbiExports } from '../scripts/gen-assembly.ts';
import { WASM_PATH } from './helpers/raw-core.ts';

const read = (rel: string) => readFileSync(new URL(`../${rel}`, import.meta.url), 'utf8');

async function builtCoreExports(): Promise<WebAssembly.Exports> {
  const { instance } = await WebAssembly.instantiate(readFileSync(WASM_PATH), {
    env: { abort() { throw new Error('wasm abort'); } },
  });
  return instance.exports;
}

function refusal(fn: () => void): NetsensorError {
  try {
    fn();
  } catch (e) {
    assert.instance(e, NetsensorError);
    assert.is((e as NetsensorError).code, 'ERR_CORE_ABI');
    return e as NetsensorError;
  }
  throw new Error('the core was accepted');
}

test('the WASM core was generated from the current ABI declaration', () => {
  assert.fixture(read('assembly/generated/abi.ts'), renderAbi());
  assert.fixture(read('assembly/generated/abi-exports.ts'), renderAbiExports());
});

test('the built core exports every ABI global with the declared value, record layouts included', async () => {
  const exports = await builtCoreExports();
  checkCoreAbi(exports);
  const globals = abiGlobals();
  assert.is(globals.get('KEY_RECORD_BYTES'), KEY_RECORD.bytes);
  assert.is(globals.get('RECORD_HEADER_BYTES'), RECORD_HEADER.bytes);
  for (const f of KEY_RECORD.fields) {
    const g = exports[offsetGlobal(KEY_RECORD, f.name)] as WebAssembly.Global;
    assert.is(g.value, f.offset, f.name);
  }
});

test('a core whose ABI differs from the host expectation is refused with ERR_CORE_ABI', async () => {
  const exports = await builtCoreExports();
  const moved = new Map(abiGlobals()).set('KEY_RECORD_SRC_PORT_OFFSET', KEY_RECORD.offset.src_port + 2);
  const e = refusal(() => checkCoreAbi(exports, moved));
  assert.match(e.message, `KEY_RECORD_SRC_PORT_OFFSET is ${KEY_RECORD.offset.src_port}, expected ${KEY_RECORD.offset.src_port + 2}`);
  assert.match(e.message, 'rebuild');

  const unknown = new Map(abiGlobals()).set('CFG_NOT_IN_THIS_CORE', 10);
  assert.match(refusal(() => checkCoreAbi(exports, unknown)).message, 'CFG_NOT_IN_THIS_CORE missing');

  const { process: _, ...withoutProcess } = exports;
  assert.match(refusal(() => checkCoreAbi(withoutProcess)).message, 'process() missing');
});

test.run();
