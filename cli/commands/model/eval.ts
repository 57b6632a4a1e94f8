/**
 * `netsensor model eval`: measures a model
 *  - on a labelled flow dataset's held-out runs (`--data`), with the decision as deployed (class thresholds and
 *    anomaly threshold from the model's metadata), or
 *  - on labelled public captures (`--captures DIR` with DIR/LABELS.tsv): which captures raise alerts of which
 *    class, whether the expected family is among them, and which unlabelled (benign) captures raise any.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { NetsensorError } from '../../../common/errors.js';
import { packageRoot } from '../../../common/paths.js';
import { detectCapture } from '../../../inference/detect-capture.js';
import { loadModel } from '../../../inference/model.js';
import { decide } from '../../../inference/decide.js';
import { NUM_FEATURES } from '../../../core/schema.js';
import { gatherFeatures, readDataset, selectRows, type Split } from '../../../models/train/dataset.js';
import { evaluate, formatEvaluation } from '../../../models/train/metrics.js';

const HELP = `usage: netsensor model eval [--model FILE] (--data FILE [--split test] | --captures DIR) [--json FILE]

  --model FILE        model to evaluate (default: the shipped models/netsensor-detect.onnx)
  --data FILE         labelled flow dataset (gzip CSV); evaluates the rows of --split (default test)
  --captures DIR      folder with LABELS.tsv (path glob, category, label): runs detect on every capture below it
  --json FILE         also write the full result as JSON
  -h, --help          this help
`;

/** LABELS.tsv category → the model class that counts as "the right family". */
export const CATEGORY_FAMILY: Record<string, string> = {
  'portscan': 'scan', 'portscan?': 'scan', 'os-fingerprint/scan': 'scan',
  'dos': 'dos', 'ddos': 'dos', 'ddos-amplification': 'dos',
  'bruteforce': 'bruteforce', 'dns-tunnel': 'dns_tunnel', 'malware-c2': 'c2',
};

/** `*` matches within one path segment; a trailing `/*` means everything below that folder. */
function globToRegExp(glob: string): RegExp {
  const deep = glob.endsWith('/*');
  const body = (deep ? glob.slice(0, -1) : glob).split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*');
  return new RegExp(`^${body}${deep ? '.+' : ''}$`);
}

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) walk(p, out);
    else if (/\.(pcap|pcapng|cap)(\.gz)?$/i.test(name)) out.push(p);
  }
  return out.sort();
}

export async function runEval(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: {
    model: { type: 'string' }, data: { type: 'string' }, split: { type: 'string', default: 'test' },
    captures: { type: 'string' }, json: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false },
  } });
  if (values.help) { process.stdout.write(HELP); return 0; }
  if (!values.data && !values.captures) throw new NetsensorError('ERR_USAGE', `model eval needs --data or --captures\n${HELP}`);
  const model = await loadModel(values.model);
  try {
    // Paths in reports are relative to the package so committed reports carry no machine's layout.
    const result: Record<string, unknown> = { model: relative(packageRoot(), model.source), version: model.version };
    if (values.data) {
      const ds = readDataset(values.data);
      const rows = selectRows(ds, [values.split as Split]);
      const x = gatherFeatures(ds, rows);
      const truth: number[] = [], pred: number[] = [];
      let benign = 0, falseAlerts = 0;
      for (let s = 0; s < rows.length; s += 4096) {
        const n = Math.min(4096, rows.length - s);
        const scores = await model.score(x.subarray(s * NUM_FEATURES, (s + n) * NUM_FEATURES), n, { topFeatures: 0 });
        scores.forEach((sc, i) => {
          const label = ds.meta[rows[s + i]!]!.label;
          const d = decide(sc.probabilities, 0, sc.anomalyError, model.thresholds, { useAnomaly: false });
          truth.push(model.classNames.indexOf(label));
          pred.push(d.alert ? d.classIndex : model.thresholds.benignIndex);
          if (label === 'benign') { benign++; if (sc.alert) falseAlerts++; }
        });
      }
      const ev = evaluate(truth, pred, model.classNames);
      result.dataset = { split: values.split, rows: rows.length, evaluation: ev, benignFlows: benign, falseAlertsPer10k: benign ? (falseAlerts / benign) * 1e4 : 0 };
      process.stdout.write(`${formatEvaluation(ev, model.classNames)}\n\nfalse alerts (class or anomaly) per 10k benign flows: ${(benign ? (falseAlerts / benign) * 1e4 : 0).toFixed(2)} (${falseAlerts}/${benign})\n`);
    }
    if (values.captures) {
      const root = values.captures;
      const labels = readFileSync(join(root, 'LABELS.tsv'), 'utf8').split('\n').slice(1).filter(Boolean).map((l) => {
        const [path, category, label] = l.split('\t');
        return { re: globToRegExp(path!), path: path!, category: category!, label: label ?? '' };
      });
      const files = walk(root);
      const captures: Record<string, unknown>[] = [];
      for (const file of files) {
        const rel = relative(root, file);
        const lab = labels.find((l) => l.re.test(rel));
        let det;
        try { det = await detectCapture(file, model, { topFeatures: 0 }); } catch (e) {
          captures.push({ file: rel, category: lab?.category ?? 'benign', error: (e as Error).message });
          continue;
        }
        const family = lab ? CATEGORY_FAMILY[lab.category] : undefined;
        const entry = {
          file: rel, category: lab?.category ?? 'benign', family: family ?? null, flows: det.flows, alerts: det.alerts.length, byClass: det.byClass,
          rightFamily: family ? (det.byClass[family] ?? 0) > 0 : null,
        };
        captures.push(entry);
        process.stdout.write(`${entry.category.padEnd(20)} ${rel}  flows ${det.flows}  alerts ${JSON.stringify(det.byClass)}${family ? (entry.rightFamily ? '  ✓' : `  ✗ (expected ${family})`) : ''}\n`);
      }
      result.captures = captures;
    }
    if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 1));
    return 0;
  } finally { await model.close(); }
}
