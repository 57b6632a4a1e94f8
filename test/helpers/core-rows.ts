/**
 * A flow core whose finished rows are collected with their key and a feature reader by name (host-window tests).
 */
import { FlowCore, type FlowBatch } from '../../core/host.ts';
import { featureIndex } from '../../core/schema.ts';

export interface Row { src: string; dst: string; sport: number; dport: number; reason: string; f: (name: string) => number }

export async function coreWithRows(maxFlows: number, maxHosts: number, maxOut = 64): Promise<{ core: FlowCore; rows: Row[] }> {
  const core = await FlowCore.load({ maxFlows, maxHosts, ringBytes: 1 << 16, maxOut });
  const rows: Row[] = [];
  core.onBatch((b: FlowBatch) => {
    const width = b.features.length / b.rows;
    for (let r = 0; r < b.rows; r++) {
      const feats = b.features.slice(r * width, (r + 1) * width);
      const k = b.keys[r];
      rows.push({ src: k.src_ip, dst: k.dst_ip, sport: k.src_port, dport: k.dst_port, reason: k.end_reason, f: (n) => feats[featureIndex(n)] });
    }
  });
  return { core, rows };
}
