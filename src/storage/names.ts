// The one source of every queue, table and blob container name the app uses. The infrastructure
// template creates exactly these (a test reads this module and the Bicep files and compares).
// A namespace prefixes every name so that test files can share one storage account.

export const QUEUE_NAMES = {
  plan: 'export-plan',
  chunksIterable: 'export-chunks-iterable',
  chunksBrevo: 'export-chunks-brevo',
  chunksOmnisend: 'export-chunks-omnisend',
  /** Run notifications to deliver (one message per run, event and receiver). */
  notifications: 'run-notifications',
  /** Data-subject erasures to carry out at the providers. */
  erasures: 'privacy-erasures',
  /** Event Grid BlobCreated events of segment sources, and the app's own scan requests. */
  sourceEvents: 'source-events',
} as const;

export const TABLE_NAMES = {
  connections: 'connections',
  segments: 'segments',
  exports: 'exports',
  /** One partition per run: the run document and its chunks. */
  runs: 'runs',
  /** Each export's run history, newest first. */
  runIndex: 'runindex',
  rejects: 'rejects',
  ledger: 'ledger',
  governor: 'governor',
  targets: 'targets',
  /** Brevo import webhook tokens -> the chunk they wake up. */
  webhooks: 'webhooks',
  /** Who changed what, when: append-only, newest first. */
  audit: 'audit',
  /** One partition per run: each notification of the run and its delivery. */
  notifications: 'notifications',
  /** Data-subject erasures and their status per destination target. */
  erasures: 'erasures',
  /** Keyed hashes of erased people's emails: never sent again while listed. */
  suppressions: 'suppressions',
  /** Segment sources: one row per source, and per source one row per entity (its ingestion state). */
  sources: 'sources',
} as const;

export const CONTAINER_NAMES = {
  segments: 'segments',
  chunks: 'chunks',
  /** Per export and destination target: what the destination holds from us (ledger snapshots). */
  ledgers: 'ledgers',
  /** Per run: the records the planner rejected (invalid, missing, duplicate emails), as NDJSON. */
  rejects: 'rejects',
} as const;

export type QueueKey = keyof typeof QUEUE_NAMES;
export type TableKey = keyof typeof TABLE_NAMES;
export type ContainerKey = keyof typeof CONTAINER_NAMES;

export interface StorageNames {
  readonly namespace: string;
  readonly queues: Readonly<Record<QueueKey, string>>;
  readonly tables: Readonly<Record<TableKey, string>>;
  readonly containers: Readonly<Record<ContainerKey, string>>;
  /** Maps a queue name as written in a function definition to this namespace's queue. */
  resolveQueue(definitionQueueName: string): string;
}

/** The host moves a message that failed `maxDequeueCount` times to this queue. */
export function poisonQueueName(queueName: string): string {
  return `${queueName}-poison`;
}

export function storageNames(namespace = ''): StorageNames {
  if (!/^([a-z][a-z0-9]{0,11})?$/.test(namespace)) {
    throw new Error(`A storage namespace is 1-12 lower-case letters and digits, starting with a letter: '${namespace}'`);
  }
  const dash = namespace === '' ? '' : `${namespace}-`;
  const map = <K extends string>(names: Record<K, string>, prefix: string): Record<K, string> =>
    Object.fromEntries(Object.entries<string>(names).map(([key, name]) => [key, `${prefix}${name}`])) as Record<K, string>;
  return {
    namespace,
    queues: map(QUEUE_NAMES, dash),
    tables: map(TABLE_NAMES, namespace),
    containers: map(CONTAINER_NAMES, dash),
    resolveQueue: (definitionQueueName) => {
      const poison = definitionQueueName.endsWith('-poison');
      const base = poison ? definitionQueueName.slice(0, -'-poison'.length) : definitionQueueName;
      return `${dash}${base}${poison ? '-poison' : ''}`;
    },
  };
}

/** Every queue the app uses, poison queues included: what the template must create. */
export function allQueueNames(names: StorageNames = storageNames()): string[] {
  return Object.values(names.queues).flatMap((queue) => [queue, poisonQueueName(queue)]);
}
