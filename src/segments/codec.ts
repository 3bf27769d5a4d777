// The stored form of a record: a JSON array of its field values on one line. JSON escapes line
// breaks inside values, so a raw line break only ever ends a record — which lets the reader parse
// many lines with one `JSON.parse` call.

/** One record's stored line, line break included. */
export function encodeRow(values: readonly string[]): string {
  return `${JSON.stringify(values)}\n`;
}

/** Parses complete stored lines (joined by `\n`, without the final one) into rows of values. */
export function parseStoredLines(lines: string): string[][] {
  return JSON.parse(`[${lines.replaceAll('\n', ',')}]`) as string[][];
}
