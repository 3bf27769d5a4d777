import { z } from 'zod';

/** The shapes every route shares: the error body and the list envelope. */
export const errorBodySchema = z
  .object({
    error: z.object({
      code: z.string().describe('Stable, part of the API (`validation_failed`, `not_found`, …)'),
      message: z.string().describe('For people; the wording may change'),
      details: z
        .unknown()
        .optional()
        .describe(
          'What the code needs: the problems of a 400 (`[{ path, message }]`), the line and column of a refused upload, the ids that a 409 names',
        ),
    }),
  })
  .describe('Every error answer: `{ "error": { "code", "message", "details"? } }`');
export type ErrorBody = z.infer<typeof errorBodySchema>;

const continuationTokenSchema = z
  .string()
  .describe('Opaque: send it back as `?continuationToken=` for the next page; absent on the last page');

/** A list answer: `{ items, continuationToken? }`. */
export function listSchema<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), continuationToken: continuationTokenSchema.optional() });
}
