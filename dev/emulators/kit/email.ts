const DOMAIN_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const EMAIL = new RegExp(`^[^\\s@"(),:;<>\\[\\]\\\\]+@${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})+$`);

/**
 * What the emulated providers reject: bad syntax, or a domain under the reserved `.invalid` TLD,
 * so that tests can send an address a client-side validator accepts and the provider refuses.
 */
export function isInvalidEmail(email: string): boolean {
  if (email.length > 254 || !EMAIL.test(email)) return true;
  return email.toLowerCase().endsWith('.invalid');
}

/** State is keyed by this form: providers match emails without regard to case. */
export function emailKey(email: string): string {
  return email.trim().toLowerCase();
}
