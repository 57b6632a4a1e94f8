/**
 * The package version, read once from package.json: the one source for `netsensor --version`, the sensor's
 * status message, OTA compatibility checks (min_sensor_version) and the releases `model publish` signs.
 */
import { readFileSync } from 'node:fs';
import { packagePath } from './paths.js';

let cached: string | undefined;

export function packageVersion(): string {
  if (cached === undefined) {
    const v: unknown = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')).version;
    // packageRoot() found this file by its name, so only a missing version can go wrong: say so, never guess
    if (typeof v !== 'string' || v.length === 0) throw new Error('package.json has no version');
    cached = v;
  }
  return cached;
}
