/**
 * Feeding hand-made flow verdicts to a fresh episode tracker (detection/episodes.ts), as the rows-level detection
 * tests do: every change it published, the tracks that opened, and how many tracks (observations included) it kept.
 */
import { EpisodeTracker, type EpisodeChange, type Track } from '../../detection/episodes.ts';
import type { FlowVerdict } from '../../detection/evidence.ts';

let idn = 0;
const ids = () => `0190a000-0000-7000-8000-${String(++idn).padStart(12, '0')}`;

export function replayVerdicts(verdicts: Iterable<FlowVerdict>): { changes: EpisodeChange[]; opened: Track[]; tracks: number } {
  const tr = new EpisodeTracker({ newId: ids });
  const changes: EpisodeChange[] = [];
  for (const v of verdicts) changes.push(...tr.observe(v));
  return { changes, opened: changes.filter((c) => c.state === 'open').map((c) => c.track), tracks: tr.size };
}
