/** Confusion matrix and per-class precision / recall / F1 (rows = true class, columns = predicted). */
export interface ClassReport { name: string; support: number; precision: number; recall: number; f1: number; }
export interface Evaluation { confusion: number[][]; perClass: ClassReport[]; macroF1: number; accuracy: number; }

export function evaluate(truth: ArrayLike<number>, predicted: ArrayLike<number>, classNames: readonly string[]): Evaluation {
  const k = classNames.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  for (let i = 0; i < truth.length; i++) {
    confusion[truth[i]!]![predicted[i]!]!++;
    if (truth[i] === predicted[i]) correct++;
  }
  const perClass = classNames.map((name, c) => {
    const tp = confusion[c]![c]!;
    const support = confusion[c]!.reduce((s, v) => s + v, 0);
    const predictedC = confusion.reduce((s, row) => s + row[c]!, 0);
    const precision = predictedC ? tp / predictedC : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    return { name, support, precision, recall, f1 };
  });
  const present = perClass.filter((p) => p.support > 0);
  return { confusion, perClass, macroF1: present.reduce((s, p) => s + p.f1, 0) / Math.max(1, present.length), accuracy: correct / Math.max(1, truth.length) };
}

export function formatEvaluation(ev: Evaluation, classNames: readonly string[]): string {
  const w = Math.max(10, ...classNames.map((c) => c.length));
  const lines = [`| class | support | precision | recall | F1 |`, `|---|---:|---:|---:|---:|`];
  for (const p of ev.perClass) lines.push(`| ${p.name} | ${p.support} | ${p.precision.toFixed(4)} | ${p.recall.toFixed(4)} | ${p.f1.toFixed(4)} |`);
  lines.push(`| **macro** | | | | **${ev.macroF1.toFixed(4)}** |`, '', `Confusion matrix (rows = true, columns = predicted):`, '');
  lines.push(`| true \\ pred | ${classNames.join(' | ')} |`, `|---|${classNames.map(() => '---:').join('|')}|`);
  ev.confusion.forEach((row, c) => lines.push(`| ${classNames[c]!.padEnd(w)} | ${row.join(' | ')} |`));
  return lines.join('\n');
}
