// Email normalisation and validation for the planner: trimmed, lower-cased, one `@`, a dotted
// domain of letters, digits and hyphens with a top-level domain of two or more letters, within the
// RFC 5321 lengths. Deliberately stricter than RFC 5322: what providers accept.

const LOCAL_PART = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const DOMAIN = /^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63}$/;

export type EmailCheck = { ok: true; email: string } | { ok: false; code: 'missing_email' | 'invalid_email'; reason: string };

export function normalizeEmail(raw: string | undefined): EmailCheck {
  const email = (raw ?? '').trim().toLowerCase();
  if (email === '') return { ok: false, code: 'missing_email', reason: 'The mapped email field is empty' };
  if (email.length > 254) return { ok: false, code: 'invalid_email', reason: 'The email is longer than 254 characters' };
  const at = email.lastIndexOf('@');
  if (at <= 0 || at !== email.indexOf('@')) return { ok: false, code: 'invalid_email', reason: 'The email needs exactly one @ with text before it' };
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  if (local.length > 64 || !LOCAL_PART.test(local)) return { ok: false, code: 'invalid_email', reason: 'The part before @ is not valid' };
  if (!DOMAIN.test(domain)) return { ok: false, code: 'invalid_email', reason: 'The domain is not valid' };
  return { ok: true, email };
}
