/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4), for tests: every sample line must
 * parse, belong to a family announced by `# TYPE`, and carry a finite value (or ±Inf/NaN).
 */
export interface Sample { name: string; labels: Record<string, string>; value: number }
export interface Family { name: string; type: string; help?: string; samples: Sample[] }

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y;
const SUFFIXES: Record<string, string[]> = { histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count'] };

export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const owner = (sample: string): Family | undefined => {
    if (families.has(sample)) return families.get(sample);
    for (const f of families.values()) if ((SUFFIXES[f.type] ?? []).some((s) => s && f.name + s === sample)) return f;
    return undefined;
  };
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '') continue;
    const meta = /^# (TYPE|HELP) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      if (!NAME.test(meta[2])) throw new Error(`line ${i + 1}: bad metric name ${meta[2]}`);
      const f = families.get(meta[2]) ?? { name: meta[2], type: 'untyped', samples: [] };
      if (meta[1] === 'TYPE') f.type = meta[3]; else f.help = meta[3];
      families.set(meta[2], f);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`line ${i + 1}: not a sample: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      LABEL.lastIndex = 0;
      while (LABEL.lastIndex < m[2].length) {
        const l = LABEL.exec(m[2]);
        if (!l) throw new Error(`line ${i + 1}: bad labels: ${m[2]}`);
        labels[l[1]] = l[2];
      }
    }
    // Prometheus parses values with Go's ParseFloat: NaN and Inf in any case (prom-client writes `Nan`)
    const v = m[3].toLowerCase();
    const value = v === '+inf' || v === 'inf' ? Infinity : v === '-inf' ? -Infinity : Number(m[3]);
    if (Number.isNaN(value) && v !== 'nan') throw new Error(`line ${i + 1}: bad value ${m[3]}`);
    const f = owner(m[1]);
    if (!f) throw new Error(`line ${i + 1}: sample ${m[1]} without a # TYPE line`);
    f.samples.push({ name: m[1], labels, value });
  }
  return families;
}
