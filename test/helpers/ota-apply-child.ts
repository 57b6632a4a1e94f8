/**
 * Child process of test/ota-crash.test.ts: opens the receiver on a state directory, prints what it runs, applies
 * the bundle file given, printing each stage as it is reached (the parent kills it with SIGKILL somewhere).
 * argv: <stateDir> <bundle.cbor> <pinned public key, base64 raw> [<stage> <delay ms>]
 * With a stage, the child SIGKILLs itself that many ms after reaching it (delay 0: at once, synchronously).
 */
import { readFileSync } from 'node:fs';
import { decodeBundle } from '../../protocol/manifest.ts';
import { OtaReceiver } from '../../sensor/ota.ts';
import { ortModelLoader } from '../../inference/load.ts';
import { quietLog } from './ota-fixtures.ts';

const [stateDir, bundlePath, pinned, killStage, killDelay] = process.argv.slice(2);
const say = (s: string) => process.stdout.write(`${s}\n`);
const rx = await OtaReceiver.open({
  sensorId: 'crash', channel: 'stable', stateDir, pinnedKeys: [pinned], loader: ortModelLoader, log: quietLog,
  onApply: () => undefined,
  onStage: (stage) => {
    say(`stage ${stage}`);
    if (stage !== killStage) return;
    const ms = Number(killDelay);
    if (ms === 0) process.kill(process.pid, 'SIGKILL');
    else setTimeout(() => process.kill(process.pid, 'SIGKILL'), ms);
  },
});
say(`ready ${rx.current?.seq ?? 0}`);
const b = decodeBundle(new Uint8Array(readFileSync(bundlePath)));
await rx.apply(b.envelope, b.payload);
say(`done ${rx.current?.seq}`);
await rx.close();
