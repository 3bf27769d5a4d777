// The one catalog of errors. Each entry has a stable `code` (part of the public API), an HTTP
// status and a message template; its factory's optional last argument `{ details, cause }` adds
// what the caller needs to fix the request and the error it wraps. Code outside this file never
// builds an `AppError` by hand: an error the app answers is an entry here.
import type { z } from 'zod';
import type { ErrorBody } from './domain/envelope';

/** What a catalog factory's last argument may add to the error. */
export interface AppErrorOptions {
  /** Part of the public answer (`error.details`): which field, line or export is at fault. */
  details?: unknown;
  /** The error this one wraps (logged, never answered). */
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: unknown;

  constructor(code: string, status: number, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = status;
    this.details = options.details;
  }
}

export type ErrorFactory<Args extends unknown[]> = ((...args: [...Args, AppErrorOptions?]) => AppError) & { code: string; status: number };

/**
 * Declares one catalog entry: a factory whose errors all carry `code` and `status`. A message
 * template takes required parameters only, so its arity says where `{ details, cause }` begins.
 */
function defineError<Args extends unknown[]>(
  code: string,
  status: number,
  message: (...args: Args) => string,
): ErrorFactory<Args> {
  const arity = message.length;
  const factory = (...args: [...Args, AppErrorOptions?]): AppError => {
    const options = args.length > arity ? (args[arity] as AppErrorOptions | undefined) : undefined;
    return new AppError(code, status, message(...(args.slice(0, arity) as Args)), options);
  };
  return Object.assign(factory, { code, status });
}

/**
 * The same error with `details` (and `cause`) added.
 * @deprecated Pass `{ details, cause }` as the factory's last argument. Kept only for the CSV and
 * NDJSON parsers, which another branch of issue 10 is splitting; they move over when it lands.
 */
export function withDetails(error: AppError, details: unknown, cause?: unknown): AppError {
  return new AppError(error.code, error.status, error.message, { details, cause: cause ?? error.cause });
}

export interface ValidationIssue {
  path: string;
  message: string;
}

