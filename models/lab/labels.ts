/**
 * Construction labels of the lab's flows (see scenarios.ts): the run's class if the flow touches an attacker
 * address, is a spoofed-source flow to the run's victim, or — in a reflection run — is between the spoofed victim
 * and a reflector; otherwise benign background.
 */
export interface LabelledRun {
  cls: string;
  attackers: string[];
  spoofedVictim?: string;
  reflection?: { victim: string; reflectors: string[] };
}

export function labelFlow(run: LabelledRun, labIps: ReadonlySet<string>, src: string, dst: string): string {
  if (run.cls === 'benign') return 'benign';
  if (run.attackers.includes(src) || run.attackers.includes(dst)) return run.cls;
  if (run.spoofedVictim && dst === run.spoofedVictim && !labIps.has(src)) return run.cls;
  const r = run.reflection;
  if (r && ((src === r.victim && r.reflectors.includes(dst)) || (dst === r.victim && r.reflectors.includes(src)))) return run.cls;
  return 'benign';
}
