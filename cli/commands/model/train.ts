/**
 * `netsensor model train`: labelled flow dataset → int8 + float ONNX detection models and a JSON report.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { NetsensorError } from '../../../common/errors.js';
import { readTrainingData } from '../../../models/train/dataset.js';
import { formatEvaluation } from '../../../models/train/metrics.js';
import { DEFAULT_TRAIN, trainModel } from '../../../models/train/pipeline.js';

const HELP = `usage: netsensor model train [options]

Trains the flow classifier (MLP) and the benign autoencoder on a labelled flow dataset, calibrates the class
and anomaly thresholds on the validation runs, quantizes to int8 (QDQ, 7-bit weights) and evaluates on the
held-out test runs. Writes <out-dir>/netsensor-detect.onnx (int8, what the sensor loads),
<out-dir>/netsensor-detect-float.onnx (float reference) and a JSON report.

options:
  --data FILE            dataset (gzip CSV from models/lab/build-dataset.ts; default models/data/lab-flows.csv.gz)
  --corpus FILE          benign public-capture corpus rows (models/corpus/build-corpus-flows.ts), added to the
                         benign class of their split when the file exists (default models/data/corpus-flows.csv.gz;
                         'none' to train on the lab alone)
  --out-dir DIR          where the .onnx files go (default models)
  --report FILE          JSON report (default models/data/train-report.json)
  --seed N               training seed (default ${DEFAULT_TRAIN.seed})
  --model-version V      model_version metadata (default ${DEFAULT_TRAIN.version})
  --epochs N             classifier epochs (default ${DEFAULT_TRAIN.epochs})
  --ae-epochs N          autoencoder epochs (default ${DEFAULT_TRAIN.aeEpochs})
  --cap N                training flows per (run, class) at most (default ${DEFAULT_TRAIN.capPerRunClass})
  --anomaly-fpr P        anomaly threshold target false-positive rate (default ${DEFAULT_TRAIN.anomalyFpr})
  -h, --help             this help
`;

export async function runTrain(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: {
    data: { type: 'string', default: 'models/data/lab-flows.csv.gz' },
    corpus: { type: 'string', default: 'models/data/corpus-flows.csv.gz' },
    'out-dir': { type: 'string', default: 'models' },
    report: { type: 'string', default: 'models/data/train-report.json' },
    seed: { type: 'string' }, 'model-version': { type: 'string' }, epochs: { type: 'string' }, 'ae-epochs': { type: 'string' },
    cap: { type: 'string' }, 'anomaly-fpr': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  } });
  if (values.help) { process.stdout.write(HELP); return 0; }
  const num = (v: string | undefined, d: number, name: string): number => {
    if (v === undefined) return d;
    const n = Number(v);
    if (!(n > 0)) throw new NetsensorError('ERR_USAGE', `--${name} expects a positive number, got '${v}'`);
    return n;
  };
  let ds;
  try {
    const corpus = values.corpus === 'none' ? undefined : values.corpus;
    const loaded = readTrainingData(values.data!, corpus);
    ds = loaded.ds;
    process.stderr.write(`[train] ${loaded.corpusRows ? `${loaded.corpusRows} benign corpus rows from ${corpus}` : 'no benign corpus rows (lab data only)'}\n`);
  } catch (e) {
    throw new NetsensorError('ERR_USAGE', `cannot read dataset ${values.data} / corpus ${values.corpus}: ${(e as Error).message}`, { cause: e });
  }
  const t0 = Date.now();
  const { int8, float, report } = await trainModel(ds, {
    seed: num(values.seed, DEFAULT_TRAIN.seed, 'seed'),
    version: values['model-version'] ?? DEFAULT_TRAIN.version,
    epochs: num(values.epochs, DEFAULT_TRAIN.epochs, 'epochs'),
    aeEpochs: num(values['ae-epochs'], DEFAULT_TRAIN.aeEpochs, 'ae-epochs'),
    capPerRunClass: num(values.cap, DEFAULT_TRAIN.capPerRunClass, 'cap'),
    anomalyFpr: num(values['anomaly-fpr'], DEFAULT_TRAIN.anomalyFpr, 'anomaly-fpr'),
    classFalseAlertRate: DEFAULT_TRAIN.classFalseAlertRate,
    log: (m) => process.stderr.write(`[train] ${m}\n`),
  });
  mkdirSync(values['out-dir']!, { recursive: true });
  writeFileSync(join(values['out-dir']!, 'netsensor-detect.onnx'), int8);
  writeFileSync(join(values['out-dir']!, 'netsensor-detect-float.onnx'), float);
  mkdirSync(dirname(values.report!), { recursive: true });
  writeFileSync(values.report!, JSON.stringify(report, null, 1));
  const t = report.test;
  process.stdout.write([
    `test runs: ${report.runs.test.join(', ')}`,
    '', 'int8, thresholded decision (as deployed):', formatEvaluation(t.thresholded, report.classNames),
    '', `int8 argmax macro-F1 ${t.argmax.macroF1.toFixed(4)}; float argmax macro-F1 ${t.float.macroF1.toFixed(4)}; int8 vs float top-1 agreement ${(100 * t.int8FloatTop1Agreement).toFixed(2)} %`,
    `false alerts per 10k benign test flows (${t.benignFlows}): classifier ${t.falseAlertsPer10k.classifier.toFixed(2)}, anomaly ${t.falseAlertsPer10k.anomaly.toFixed(2)}, any ${t.falseAlertsPer10k.any.toFixed(2)}`,
    `anomaly detector flags ${(100 * t.anomalyRecallOnAttacks).toFixed(1)} % of attack test flows`,
    ...(report.corpusTest ? [`benign corpus test captures raising any flow alert: ${report.corpusTest.capturesAlerting} of ${report.corpusTest.captures} (${Object.entries(report.corpusTest.capturesByClass).map(([c, n]) => `${c} ${n}`).join(', ') || 'none'}); ${report.corpusTest.falseAlertsPer10k.toFixed(1)} false alerts per 10k of its ${report.corpusTest.flows} flows`] : []),
    `size int8 ${report.sizeBytes.int8} B, float ${report.sizeBytes.float} B; throughput (batch ${report.throughputRowsPerS.batch}, 1 thread) int8 ${report.throughputRowsPerS.int8} rows/s, float ${report.throughputRowsPerS.float} rows/s`,
    `trained in ${((Date.now() - t0) / 1000).toFixed(1)} s`, '',
  ].join('\n'));
  return 0;
}
