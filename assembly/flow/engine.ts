// OWNED BY: flow work. init/configure/advance/flush/output buffers; flowPacket() consumes decode/packet.ts. STUB.
import { ringInit } from '../ring';
export function init(maxFlows: i32, maxHosts: i32, ringBytes: i32, maxOut: i32): i32 {
  return ringInit(ringBytes) ? 0 : -2;
}
export function outFree(): i32 { return 1000; }
export function flowPacket(): void {}
