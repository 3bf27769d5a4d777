import type { z } from 'zod';
import type { ErrorBody } from './domain/envelope';

/**
 * The one catalog of errors. Each error has a stable `code` (part of the public API), an HTTP
 * status, a message and optional `details`; an error that wraps another keeps it as `cause`.
 */
export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: unknown;

  constructor(code: string, status: number, message: string, options: { details?: unknown; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = status;
    this.details = options.details;
  }
}

type ErrorFactory<Args extends unknown[]> = ((...args: Args) => AppError) & { code: string; status: number };

/** Declares one catalog entry: a factory whose errors all carry `code` and `status`. */
function defineError<Args extends unknown[]>(
  code: string,
  status: number,
  message: (...args: Args) => string,
): ErrorFactory<Args> {
  const factory = (...args: Args): AppError => new AppError(code, status, message(...args));
  return Object.assign(factory, { code, status });
}

/** Wraps a catalog factory so a call can add `details` and `cause`. */
export function withDetails(error: AppError, details: unknown, cause?: unknown): AppError {
  return new AppError(error.code, error.status, error.message, { details, cause: cause ?? error.cause });
}

export const Errors = {
  // 400
  validationFailed: defineError('validation_failed', 400, (what: string) => `The ${what} is not valid`),
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
  segmentInUse: defineError(
    'segment_in_use',
    409,
    (exportIds: readonly string[]) => `The segment is used by export(s) ${exportIds.join(', ')}; remove it from them first`,
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
  // 422 / 502 — the provider's answer
  providerAuthFailed: defineError(
    'provider_auth_failed',
    422,
    (provider: string) => `${provider} rejected the API key`,
  ),
  listNotFound: defineError('list_not_found', 422, (listId: number) => `Brevo has no list ${listId} for this connection`),
  providerUnavailable: defineError(
    'provider_unavailable',
    502,
    (provider: string) => `${provider} could not be reached or did not answer correctly; try again later`,
  ),
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
  // start-up
  invalidConfiguration: defineError(
    'invalid_configuration',
    500,
    (problems: readonly string[]) => `The app settings are not valid:\n  - ${problems.join('\n  - ')}`,
  ),
} as const;

export interface ValidationIssue {
  path: string;
  message: string;
}

/** zod issues as `{ path, message }`, the `details` of a 400. */
export function describeIssues(error: z.ZodError): ValidationIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join('.') || '(body)',
    message: issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : issue.message,
  }));
}

/** A 400 `code` error whose details list every problem the schema found. */
export function validationError(what: string, error: z.ZodError, code = 'validation_failed'): AppError {
  const issues = describeIssues(error);
  const first = issues[0];
  const message = `The ${what} is not valid${first ? `: ${first.path} ${first.message}` : ''}`;
  return new AppError(code, 400, message, { details: issues });
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
