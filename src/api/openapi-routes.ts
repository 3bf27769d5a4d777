// The HTTP routes as the OpenAPI description tells them: one entry per HTTP function of
// `functions/`, by the function's name. A test holds the table to the function definitions (method
// and route) and to the answers the end-to-end tests see.
import { z } from 'zod';
import { connectionIdSchema, deleteConnectionQuerySchema } from '../domain/connection';
import { deleteExportQuerySchema, exportIdSchema } from '../domain/export';
import { pageQuerySchema, runIdSchema, startRunQuerySchema } from '../domain/run';
import { SEGMENT_CONTENT_TYPES, segmentIdSchema, segmentUploadQuerySchema } from '../domain/segment';
import { sourceIdSchema } from '../domain/source';
import { Errors } from '../errors';
import { auditQuerySchema } from '../domain/audit';
import { erasureIdSchema } from '../domain/privacy';
import type { Action } from '../domain/policy';
import type { RequestSchemaName, ResponseSchemaName } from './openapi-schemas';

export type HttpMethodName = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** An answer a route can give besides its success: a catalog entry, by its code and status. */
export interface ErrorCase {
  code: string;
  status: number;
}

export interface SuccessResponse {
  status: number;
  description: string;
  schema?: ResponseSchemaName;
  /** What the `Location` header names, when the answer sets it. */
  location?: string;
}

export type RouteBody =
  | { kind: 'json'; schema: RequestSchemaName }
  | { kind: 'upload'; mediaTypes: readonly string[]; description: string }
  | { kind: 'ignored'; description: string };

export type RouteAccess =
  | { kind: 'principal'; action: Action; contributors?: string }
  /** Any signed-in principal, whatever its roles. */
  | { kind: 'signed-in' }
  | { kind: 'anonymous'; why: string };

export interface RouteSpec {
  /** The name of the function definition (its file in `functions/`). */
  function: string;
  method: HttpMethodName;
  /** The route template of the function's trigger, under the `api` prefix. */
  route: string;
  tag: string;
  summary: string;
  description?: string;
  access: RouteAccess;
  path?: Record<string, z.ZodType>;
  query?: z.ZodType;
  body?: RouteBody;
  responses: readonly SuccessResponse[];
  /** Beyond what every route of its kind can answer (see `openapi.ts`). */
  errors?: readonly ErrorCase[];
}

export const TAGS = [
  { name: 'Health', description: 'Reachability of the dependencies' },
  { name: 'Connections', description: 'Provider accounts and their API keys (Admins manage them)' },
  { name: 'Segments', description: 'Customer segments, uploaded as CSV or NDJSON, kept as immutable versions' },
  { name: 'Exports', description: 'Which connection, which segments, how fields map' },
  { name: 'Runs', description: 'Runs of exports: start, follow, cancel, rejects; the scheduled refresh' },
  { name: 'Sources', description: 'Where another system (Customer Insights) writes segments: CDM folders and csv folders, read on events and on schedule' },
  { name: 'Webhooks', description: 'Callbacks from providers, outside App Service Authentication' },
  { name: 'Audit', description: 'Who changed what, when (Admins)' },
  { name: 'Privacy', description: 'Data-subject erasure and the suppression list (Admins)' },
  { name: 'Meta', description: 'This description' },
] as const;

const connectionPath = { connectionId: connectionIdSchema.describe('An id that does not exist, or that a Contributor may not use, is a 404') };
const segmentPath = { segmentId: segmentIdSchema.describe('1-64 letters, digits, - or _') };
const exportPath = { exportId: exportIdSchema.describe('An export a Contributor may not use is a 404') };
const sourcePath = { sourceId: sourceIdSchema.describe('An id that does not exist is a 404') };
const runPath = { runId: runIdSchema.describe('A run of an export a Contributor may not use is a 404') };

