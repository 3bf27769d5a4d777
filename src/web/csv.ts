import type { RejectRow } from '../domain/run';

// The rejects as a CSV file a spreadsheet opens safely.

const COLUMNS = ['email', 'segmentId', 'code', 'reason'] as const satisfies readonly (keyof RejectRow)[];

/**
 * One cell: quoted when it holds a comma, quote or line break; a value a spreadsheet would run
 * as a formula (=, +, -, @, tab, carriage return first) gets a leading apostrophe.
 */
export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function rejectsCsv(rows: readonly RejectRow[]): string {
  const lines = [COLUMNS.join(','), ...rows.map((row) => COLUMNS.map((column) => csvCell(row[column])).join(','))];
  return `${lines.join('\r\n')}\r\n`;
}
