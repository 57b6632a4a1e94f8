/**
 * Locates files shipped with the package (build/netsensor.wasm, models/*.onnx, gateway/http/static) the same
 * way whether the code runs from TypeScript sources (tests, tsx) or from dist/ (the installed CLI).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if (JSON.parse(readFileSync(pj, 'utf8')).name === 'netsensor') return (cached = dir);
      } catch { /* keep walking */ }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('netsensor package root not found');
    dir = up;
  }
}

export const packagePath = (...parts: string[]): string => join(packageRoot(), ...parts);
