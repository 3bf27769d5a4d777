import type { RunResource } from '../src/domain/run';

/** Console output shared by the demo and the benchmark: live run progress and plain tables. */
export class RunProgress {
  private readonly interactive = process.stderr.isTTY === true;
  private readonly rows = new Map<string, RunResource | undefined>();
  private drawn = 0;
  private lastPlainAt = 0;
  private readonly startedAt = Date.now();

  constructor(labels: readonly string[]) {
    for (const label of labels) this.rows.set(label, undefined);
  }

  update(label: string, run: RunResource): void {
    this.rows.set(label, run);
    this.draw(false);
  }

  finish(): void {
    this.draw(true);
  }

  private draw(final: boolean): void {
    const lines = [...this.rows].map(([label, run]) => line(label, run));
    if (this.interactive) {
      if (this.drawn > 0) process.stderr.write(`\u001b[${this.drawn}A`);
      process.stderr.write(lines.map((text) => `${text}\u001b[K\n`).join(''));
      this.drawn = lines.length;
    } else if (final || Date.now() - this.lastPlainAt > 3_000) {
      this.lastPlainAt = Date.now();
      const elapsed = ((Date.now() - this.startedAt) / 1000).toFixed(0);
      process.stderr.write(`[${elapsed}s]\n${lines.map((text) => `  ${text}\n`).join('')}`);
    }
  }
}

function line(label: string, run: RunResource | undefined): string {
  const width = 30;
  const percent = run?.progress.percent ?? 0;
  const bar = `[${'#'.repeat(Math.round((percent / 100) * width)).padEnd(width, '.')}]`;
  if (!run) return `${label.padEnd(10)} ${bar}   0% waiting`;
  const eta = run.progress.etaSeconds === undefined ? '' : `, about ${run.progress.etaSeconds}s left`;
  return `${label.padEnd(10)} ${bar} ${percent.toFixed(0).padStart(3)}% ${run.status.padEnd(19)} ${run.progress.chunksDone}/${run.progress.chunksTotal} chunks, ${run.totals.sent.toLocaleString('en-US')} sent${eta}`;
}

/** A table with a header row, columns padded to fit; numbers right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [header, ...rows.map((row) => row.map((cell) => (typeof cell === 'number' ? cell.toLocaleString('en-US') : cell)))];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => String(row[column] ?? '').length)));
  const render = (row: readonly (string | number)[], index: number) =>
    row
      .map((cell, column) => {
        const text = String(cell);
        return index > 0 && typeof rows[index - 1]?.[column] === 'number' ? text.padStart(widths[column]!) : text.padEnd(widths[column]!);
      })
      .join('  ');
  return [render(cells[0]!, 0), widths.map((width) => '-'.repeat(width)).join('  '), ...cells.slice(1).map((row, i) => render(row, i + 1))].join('\n');
}

/** A Markdown table. */
export function markdownTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const format = (cell: string | number) => (typeof cell === 'number' ? cell.toLocaleString('en-US') : cell);
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.map(format).join(' | ')} |`)].join('\n');
}

export function seconds(run: RunResource): number {
  const start = Date.parse(run.startedAt ?? run.createdAt);
  const end = Date.parse(run.finishedAt ?? new Date().toISOString());
  return Math.max(0.001, (end - start) / 1000);
}

export function peakRssMb(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}
