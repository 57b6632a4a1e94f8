/**
 * `netsensor model eval`: measures a model
 *  - on a labelled flow dataset's held-out runs (`--data`), with the decision as deployed (class thresholds and
 *    anomaly threshold from the model's metadata), or
 *  - on labelled public captures (`--captures DIR` with DIR/LABELS.tsv): which captures raise alerts of which
 *    class, whether the expected family is among them, and which unlabelled (benign) captures raise any.
 */
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { NetsensorError } from '../../../common/errors.js';
import { packagePath, packageRoot } from '../../../common/paths.js';
import { loadModel } from '../../../inference/model.js';
import { decide } from '../../../inference/decide.js';
import { NUM_FEATURES } from '../../../core/schema.js';
import { gatherFeatures, readDataset, selectRows, type Split } from '../../../models/train/dataset.js';
import { evaluate, formatEvaluation } from '../../../models/train/metrics.js';
import { episodesOfRuns } from '../../../models/train/episode-calibration.js';
import { episodeThresholds, thresholdsWith } from '../../../detection/families.js';

const HELP = `usage: netsensor model eval [--model FILE] [--data FILE [--split test]] [--captures DIR [--corpus FILE] [--attacks FILE] [--lab DIR]] [--json FILE]

  --model FILE        model to evaluate (default: the shipped models/netsensor-detect.onnx)
  --data FILE         labelled flow dataset (gzip CSV): per-flow figures on the rows of --split (default test)
  --captures DIR      root of the public captures: ALERT-level figures per capture — what a subscriber of
                      netsensor/v1/alerts/# would receive (the engine of \`netsensor detect --alerts\`):
                        benign corpus captures of --split (--corpus, default models/corpus/benign.tsv) that raise
                        any alert, labelled attack captures (--attacks, default models/corpus/attacks.tsv) that
                        raise an alert of the right family, and lab runs of --split (--lab DIR with manifest.json)
  --json FILE         also write the full result as JSON
  -h, --help          this help
`;

export async function runEval(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: {
    model: { type: 'string' }, data: { type: 'string' }, split: { type: 'string', default: 'test' },
    captures: { type: 'string' }, corpus: { type: 'string' }, attacks: { type: 'string' }, lab: { type: 'string' },
    json: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false },
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
      // The unit users see: episodes per held-out run (rows replayed through the sensor's evidence/episode code).
      const runs = await episodesOfRuns(ds, rows, model, thresholdsWith(episodeThresholds(model.metadata)));
      const benignRuns = runs.filter((r) => r.classes.length === 0);
      const attackRuns = runs.filter((r) => r.classes.length > 0);
      const detected = attackRuns.filter((r) => r.classes.every((c) => r.attackFamilies.includes(c)));
      const falseIn = runs.filter((r) => r.benignFamilies.length > 0);
      result.episodes = { runs, benignRuns: benignRuns.length, benignRunsAlerting: benignRuns.filter((r) => r.benignFamilies.length > 0).length,
        attackRuns: attackRuns.length, attackRunsDetected: detected.length, runsWithFalseEpisodes: falseIn.length };
      process.stdout.write(`\nepisodes, ${values.split} runs: benign runs raising an alert ${benignRuns.filter((r) => r.benignFamilies.length > 0).length}/${benignRuns.length}; `
        + `attack runs with an episode of every attack class ${detected.length}/${attackRuns.length}; runs with a false episode on a benign actor ${falseIn.length}\n`);
      for (const r of runs) {
        const miss = r.classes.filter((c) => !r.attackFamilies.includes(c));
        if (miss.length || r.benignFamilies.length) process.stdout.write(`  ${r.run}: classes [${r.classes}] attack episodes [${r.attackFamilies}] false episodes [${r.benignFamilies}]${miss.length ? ` missed [${miss}]` : ''}\n`);
      }
    }
    if (values.captures) {
      const { evaluateAlerts, formatCapture, formatSummary } = await import('./eval-alerts.js');
      const ev = await evaluateAlerts({
        model, pcaps: values.captures, split: values.split!,
        corpus: values.corpus ?? packagePath('models/corpus/benign.tsv'),
        attacks: values.attacks ?? packagePath('models/corpus/attacks.tsv'),
        lab: values.lab,
        progress: (c) => process.stdout.write(formatCapture(c) + '\n'),
      });
      process.stdout.write(`\n${formatSummary(ev)}\n`);
      result.alerts = ev;
    }
    if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 1));
    return 0;
  } finally { await model.close(); }
}
