// What a notification says, per format: our documented JSON (signed by the sender), a Teams
// incoming-webhook message (an Adaptive Card attachment) and a Slack incoming-webhook message
// (`text` and Block Kit `blocks`). Pure: the facts in, the body out.
import type { NotificationEvent, NotificationFormat } from '../../domain/notification';
import type { RunResource, Totals } from '../../domain/run';

export interface NotificationFacts {
  event: NotificationEvent | 'notification.test';
  /** Unique per delivery (run, event, receiver): receivers may use it to drop a repeat. */
  deliveryId: string;
  sentAt: string;
  run: Pick<RunResource, 'runId' | 'exportId' | 'status' | 'reason' | 'trigger' | 'mode' | 'dryRun' | 'createdAt' | 'finishedAt' | 'totals'>;
  exportName: string;
  /** The run resource (`/api/runs/{runId}`) and its page in the web app, absolute when PUBLIC_BASE_URL is set. */
  links: { run: string; web: string };
}

/** The body for a receiver of `format`. */
export function notificationBody(format: NotificationFormat, facts: NotificationFacts): unknown {
  switch (format) {
    case 'json':
      return jsonBody(facts);
    case 'teams':
      return teamsBody(facts);
    case 'slack':
      return slackBody(facts);
  }
}

/** The documented payload of `json` receivers. */
export function jsonBody(facts: NotificationFacts): Record<string, unknown> {
  const { run } = facts;
  return {
    type: facts.event,
    id: facts.deliveryId,
    sentAt: facts.sentAt,
    run: {
      runId: run.runId,
      exportId: run.exportId,
      exportName: facts.exportName,
      status: run.status,
      ...(run.reason ? { reason: run.reason } : {}),
      trigger: run.trigger,
      mode: run.mode,
      dryRun: run.dryRun,
      createdAt: run.createdAt,
      ...(run.finishedAt ? { finishedAt: run.finishedAt } : {}),
      totals: run.totals,
    },
    links: facts.links,
  };
}

const STATUS_WORDS: Record<string, string> = {
  succeeded: 'succeeded',
  partially_succeeded: 'partially succeeded',
  failed: 'failed',
  skipped: 'was skipped',
  cancelled: 'was cancelled',
};

function headline(facts: NotificationFacts): string {
  const prefix = facts.event === 'notification.test' ? 'Test notification: ' : '';
  return `${prefix}Export "${facts.exportName}" ${STATUS_WORDS[facts.run.status] ?? facts.run.status}`;
}

const SHOWN_TOTALS: readonly (keyof Totals)[] = ['profiles', 'sent', 'rejected', 'removes', 'failed', 'suppressed'];

function facts(facts: NotificationFacts): { title: string; value: string }[] {
  return [
    { title: 'Run', value: facts.run.runId },
    ...(facts.run.reason ? [{ title: 'Reason', value: facts.run.reason }] : []),
    ...SHOWN_TOTALS.map((name) => ({ title: name, value: String(facts.run.totals[name] ?? 0) })),
  ];
}

/** A Teams incoming-webhook message: `type: message` with one Adaptive Card attachment. */
export function teamsBody(input: NotificationFacts): Record<string, unknown> {
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body: [
            { type: 'TextBlock', text: headline(input), weight: 'Bolder', size: 'Medium', wrap: true },
            { type: 'FactSet', facts: facts(input) },
          ],
          ...(isAbsolute(input.links.web) ? { actions: [{ type: 'Action.OpenUrl', title: 'Open the run', url: input.links.web }] } : {}),
        },
      },
    ],
  };
}

/** A Slack incoming-webhook message: `text` (the fallback and notification line) and `blocks`. */
export function slackBody(input: NotificationFacts): Record<string, unknown> {
  const text = headline(input);
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*${escapeSlack(text)}*` } },
      { type: 'section', fields: facts(input).map(({ title, value }) => ({ type: 'mrkdwn', text: `*${escapeSlack(title)}*\n${escapeSlack(value)}` })) },
      ...(isAbsolute(input.links.web) ? [{ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open the run' }, url: input.links.web }] }] : []),
    ],
  };
}

/** Slack's three control characters in mrkdwn text. */
function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Teams and Slack open absolute links only (without PUBLIC_BASE_URL the links are paths). */
function isAbsolute(link: string): boolean {
  return /^https?:\/\//.test(link);
}
