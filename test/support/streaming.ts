import { HttpRequest, type HttpRequestInit } from '@azure/functions';
import { principalHeader, type Principal } from './http';

/** A body of `totalBytes` in `chunkBytes` pieces that counts what the reader pulled. */
export function countingBody(totalBytes: number, chunkBytes: number, fill = 0x20): { stream: ReadableStream<Uint8Array>; pulledBytes: () => number } {
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (pulled >= totalBytes) return controller.close();
        const size = Math.min(chunkBytes, totalBytes - pulled);
        pulled += size;
        controller.enqueue(new Uint8Array(size).fill(fill));
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, pulledBytes: () => pulled };
}

/** A request whose body is streamed (no `Content-Length`), as the Functions host passes it with HTTP streaming on. */
export function streamingRequest(options: { method: string; url: string; headers?: Record<string, string>; principal?: Principal; params?: Record<string, string>; body: ReadableStream<Uint8Array> }): HttpRequest {
  const headers = new Headers(options.headers);
  if (options.principal) headers.set('x-ms-client-principal', principalHeader(options.principal));
  const nativeRequest = new Request(options.url, { method: options.method, headers, body: options.body, duplex: 'half' });
  return new HttpRequest({ nativeRequest, params: options.params ?? {} } as unknown as HttpRequestInit);
}
