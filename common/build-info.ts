/** `netsensor_build_info{version,nodejs,component} 1`: the Prometheus convention for which build is running. */
import { Gauge, type Registry } from 'prom-client';
import { packageVersion } from './version.js';

export function registerBuildInfo(registry: Registry, component: 'gateway' | 'sensor'): void {
  const g = new Gauge({ name: 'netsensor_build_info', help: 'netsensor build: software version, Node.js version, component; always 1', labelNames: ['version', 'nodejs', 'component'] as const, registers: [registry] });
  g.set({ version: packageVersion(), nodejs: process.versions.node, component }, 1);
}
