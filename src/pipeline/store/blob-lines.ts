// Streams text lines into a block blob with bounded memory: lines are gathered into pieces of a
// few hundred kilobytes and uploaded in 4 MiB blocks as they come.
import type { BlockBlobClient } from '@azure/storage-blob';
import { PassThrough } from 'node:stream';

export class BlobLineWriter {
  private readonly stream = new PassThrough({ highWaterMark: 1024 * 1024 });
  private readonly upload: Promise<unknown>;
  private buffer: string[] = [];
  private bufferedChars = 0;

  constructor(blob: BlockBlobClient, contentType: string) {
    this.upload = blob.uploadStream(this.stream, 4 * 1024 * 1024, 4, { blobHTTPHeaders: { blobContentType: contentType } });
    // Keep the rejection handled until close() awaits it.
    this.upload.catch(() => undefined);
  }

  /** `line` must end with a newline. */
  async write(line: string): Promise<void> {
    this.buffer.push(line);
    this.bufferedChars += line.length;
    if (this.bufferedChars >= 256 * 1024) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.buffer.length === 0) return;
    const text = this.buffer.join('');
    this.buffer = [];
    this.bufferedChars = 0;
    if (!this.stream.write(text)) await new Promise<void>((resolve) => this.stream.once('drain', resolve));
  }

  async close(): Promise<void> {
    await this.flush();
    this.stream.end();
    await this.upload;
  }

  abort(): void {
    this.stream.destroy(new Error('aborted'));
  }
}
