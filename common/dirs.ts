/**
 * `mkdir -p` that fails instead of spinning. Node's own `mkdir(dir, { recursive: true })` never returns when a
 * parent exists but cannot hold children — a path under /proc, a dangling symlink: mkdir answers ENOENT, Node
 * creates the parent (EEXIST, fine) and retries forever (nodejs/node, still so in Node 20 and 22). Here each
 * missing component is created once, in order, so such a path ends in the errno error of the step that failed.
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Creates `dir` and its missing parents (each with `mode`); throws the Node errno error of a failed step. */
export function makeDirs(dir: string, mode = 0o777): void {
  const missing: string[] = [];
  let p = resolve(dir);
  for (;;) {
    const st = statSync(p, { throwIfNoEntry: false });
    if (st) {
      if (!st.isDirectory()) {
        throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}' (${p} is a file)`), { code: 'ENOTDIR', path: p });
      }
      break;
    }
    missing.unshift(p);
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  for (const m of missing) {
    try {
      mkdirSync(m, { mode });
    } catch (e) {
      // created meanwhile by someone else is fine; a dangling symlink (EEXIST, but no directory) is not
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(m, { throwIfNoEntry: false })?.isDirectory()) throw e;
    }
  }
}