const ON_USABLE_CONNECTIONS = 'only on connections that allow contributors; the others do not exist for them (404)';
const SEGMENT_READERS = 'see a segment that no export uses or that an export on a connection they may use reads; the others do not exist for them (404)';
const SEGMENT_WRITERS = `${SEGMENT_READERS}. They may replace or delete it only when every export that uses it is on a connection they may use (otherwise 403)`;
const CONNECT_ERRORS = [Errors.providerAuthFailed, Errors.providerUnavailable, Errors.dependencyUnavailable] as const;
const UPLOAD_ERRORS = [
  Errors.segmentEmpty,
  Errors.segmentCsvMalformed,
  Errors.segmentJsonMalformed,
  Errors.segmentEncodingInvalid,
  Errors.segmentKeyMissing,
  Errors.segmentLimitExceeded,
  Errors.segmentTooLarge,
  Errors.unsupportedMediaType,
  Errors.conflict,
] as const;
const BREVO_LIST_ERRORS = [Errors.listNotFound, Errors.providerAuthFailed, Errors.providerUnavailable, Errors.dependencyUnavailable] as const;

export const ROUTES: readonly RouteSpec[] = [
  {
    function: 'me',
    method: 'get',
    route: 'me',
    tag: 'Health',
    summary: 'Who is signed in',
    description: 'The caller as the API sees them: user id, name and the app roles they hold (the web app shows it).',
    access: { kind: 'signed-in' },
    responses: [{ status: 200, description: 'The signed-in principal', schema: 'Me' }],
  },
  {
    function: 'health',
    method: 'get',
    route: 'health',
    tag: 'Health',
    summary: 'Storage and Key Vault reachability',
    description: "Names each dependency's state and nothing else. One report answers every caller for 15 s.",
    access: { kind: 'anonymous', why: 'It reveals nothing but up or down.' },
    responses: [
      { status: 200, description: 'Every dependency is reachable', schema: 'HealthReport' },
      { status: 503, description: 'A dependency is down: the report names it', schema: 'HealthReport' },
    ],
  },
  {
    function: 'connections-create',
    method: 'post',
    route: 'connections',
    tag: 'Connections',
    summary: 'Connect a provider account',
    description:
      'The key is verified against the provider first ("Connect"), then kept in Key Vault: it is never stored elsewhere, returned or logged. Consent is recorded (who, when).',
    access: { kind: 'principal', action: 'connection:manage' },
    body: { kind: 'json', schema: 'CreateConnectionBody' },
    responses: [{ status: 201, description: 'Connected', schema: 'PublicConnection', location: 'the new connection' }],
    errors: [Errors.consentRequired, ...CONNECT_ERRORS],
  },
  {
    function: 'connections-list',
    method: 'get',
    route: 'connections',
    tag: 'Connections',
    summary: 'The connections the caller may see, by display name',
    access: { kind: 'principal', action: 'connection:read', contributors: 'see the connections that allow contributors' },
    responses: [{ status: 200, description: 'The connections', schema: 'ConnectionList' }],
  },
  {
    function: 'connections-get',
    method: 'get',
    route: 'connections/{connectionId}',
    tag: 'Connections',
    summary: 'One connection (never its key)',
    access: { kind: 'principal', action: 'connection:read', contributors: ON_USABLE_CONNECTIONS },
    path: connectionPath,
    responses: [{ status: 200, description: 'The connection', schema: 'PublicConnection' }],
    errors: [Errors.notFound],
  },
  {
    function: 'connections-update',
    method: 'patch',
    route: 'connections/{connectionId}',
    tag: 'Connections',
    summary: 'Rename, allow or bar contributors, change options, rotate the key',
    description: 'A new key, or the old key in another Iterable region, is verified before anything changes.',
    access: { kind: 'principal', action: 'connection:manage' },
    path: connectionPath,
    body: { kind: 'json', schema: 'UpdateConnectionBody' },
    responses: [{ status: 200, description: 'The changed connection', schema: 'PublicConnection' }],
    errors: [Errors.notFound, Errors.conflict, ...CONNECT_ERRORS],
  },
  {
    function: 'connections-delete',
    method: 'delete',
    route: 'connections/{connectionId}',
    tag: 'Connections',
    summary: 'Delete a connection and its key',
    description: 'While exports use the connection the answer is 409 naming them (`details.exportIds`), unless `force=true`, which deletes those exports too.',
    access: { kind: 'principal', action: 'connection:manage' },
    path: connectionPath,
    query: deleteConnectionQuerySchema,
    responses: [{ status: 204, description: 'Deleted' }],
    errors: [Errors.validationFailed, Errors.notFound, Errors.conflict, Errors.dependencyUnavailable],
  },
  {
    function: 'segments-list',
    method: 'get',
    route: 'segments',
    tag: 'Segments',
    summary: 'The segments the caller may see, by id',
    access: { kind: 'principal', action: 'segment:read', contributors: SEGMENT_READERS },
    responses: [{ status: 200, description: 'The segments', schema: 'SegmentList' }],
  },
  {
    function: 'segments-get',
    method: 'get',
    route: 'segments/{segmentId}',
    tag: 'Segments',
    summary: "A segment's current version: fields, member count",
    access: { kind: 'principal', action: 'segment:read', contributors: SEGMENT_READERS },
    path: segmentPath,
    responses: [{ status: 200, description: 'The segment', schema: 'Segment' }],
    errors: [Errors.validationFailed, Errors.notFound],
  },
  {
    function: 'segments-put',
    method: 'put',
    route: 'segments/{segmentId}',
    tag: 'Segments',
    summary: "Replace a segment's members (atomically)",
    description:
      'The body is streamed into a new version, which becomes current only when every record was read and stored; a refused upload changes nothing and names the line (and column) of the problem in `details`.',
    access: { kind: 'principal', action: 'segment:write', contributors: SEGMENT_WRITERS },
    path: segmentPath,
    query: segmentUploadQuerySchema,
    body: {
      kind: 'upload',
      mediaTypes: Object.keys(SEGMENT_CONTENT_TYPES),
      description: 'CSV with a header row, or one JSON object per line (NDJSON); UTF-8, uncompressed',
    },
    responses: [{ status: 200, description: 'The new current version', schema: 'SegmentUploadResult' }],
    errors: [Errors.validationFailed, Errors.notFound, Errors.mappingFieldMissing, ...UPLOAD_ERRORS],
  },
  {
    function: 'segments-delete',
    method: 'delete',
    route: 'segments/{segmentId}',
    tag: 'Segments',
    summary: 'Delete a segment',
    description: 'Refused while an export uses it (409 `segment_in_use`, `details.exportIds`). Deleting a segment that does not exist succeeds.',
    access: { kind: 'principal', action: 'segment:write', contributors: SEGMENT_WRITERS },
    path: segmentPath,
    responses: [{ status: 204, description: 'Deleted, or there was no such segment' }],
    errors: [Errors.validationFailed, Errors.notFound, Errors.segmentInUse, Errors.conflict],
  },
  {
    function: 'exports-create',
    method: 'post',
    route: 'exports',
    tag: 'Exports',
    summary: 'Create an export',
    description:
      "`mapping.email` is required and every mapped field must be in every segment; Brevo needs `options.listId` of an existing list; the Iterable list and the Omnisend tag take the segment's name. Saving does not run the export.",
    access: { kind: 'principal', action: 'export:write', contributors: 'only on connections that allow contributors' },
    body: { kind: 'json', schema: 'CreateExportBody' },
    responses: [{ status: 201, description: 'Created (not run); with receivers, the signing secret of JSON notifications, shown this once', schema: 'ExportCreated', location: 'the new export' }],
    errors: [Errors.conflict, ...BREVO_LIST_ERRORS],
  },
  {
    function: 'exports-list',
    method: 'get',
    route: 'exports',
    tag: 'Exports',
    summary: 'The exports the caller may see, by name',
    access: { kind: 'principal', action: 'export:read', contributors: 'see the exports on connections that allow contributors' },
    responses: [{ status: 200, description: 'The exports', schema: 'ExportList' }],
  },
  {
    function: 'exports-get',
    method: 'get',
    route: 'exports/{exportId}',
    tag: 'Exports',
    summary: 'One export, with its active run',
    access: { kind: 'principal', action: 'export:read', contributors: ON_USABLE_CONNECTIONS },
    path: exportPath,
    responses: [{ status: 200, description: 'The export', schema: 'ExportResource' }],
    errors: [Errors.validationFailed, Errors.notFound],
  },
  {
    function: 'exports-update',
    method: 'patch',
    route: 'exports/{exportId}',
    tag: 'Exports',
    summary: "Change an export's name, segments, mapping or options",
    description: 'The connection of an export does not change; the changed export is checked as a new one is.',
    access: { kind: 'principal', action: 'export:write', contributors: ON_USABLE_CONNECTIONS },
    path: exportPath,
    body: { kind: 'json', schema: 'UpdateExportBody' },
    responses: [{ status: 200, description: 'The changed export (with its first receivers, the signing secret, shown this once)', schema: 'ExportCreated' }],
    errors: [Errors.notFound, Errors.conflict, ...BREVO_LIST_ERRORS],
  },
  {
    function: 'exports-delete',
    method: 'delete',
    route: 'exports/{exportId}',
    tag: 'Exports',
    summary: 'Delete an export',
    description:
      'Cancels its active run first. An Admin may delete any export. With `removeMembers=true` a cleanup run first takes out of each target the members this export added (never a foreign one); the export goes when that run succeeds.',
    access: { kind: 'principal', action: 'export:write', contributors: ON_USABLE_CONNECTIONS },
    path: exportPath,
    query: deleteExportQuerySchema,
    responses: [
      { status: 204, description: 'Deleted' },
      { status: 202, description: 'Deletion with its members started: follow the cleanup run', schema: 'RunStarted', location: 'the cleanup run (as `statusUrl`)' },
    ],
    errors: [Errors.validationFailed, Errors.notFound],
  },
  {
    function: 'runs-start',
    method: 'post',
    route: 'exports/{exportId}/runs',
    tag: 'Runs',
    summary: 'Run an export now',
    description: 'One active run per export: while one is active the answer is 409 `run_in_progress` with its `details.runId`. HTTP never waits for provider work.',
    access: { kind: 'principal', action: 'run:start', contributors: ON_USABLE_CONNECTIONS },
    path: exportPath,
    query: startRunQuerySchema,
    responses: [{ status: 202, description: 'Queued: follow `statusUrl`', schema: 'RunStarted', location: 'the run (as `statusUrl`)' }],
    errors: [Errors.validationFailed, Errors.notFound, Errors.runInProgress, Errors.conflict],
  },
  {
    function: 'runs-list',
    method: 'get',
    route: 'exports/{exportId}/runs',
    tag: 'Runs',
    summary: "An export's runs, newest first",
    access: { kind: 'principal', action: 'run:read', contributors: ON_USABLE_CONNECTIONS },
    path: exportPath,
    query: pageQuerySchema,
    responses: [{ status: 200, description: 'A page of runs', schema: 'RunList' }],
    errors: [Errors.validationFailed, Errors.notFound],
  },
  {
    function: 'runs-get',
    method: 'get',
    route: 'runs/{runId}',
    tag: 'Runs',
    summary: "A run's status, totals and progress",
    access: { kind: 'principal', action: 'run:read', contributors: ON_USABLE_CONNECTIONS },
    path: runPath,
    responses: [{ status: 200, description: 'The run', schema: 'RunResource' }],
    errors: [Errors.validationFailed, Errors.notFound],
  },
  {
    function: 'runs-rejects',
    method: 'get',
    route: 'runs/{runId}/rejects',
    tag: 'Runs',
    summary: "A run's rejected records, one row each",
    access: { kind: 'principal', action: 'run:read', contributors: ON_USABLE_CONNECTIONS },
    path: runPath,
    query: pageQuerySchema,
    responses: [{ status: 200, description: 'A page of rejects', schema: 'RejectList' }],
    errors: [Errors.validationFailed, Errors.notFound],
  },
  {
    function: 'runs-cancel',
    method: 'post',
    route: 'runs/{runId}/cancel',
    tag: 'Runs',
    summary: 'Cancel a run: no further chunk is sent',
    description: 'A run that has already finished is answered as it is.',
    access: { kind: 'principal', action: 'run:start', contributors: ON_USABLE_CONNECTIONS },
    path: runPath,
    responses: [{ status: 202, description: 'The run after cancelling', schema: 'RunResource' }],
    errors: [Errors.validationFailed, Errors.notFound],
  },
  {
    function: 'refresh-now',
    method: 'post',
    route: 'refresh',
    tag: 'Runs',
    summary: 'Run the scheduled refresh now',
    description: 'Starts a run of every export; an export with an active run gets a `skipped` run with the reason.',
    access: { kind: 'principal', action: 'refresh:run' },
    responses: [{ status: 202, description: 'The runs the refresh created', schema: 'RefreshResult' }],
  },
  {
    function: 'sources-create',
    method: 'post',
    route: 'sources',
    tag: 'Sources',
    summary: 'Create a segment source',
    description:
      "`cdm-folder`: every entity of the folder's model.json (or manifest) becomes a segment, its partitions read in order as one new version once every partition exists and is stable. `csv-folder`: each sub-folder's newest CSV (header row) or NDJSON file is that segment's membership. `accountUrl` defaults to the app's own storage account; another account must be an Azure Storage endpoint the app's identity may read. Creating a source reads nothing: the next event, the rescan timer or a scan does.",
    access: { kind: 'principal', action: 'source:manage' },
    body: { kind: 'json', schema: 'CreateSourceBody' },
    responses: [{ status: 201, description: 'Created', schema: 'SourceResource', location: 'the new source' }],
    errors: [Errors.sourceAccountNotAllowed, Errors.conflict],
  },
  {
    function: 'sources-list',
    method: 'get',
    route: 'sources',
    tag: 'Sources',
    summary: 'Every source with its status, by display name',
    access: { kind: 'principal', action: 'source:read' },
    responses: [{ status: 200, description: 'The sources', schema: 'SourceList' }],
  },
  {
    function: 'sources-get',
    method: 'get',
    route: 'sources/{sourceId}',
    tag: 'Sources',
    summary: "A source and its status: per entity the last ingested export, what waits, the last error",
    description: 'A malformed model.json shows under `status.problems` with its line and column; a malformed CSV under its entity, naming the partition, line and column. Neither changes a segment.',
    access: { kind: 'principal', action: 'source:read' },
    path: sourcePath,
    responses: [{ status: 200, description: 'The source', schema: 'SourceResource' }],
    errors: [Errors.validationFailed, Errors.notFound],
  },
  {
    function: 'sources-update',
    method: 'patch',
    route: 'sources/{sourceId}',
    tag: 'Sources',
    summary: "Change a source's name, location, entities or whether it runs exports",
    access: { kind: 'principal', action: 'source:manage' },
    path: sourcePath,
    body: { kind: 'json', schema: 'UpdateSourceBody' },
    responses: [{ status: 200, description: 'The changed source', schema: 'SourceResource' }],
    errors: [Errors.notFound, Errors.conflict, Errors.sourceAccountNotAllowed],
  },
  {
    function: 'sources-delete',
    method: 'delete',
    route: 'sources/{sourceId}',
    tag: 'Sources',
    summary: 'Delete a source',
    description: 'The segments it fed stay, with their members: exports may use them.',
    access: { kind: 'principal', action: 'source:manage' },
    path: sourcePath,
    responses: [{ status: 204, description: 'Deleted' }],
    errors: [Errors.validationFailed, Errors.notFound],
  },
  {
    function: 'sources-scan',
    method: 'post',
    route: 'sources/{sourceId}/scan',
    tag: 'Sources',
    summary: 'Scan a source now',
    description: 'Queues a scan, as the rescan timer does: every entity whose newest export is new and complete is ingested, and (with `runExports`) the exports using a changed segment start by themselves.',
    access: { kind: 'principal', action: 'source:manage' },
    path: sourcePath,
    responses: [{ status: 202, description: 'Queued: follow `statusUrl`', schema: 'SourceScanQueued', location: 'the source (as `statusUrl`)' }],
    errors: [Errors.validationFailed, Errors.notFound],
  },
  {
    function: 'webhook-brevo',
    method: 'post',
    route: 'webhooks/brevo/{token}',
    tag: 'Webhooks',
    summary: "Brevo's notifyUrl callback when an import ends",
    description:
      'Only a signal: the chunk whose import ended is woken up (once per import: a repeated call is answered 204 and wakes nothing) and reads the process status itself.',
    access: {
      kind: 'anonymous',
      why: 'Outside App Service Authentication: the unguessable per-import token in the path (bound to the import, expiring after 24 h, deleted when the chunk moves on or its run ends) is the credential.',
    },
    path: { token: z.string().describe('The per-import token the app gave Brevo in `notifyUrl`') },
    body: { kind: 'ignored', description: "Brevo's notification; not read" },
    responses: [{ status: 204, description: 'The chunk was woken up, or had been for this import' }],
    errors: [Errors.notFound],
  },
  {
    function: 'notifications-test',
    method: 'post',
    route: 'exports/{exportId}/notifications/test',
    tag: 'Exports',
    summary: "Send a test notification to each of the export's receivers",
    description: 'One POST to each receiver now, in its format (JSON signed with `x-segment-export-signature`); the answer says how each went.',
    access: { kind: 'principal', action: 'export:write', contributors: ON_USABLE_CONNECTIONS },
    path: exportPath,
    responses: [{ status: 200, description: 'What each receiver answered', schema: 'NotificationTestResult' }],
    errors: [Errors.validationFailed, Errors.notFound],
  },
  {
    function: 'audit-list',
    method: 'get',
    route: 'audit',
    tag: 'Audit',
    summary: 'The audit log, newest first',
    description: 'Every change of connections (a key rotation named as such, never the key), exports, segments and notification receivers; every run start, cancel and confirmRemovals; every erasure. Kept `AUDIT_RETENTION_DAYS` days.',
    access: { kind: 'principal', action: 'audit:read' },
    query: auditQuerySchema,
    responses: [{ status: 200, description: 'A page of entries', schema: 'AuditList' }],
    errors: [Errors.validationFailed],
  },
  {
    function: 'privacy-erasures-create',
    method: 'post',
    route: 'privacy/erasures',
    tag: 'Privacy',
    summary: 'Erase a person from every target an export added them to',
    description:
      'Suppresses the person at once (every later run counts them as `suppressed` and never sends them), then removes them from each list and tag where an export added them (never a global unsubscribe), or with `deleteAtProvider` calls the provider\'s delete; their ledger entries and stored rejects go too.',
    access: { kind: 'principal', action: 'privacy:manage' },
    body: { kind: 'json', schema: 'CreateErasureBody' },
    responses: [{ status: 202, description: 'Queued: follow `statusUrl`', schema: 'ErasureAccepted', location: 'the erasure (as `statusUrl`)' }],
    errors: [Errors.validationFailed],
  },
  {
    function: 'privacy-erasures-get',
    method: 'get',
    route: 'privacy/erasures/{erasureId}',
    tag: 'Privacy',
    summary: "An erasure's status, per destination target",
    access: { kind: 'principal', action: 'privacy:manage' },
    path: { erasureId: erasureIdSchema.describe('As `POST /api/privacy/erasures` answered it') },
    responses: [{ status: 200, description: 'The erasure (never the address)', schema: 'ErasureResource' }],
    errors: [Errors.validationFailed, Errors.notFound],
  },
  {
    function: 'privacy-suppressions-delete',
    method: 'delete',
    route: 'privacy/suppressions/{email}',
    tag: 'Privacy',
    summary: 'Lift the suppression of a person',
    description: 'Later runs may send them again (as an add, when a segment still has them). Recorded in the audit log without the address.',
    access: { kind: 'principal', action: 'privacy:manage' },
    path: { email: z.string().describe('The email (URL-encoded)') },
    responses: [{ status: 204, description: 'Lifted' }],
    errors: [Errors.validationFailed, Errors.notFound],
  },
  {
    function: 'openapi',
    method: 'get',
    route: 'openapi.json',
    tag: 'Meta',
    summary: 'This OpenAPI 3.1 description of the API',
    description: 'The same document as `docs/openapi.json` in the repository.',
    access: { kind: 'anonymous', why: 'The description is public and names no secret.' },
    responses: [{ status: 200, description: 'The OpenAPI document', schema: 'OpenApiDocument' }],
  },
];
