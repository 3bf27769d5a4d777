// Run notifications: where an export tells someone that a run ended (a receiver URL, the events it
// wants, the format it speaks), what is delivered, and where a URL may point. Receivers are
// outside the app: https only (loopback http only while the app runs outside Azure, for local
// tests), never a private, link-local or otherwise internal address.
import { z } from 'zod';

export const NOTIFICATION_EVENTS = ['run.succeeded', 'run.partially_succeeded', 'run.failed', 'run.skipped'] as const;
export const notificationEventSchema = z.enum(NOTIFICATION_EVENTS);
export type NotificationEvent = z.infer<typeof notificationEventSchema>;

export const NOTIFICATION_FORMATS = ['json', 'teams', 'slack'] as const;
export const notificationFormatSchema = z.enum(NOTIFICATION_FORMATS);
export type NotificationFormat = z.infer<typeof notificationFormatSchema>;

/** The event a run's terminal status is (a cancelled run notifies nobody). */
export function notificationEventOf(status: string): NotificationEvent | undefined {
  const event = `run.${status}`;
  return (NOTIFICATION_EVENTS as readonly string[]).includes(event) ? (event as NotificationEvent) : undefined;
}

export const MAX_NOTIFICATION_TARGETS = 10;

export const notificationTargetSchema = z
  .object({
    url: z.string().trim().min(1).max(2048).describe('Where to POST: https (a Teams or Slack incoming-webhook URL for those formats)'),
    events: z
      .array(notificationEventSchema)
      .min(1, 'name at least one event')
      .max(NOTIFICATION_EVENTS.length)
      .refine((events) => new Set(events).size === events.length, 'an event is listed twice'),
    format: notificationFormatSchema.default('json').describe('`json`: the documented payload, signed; `teams`, `slack`: their incoming-webhook messages'),
  })
  .strict();
export type NotificationTarget = z.infer<typeof notificationTargetSchema>;

export const notificationsSchema = z.array(notificationTargetSchema).max(MAX_NOTIFICATION_TARGETS);

/** Where the export's signing secret is kept (never the secret itself). */
export const notificationSecretRefSchema = z.object({ name: z.string(), version: z.string() });

/** A notification of a run as its resource shows it: the receiver's host, never its path (Slack and Teams URLs carry a token). */
export const runNotificationSchema = z.object({
  urlHost: z.string(),
  event: notificationEventSchema,
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number().int().min(0),
  lastStatusCode: z.number().int().optional(),
  lastError: z.string().optional(),
});
export type RunNotification = z.infer<typeof runNotificationSchema>;

/** What `POST /api/exports/{exportId}/notifications/test` answers. */
export const notificationTestResultSchema = z.object({
  results: z.array(
    z.object({
      urlHost: z.string(),
      format: notificationFormatSchema,
      delivered: z.boolean(),
      statusCode: z.number().int().optional(),
      error: z.string().optional(),
    }),
  ),
});
export type NotificationTestResult = z.infer<typeof notificationTestResultSchema>;

/** A notification message: the run and the key of its notification row. */
export const notificationMessageSchema = z.object({ runId: z.string().min(1), key: z.string().min(1) });
export type NotificationMessage = z.infer<typeof notificationMessageSchema>;

/** The receiver's host as logs, audit rows and run resources show a URL. */
export function urlHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(invalid URL)';
  }
}

export interface NotificationUrlRules {
  /** Loopback receivers (http or https): local runs and tests only. */
  allowLoopback: boolean;
}

/** Why a receiver URL is refused, or undefined when it may be used. */
export function notificationUrlProblem(text: string, rules: NotificationUrlRules): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'is not an absolute URL';
  }
  if (url.username || url.password) return 'must not carry a user name or password';
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const loopback = isLoopbackHost(host);
  if (loopback) return rules.allowLoopback && (url.protocol === 'http:' || url.protocol === 'https:') ? undefined : 'must not point at this machine';
  if (url.protocol !== 'https:') return 'must be https';
  if (isInternalName(host)) return 'must be a public host name';
  const address = ipKind(host);
  if (address === 'private') return 'must not point at a private, link-local or reserved address';
  return undefined;
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost') || ipKind(host) === 'loopback';
}

function isInternalName(host: string): boolean {
  return ipKind(host) === 'name' && (!host.includes('.') || /\.(local|internal|intranet|lan|home|corp|localdomain)$/.test(host));
}

/** What kind of address a host is: a name, a public IP, loopback, or private/reserved. */
export function ipKind(host: string): 'name' | 'public' | 'loopback' | 'private' {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (v4) return ipv4Kind(v4.slice(1).map(Number));
  if (!host.includes(':')) return 'name';
  return ipv6Kind(host);
}

function ipv4Kind([a = 0, b = 0]: number[]): 'public' | 'loopback' | 'private' {
  if (a === 127) return 'loopback';
  if (a === 0 || a === 10 || a >= 224) return 'private';
  if (a === 100 && b >= 64 && b <= 127) return 'private';
  if (a === 169 && b === 254) return 'private';
  if (a === 172 && b >= 16 && b <= 31) return 'private';
  if (a === 192 && (b === 168 || b === 0)) return 'private';
  if (a === 198 && (b === 18 || b === 19)) return 'private';
  return 'public';
}

function ipv6Kind(host: string): 'public' | 'loopback' | 'private' {
  const address = host.toLowerCase();
  if (address === '::1') return 'loopback';
  if (address === '::') return 'private';
  const mapped = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.exec(address);
  if (mapped) return ipKind(mapped[1]!) === 'name' ? 'private' : (ipKind(mapped[1]!) as 'public' | 'loopback' | 'private');
  if (/^::ffff:/.test(address)) return 'private';
  if (/^f[cd]/.test(address) || /^fe[89ab]/.test(address) || /^ff/.test(address)) return 'private';
  return 'public';
}
