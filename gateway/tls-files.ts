/** PEM files named by TLS settings, read with an ERR_CONFIG naming the setting when one cannot be read. */
import { readFileSync } from 'node:fs';
import { configError } from '../common/settings.js';

export function readPem(path: string | undefined, setting: string): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (e) {
    throw configError(`${setting}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { key: setting });
  }
}