export const Errors = {
  // 400
  validationFailed: defineError('validation_failed', 400, (what: string) => `The ${what} is not valid`),
  /** `validation_failed` naming the first of several problems: build it with `validationError`. */
  validationProblems: defineError(
    'validation_failed',
    400,
    (what: string, problems: readonly ValidationIssue[]) =>
      `The ${what} is not valid${problems[0] ? `: ${problems[0].path} ${problems[0].message}` : ''}`,
  ),
  invalidContinuationToken: defineError('validation_failed', 400, () => 'The continuationToken is not one this API gave out'),
  invalidJson: defineError('invalid_json', 400, () => 'The request body is not valid JSON'),
  consentRequired: defineError(
    'consent_required',
    400,
    () => 'Accept the data-privacy terms (acceptPrivacyTerms: true) before creating a connection',
  ),
  payloadTooLarge: defineError('payload_too_large', 413, (maxBytes: number) => `The request body exceeds ${maxBytes} bytes`),
  unsupportedMediaType: defineError(
    'unsupported_media_type',
    415,
    (contentType: string, accepted: string) => `Content type '${contentType}' is not accepted here; use ${accepted}`,
  ),
  // segment uploads: `details` name the place ({ line, column?, limit?, max? })
  segmentEmpty: defineError('segment_empty', 400, () => 'The upload holds no records: send a header row and at least one record'),
  segmentCsvMalformed: defineError(
    'segment_csv_malformed',
    400,
    (line: number, column: number, reason: string) => `Malformed CSV at line ${line}, column ${column}: ${reason}`,
  ),
  segmentJsonMalformed: defineError(
    'segment_json_malformed',
    400,
    (line: number, column: number, reason: string) => `Malformed JSON at line ${line}, column ${column}: ${reason}`,
  ),
  segmentEncodingInvalid: defineError(
    'segment_encoding_invalid',
    400,
    (line: number) => `The upload is not valid UTF-8 at line ${line}`,
  ),
  segmentKeyMissing: defineError('segment_key_missing', 400, (message: string) => message),
  segmentLimitExceeded: defineError(
    'segment_limit_exceeded',
    400,
    (limit: string, max: number, line: number) => `Line ${line} exceeds the limit ${limit} = ${max}`,
  ),
  segmentTooLarge: defineError(
    'segment_too_large',
    413,
    (maxBodyBytes: number, line: number) => `The upload exceeds ${maxBodyBytes} bytes (reached at line ${line})`,
  ),
  mappingFieldMissing: defineError(
    'mapping_field_missing',
    409,
    (fields: readonly string[]) =>
      `The upload lacks field(s) ${fields.map((field) => `'${field}'`).join(', ')} that an export using this segment maps; fix the file, change the export's mapping, or repeat with ?force=true`,
  ),
  segmentInUse: defineError(
    'segment_in_use',
    409,
    (exportIds: readonly string[]) => `The segment is used by export(s) ${exportIds.join(', ')}; remove it from them first`,
  ),
  // segment sources: the account a source names, and problems of its files (recorded on the source)
  sourceAccountNotAllowed: defineError(
    'source_account_not_allowed',
    400,
    (accountUrl: string) =>
      `'${accountUrl}' is not an Azure Storage blob or dfs endpoint (https://<account>.blob.core.windows.net) nor the app's own storage account`,
  ),
  sourceModelInvalid: defineError(
    'source_model_invalid',
    422,
    (path: string, reason: string) => `${path} does not describe a CDM folder the app can read: ${reason}`,
  ),
  sourceFormatUnsupported: defineError(
    'source_format_unsupported',
    422,
    (path: string, reason: string) => `${path} uses a file format the app does not read: ${reason}`,
  ),
  // 401 / 403
  unauthenticated: defineError('unauthenticated', 401, () => 'Sign in: this request carries no valid principal'),
  forbidden: defineError('forbidden', 403, (action: string) => `Your role does not allow you to ${action}`),
  // 404 / 409
  notFound: defineError('not_found', 404, (kind: string, id: string) => `${kind} '${id}' does not exist`),
  conflict: defineError('conflict', 409, (message: string) => message),
  runInProgress: defineError(
    'run_in_progress',
    409,
    (runId: string) => `This export already has an active run (${runId}); wait for it or cancel it`,
  ),
  // 422 / 502 — the provider's answer, as the API gives it (`toApiError` in src/providers/errors.ts)
  providerAuthFailed: defineError(
    'provider_auth_failed',
    422,
    (provider: string) => `${provider} rejected the API key`,
  ),
  providerUnavailable: defineError(
    'provider_unavailable',
    502,
    (provider: string) => `${provider} could not be reached or did not answer correctly; try again later`,
  ),
  listNotFound: defineError(
    'list_not_found',
    422,
    (provider: string, listId: number) => `${provider} has no list ${listId} for this connection`,
  ),
  // A classified provider failure (the `ProviderError` classes): the pipeline acts on these; the
  // API maps them first, so a client sees these codes only when one reaches it unmapped.
  providerThrottled: defineError('provider_throttled', 503, (description: string) => description),
  providerTransient: defineError('provider_transient', 502, (description: string) => description),
  providerAuth: defineError('provider_auth', 422, (description: string) => description),
  providerPermanent: defineError('provider_permanent', 502, (description: string) => description),
  // 5xx
  dependencyUnavailable: defineError(
    'dependency_unavailable',
    503,
    (dependency: string) => `${dependency} is not reachable`,
  ),
  authenticationOff: defineError(
    'authentication_off',
    503,
    () =>
      'App Service Authentication is not enabled for this app, so the caller\'s identity cannot be trusted: no authorized route is served until it is (WEBSITE_AUTH_ENABLED is not True)',
  ),
  internal: defineError('internal_error', 500, () => 'Something went wrong on our side; the error was logged'),
  // queue messages (a bug of ours, never a client's: they surface as failed invocations)
  messageTooLarge: defineError(
    'message_too_large',
    500,
    (bytes: number, maxBytes: number) => `A queue message of ${bytes} bytes exceeds ${maxBytes} bytes; use a claim check`,
  ),
  invalidMessage: defineError(
    'invalid_message',
    500,
    (queue: string) => `A message on queue '${queue}' does not have the expected shape`,
  ),
  // start-up
  invalidConfiguration: defineError(
    'invalid_configuration',
    500,
    (problems: readonly string[]) => `The app settings are not valid:\n  - ${problems.join('\n  - ')}`,
  ),
} as const;

/** zod issues as `{ path, message }`, the `details` of a 400. */
export function describeIssues(error: z.ZodError): ValidationIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join('.') || '(body)',
    message: issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : issue.message,
  }));
}

/** A 400 `validation_failed` whose message names the first problem and whose details list them all. */
export function validationError(what: string, problems: z.ZodError | readonly ValidationIssue[]): AppError {
  const issues = 'issues' in problems ? describeIssues(problems) : [...problems];
  return Errors.validationProblems(what, issues, { details: issues });
}

/** The single mapping from any thrown value to an HTTP status and the public error body. */
export function toErrorResponse(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof AppError) {
    const body: ErrorBody = { error: { code: error.code, message: error.message } };
    if (error.details !== undefined) body.error.details = error.details;
    return { status: error.status, body };
  }
  const internal = Errors.internal();
  return { status: internal.status, body: { error: { code: internal.code, message: internal.message } } };
}

export function isAppError(error: unknown, factory?: { code: string }): error is AppError {
  return error instanceof AppError && (factory === undefined || error.code === factory.code);
}
