/**
 * `netsensor model <subcommand>`: train, evaluate, inspect or publish detection models. Each subcommand lives in
 * models/<name>.ts and is loaded lazily (publishing never pays for training code and vice versa).
 */
import { NetsensorError } from '../../common/errors.js';

export const summary = 'train, evaluate, inspect or publish detection models';

const SUBCOMMANDS: Record<string, { summary: string; load: () => Promise<(argv: string[]) => Promise<number>> }> = {
  train: {
    summary: 'train, calibrate and quantize the detection model from a labelled flow dataset',
    load: async () => (await import('./model/train.js')).runTrain,
  },
  eval: {
    summary: 'evaluate a model on a dataset\'s test runs or on labelled captures',
    load: async () => (await import('./model/eval.js')).runEval,
  },
  'calibrate-episodes': {
    summary: 'calibrate the episode thresholds on validation data and write them into the model',
    load: async () => (await import('./model/calibrate-episodes.js')).runCalibrateEpisodes,
  },
  info: {
    summary: 'print a model file\'s metadata after checking it against this sensor',
    load: async () => (await import('./model/info.js')).runInfo,
  },
  publish: {
    summary: 'sign a model and hand it to the gateway for a staged over-the-air rollout',
    load: async () => (await import('./model/publish.js')).runPublish,
  },
};

function usage(): string {
  return ['usage: netsensor model <subcommand> [options]   (netsensor model <subcommand> --help)', '',
    ...Object.entries(SUBCOMMANDS).map(([n, s]) => `  ${n.padEnd(18)}  ${s.summary}`)].join('\n') + '\n';
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h') {
    process.stdout.write(usage());
    return sub ? 0 : 2;
  }
  const entry = SUBCOMMANDS[sub];
  if (!entry) throw new NetsensorError('ERR_USAGE', `unknown model subcommand '${sub}'\n${usage()}`);
  return (await entry.load())(rest);
}
