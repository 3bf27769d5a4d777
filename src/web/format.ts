import type { RunStatus } from '../domain/run';

const numberFormat = new Intl.NumberFormat('en-US');

export const count = (value: number): string => numberFormat.format(value);

export function bytes(value: number): string {
  if (value < 1024) return `${value} B`;
  const units = ['KB', 'MB', 'GB'];
  let scaled = value / 1024;
  let unit = 0;
  while (scaled >= 1024 && unit < units.length - 1) {
    scaled /= 1024;
    unit += 1;
  }
  return `${scaled.toFixed(scaled < 10 ? 1 : 0)} ${units[unit]}`;
}

const dateTime = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short' });

export const when = (iso: string | undefined): string => (iso ? dateTime.format(new Date(iso)) : '—');

export function duration(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function runSeconds(run: { startedAt?: string; finishedAt?: string; createdAt: string }): number | undefined {
  if (!run.finishedAt) return undefined;
  return (Date.parse(run.finishedAt) - Date.parse(run.startedAt ?? run.createdAt)) / 1000;
}

export const STATUS_LABELS: Record<RunStatus, string> = {
  queued: 'Queued',
  planning: 'Planning',
  running: 'Running',
  succeeded: 'Succeeded',
  partially_succeeded: 'Partly succeeded',
  failed: 'Failed',
  cancelled: 'Cancelled',
  skipped: 'Skipped',
};

export const PROVIDER_LABELS = { iterable: 'Iterable', brevo: 'Brevo', omnisend: 'Omnisend' } as const;

export function providerLabel(provider: string): string {
  return provider in PROVIDER_LABELS ? PROVIDER_LABELS[provider as keyof typeof PROVIDER_LABELS] : provider;
}
