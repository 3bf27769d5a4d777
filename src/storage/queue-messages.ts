// Queue messages are JSON, base64-encoded (host.json `messageEncoding: base64`), and at most
// 48 KiB before encoding so that the encoded message stays under the 64 KiB queue limit.
// Anything larger goes to a blob and the message carries its name (claim check).
import type { QueueClient } from '@azure/storage-queue';
import type { z } from 'zod';
import type { OperationOptions } from '../app/operation';
import { Errors } from '../errors';

export const MAX_MESSAGE_BYTES = 48 * 1024;
export const MAX_VISIBILITY_DELAY_IN_SECONDS = 7 * 24 * 3600;

export function encodeMessage(value: unknown): string {
  const json = Buffer.from(JSON.stringify(value), 'utf8');
  if (json.byteLength > MAX_MESSAGE_BYTES) throw Errors.messageTooLarge(json.byteLength, MAX_MESSAGE_BYTES);
  return json.toString('base64');
}

export interface SendMessageOptions extends OperationOptions {
  /** How long the message stays invisible: a retry delay or a throttling wait. */
  visibilityDelayInSeconds?: number;
}

export async function sendMessage(queue: QueueClient, value: unknown, options: SendMessageOptions = {}): Promise<void> {
  const delay = Math.min(Math.max(0, Math.ceil(options.visibilityDelayInSeconds ?? 0)), MAX_VISIBILITY_DELAY_IN_SECONDS);
  await queue.sendMessage(encodeMessage(value), {
    visibilityTimeout: delay,
    messageTimeToLive: -1,
    abortSignal: options.abortSignal,
  });
}

/** Validates a queue trigger's payload (already decoded and JSON-parsed by the host). */
export function parseMessage<T extends z.ZodType>(schema: T, payload: unknown, queue: string): z.infer<T> {
  const value = typeof payload === 'string' ? tryJson(payload) : payload;
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw Errors.invalidMessage(queue, { details: parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`) });
  }
  return parsed.data;
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
