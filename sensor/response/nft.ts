/** Runs nft: one script is one transaction (`nft -f -`), so a response change applies whole or not at all. */
import { execFile } from 'node:child_process';
import { TABLE } from './nft-ruleset.js';

export interface Nft {
  apply(lines: string[]): Promise<void>;
  /** `nft -j list table inet netsensor`, or undefined when the table does not exist. */
  list(): Promise<string | undefined>;
}

function run(bin: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(bin, args, { timeout: 10_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${bin} ${args.join(' ')}: ${(stderr || err.message).trim().split('\n').slice(0, 3).join(' | ')}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

export function systemNft(bin = 'nft'): Nft {
  return {
    apply: async (lines) => { await run(bin, ['-f', '-'], lines.join('\n') + '\n'); },
    list: async () => {
      try {
        return await run(bin, ['-j', 'list', 'table', ...TABLE.split(' ')]);
      } catch (e) {
        if (/No such file or directory/.test((e as Error).message)) return undefined;
        throw e;
      }
    },
  };
}
