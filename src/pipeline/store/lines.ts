// Text lines out of a downloaded blob (the planner's rejects are NDJSON), a chunk at a time.
import type { Readable } from 'node:stream';

/** Splits a byte stream into UTF-8 lines without holding more than one chunk and a partial line. */
export async function* readLines(stream: Readable | NodeJS.ReadableStream): AsyncGenerator<string> {
  let rest = '';
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    const text = rest + (typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    let start = 0;
    for (let end = text.indexOf('\n', start); end !== -1; end = text.indexOf('\n', start)) {
      yield text.slice(start, end);
      start = end + 1;
    }
    rest = text.slice(start);
  }
  rest += decoder.decode();
  if (rest !== '') yield rest;
}
