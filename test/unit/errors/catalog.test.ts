import { describe, expect, it } from 'vitest';
import { Errors, isAppError, toErrorResponse, validationError } from '../../../src/errors';
import { ProviderAuthError, ProviderPermanentError, ProviderThrottledError, ProviderTransientError, toApiError } from '../../../src/providers/errors';

describe('the error catalog', () => {
  it("adds the last argument's details and cause, keeping the entry's code, status and message", () => {
    const cause = new Error('underneath');
    const error = Errors.segmentTooLarge(10, 3, { details: { line: 3 }, cause });
    expect(error).toMatchObject({ code: 'segment_too_large', status: 413, message: 'The upload exceeds 10 bytes (reached at line 3)', details: { line: 3 } });
    expect(error.cause).toBe(cause);
    expect(toErrorResponse(error)).toEqual({ status: 413, body: { error: { code: 'segment_too_large', message: error.message, details: { line: 3 } } } });
  });

  it('builds an error without the last argument, and one whose template takes no arguments', () => {
    expect(Errors.notFound('Run', 'r1')).toMatchObject({ code: 'not_found', status: 404, details: undefined, message: "Run 'r1' does not exist" });
    expect(Errors.invalidJson({ details: 'x' })).toMatchObject({ code: 'invalid_json', status: 400, details: 'x' });
  });

  it('names the first validation problem in the message and lists them all in the details', () => {
    const problems = [{ path: 'mapping.email', message: 'is required' }, { path: 'name', message: 'is too long' }];
    const error = validationError('export', problems);
    expect(error).toMatchObject({ code: 'validation_failed', status: 400, message: 'The export is not valid: mapping.email is required', details: problems });
    expect(isAppError(error, Errors.validationFailed)).toBe(true);
  });
});

describe('toApiError', () => {
  const init = { provider: 'brevo' as const, statusCode: 401, providerCode: 'unauthorized' };

  it('answers 422 provider_auth_failed for a refused key, with the provider error as cause', () => {
    const refused = new ProviderAuthError(init);
    const error = toApiError(refused);
    expect(error).toMatchObject({ code: 'provider_auth_failed', status: 422, message: 'Brevo rejected the API key', details: { statusCode: 401, providerCode: 'unauthorized' } });
    expect((error as Error).cause).toBe(refused);
  });

  it.each([
    ['throttled', new ProviderThrottledError({ ...init, statusCode: 429, retryAfterMs: 1000, retryAfterSource: 'provider' })],
    ['transient', new ProviderTransientError({ ...init, statusCode: 503 })],
    ['permanent', new ProviderPermanentError({ ...init, statusCode: 400 })],
  ])('answers 502 provider_unavailable for a %s failure', (_kind, failure) => {
    expect(toApiError(failure)).toMatchObject({ code: 'provider_unavailable', status: 502, cause: failure });
  });

  it('returns anything else as it is', () => {
    const other = new Error('not a provider error');
    expect(toApiError(other)).toBe(other);
  });
});
