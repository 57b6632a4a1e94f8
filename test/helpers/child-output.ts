/** Waits until a child process prints a line matching `re` (stdout or stderr); rejects on timeout or early exit. */
import type { ChildProcess } from 'node:child_process';

export const waitForOutput = (child: ChildProcess, re: RegExp, ms: number) => new Promise<void>((resolve, reject) => {
  let seen = '';
  const timer = setTimeout(() => reject(new Error(`timeout waiting for ${re}: ${seen}`)), ms);
  const on = (d: Buffer) => { seen += d; if (re.test(seen)) { clearTimeout(timer); resolve(); } };
  child.stdout?.on('data', on);
  child.stderr?.on('data', on);
  child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code} before ${re}: ${seen}`)); });
});
