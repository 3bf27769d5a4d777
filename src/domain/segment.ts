import { z } from 'zod';
import { listSchema } from './envelope';

/**
 * A segment: a named set of customer profiles, each identified by a stable profile key. Its
 * metadata lives in Table storage; its members live in Blob storage as immutable versions, one per
 * upload, of which exactly one is current.
 */
export const segmentIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'an id is 1-64 letters, digits, - or _');

export const segmentNameSchema = z.string().trim().min(1).max(200);

/**
 * A version id: the upload's start time (UTC, millisecond precision) and a random suffix, so that
 * ids sort in the order uploads started: `20250131T235959123Z-3f9a1c`.
 */
export const segmentVersionSchema = z.string().regex(/^\d{8}T\d{9}Z-[0-9a-f]{6}$/, 'not a segment version id');
export type SegmentVersion = z.infer<typeof segmentVersionSchema>;

/** Field names as they appear in the upload (CSV header, NDJSON property names). */
export const segmentFieldNameSchema = z.string().min(1).max(128);

/** The metadata of a segment: what the API returns and what the planner reads. */
export const segmentSchema = z.object({
  id: segmentIdSchema,
  name: segmentNameSchema,
  /** Every field of the current version, in the order of the upload (header order / first appearance). */
  fields: z.array(segmentFieldNameSchema),
  /** The field whose value is each member's profile key. */
  keyField: segmentFieldNameSchema,
  /** Distinct profile keys in the current version. */
  memberCount: z.number().int().nonnegative(),
  version: segmentVersionSchema,
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  updatedBy: z.string(),
});
export type Segment = z.infer<typeof segmentSchema>;
export const segmentListSchema = listSchema(segmentSchema);

/**
 * One member as the reader yields it. `key` is the trimmed value of the key field; `values` holds
 * every field of the version (the key field included) as the text that was uploaded: CSV fields
 * verbatim, NDJSON strings unescaped, numbers as written (`1e3` stays `1e3`), booleans as
 * `true`/`false`. A field the record did not carry (NDJSON) or carried as `null` is `''`.
 */
export interface SegmentMember {
  key: string;
  values: Record<string, string>;
}

/** One version of a segment as a run reads it (a run may read a version that is no longer current). */
export interface SegmentVersionInfo {
  segmentId: string;
  version: SegmentVersion;
  fields: string[];
  keyField: string;
  memberCount: number;
}

export const SEGMENT_FORMATS = ['csv', 'ndjson'] as const;
export type SegmentFormat = (typeof SEGMENT_FORMATS)[number];

/** Content types accepted by `PUT /api/segments/{segmentId}`, by format. */
export const SEGMENT_CONTENT_TYPES: Readonly<Record<string, SegmentFormat>> = {
  'text/csv': 'csv',
  'application/csv': 'csv',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'application/jsonl': 'ndjson',
};

/** Key fields tried, in order, when the upload does not name one (`keyField`). */
export const DEFAULT_KEY_FIELDS = ['CustomerId', 'id'] as const;

/** Limits every upload is held to; an upload over any of them is refused with the limit's name. */
export interface SegmentLimits {
  /** Bytes of the request body (before decoding). */
  maxBodyBytes: number;
  maxFieldsPerRecord: number;
  /** Characters (UTF-16 code units) of one field value. */
  maxFieldChars: number;
  /** Characters of one physical line; a quoted CSV field may span lines. */
  maxLineChars: number;
  /** Characters of a field name. */
  maxFieldNameChars: number;
  /** Records in one upload: the ingestion keeps every key in memory to find duplicates. */
  maxRecords: number;
}

/**
 * `maxBodyBytes` and `maxRecords` are settings (`SEGMENT_MAX_UPLOAD_BYTES`, `SEGMENT_MAX_RECORDS`);
 * these defaults fit a 2 GB Flex Consumption instance: 2 M keys of typical length take about
 * 260 MB, and the body bound also bounds the keys' characters (worst case about 700 MB).
 */
export const DEFAULT_SEGMENT_LIMITS: Readonly<SegmentLimits> = {
  maxBodyBytes: 512 * 1024 ** 2,
  maxFieldsPerRecord: 200,
  maxFieldChars: 16 * 1024,
  maxLineChars: 1024 * 1024,
  maxFieldNameChars: 128,
  maxRecords: 2_000_000,
};

/** Table storage holds a string property of at most 32K UTF-16 characters: the fields' JSON must fit. */
export const MAX_FIELDS_JSON_CHARS = 32 * 1024;

/** Field names that would reach an object's prototype where records become objects. */
export const RESERVED_FIELD_NAMES: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Duplicate profile keys found in one upload: the last record with a key wins. */
export const duplicateKeysReportSchema = z.object({
  count: z.number().int().nonnegative(),
  examples: z
    .array(z.object({ key: z.string(), line: z.number().int().positive() }))
    .describe('The first few repeats: the key and the line of the record that won'),
});
export type DuplicateKeysReport = z.infer<typeof duplicateKeysReportSchema>;

/** What `PUT /api/segments/{segmentId}` answers. */
export const segmentUploadResultSchema = segmentSchema.extend({ duplicateKeys: duplicateKeysReportSchema });
export type SegmentUploadResult = z.infer<typeof segmentUploadResultSchema>;

/** The query of `PUT /api/segments/{segmentId}`. */
export const segmentUploadQuerySchema = z.object({
  name: segmentNameSchema.optional().describe("The segment's display name; kept (or the id, for a new segment) when absent"),
  keyField: segmentFieldNameSchema
    .optional()
    .describe(`The field that holds each member's profile key; by default the first of ${DEFAULT_KEY_FIELDS.join(', ')} that the upload has`),
  force: z
    .enum(['true', 'false'], "must be 'true' or 'false'")
    .optional()
    .describe("`true` accepts an upload that lacks a field mapped by an export that uses the segment (that export's runs then fail before they send)"),
});

