// The published prices the cost of a run is computed with (USD, pay as you go, no free grants),
// each with where it was read and when. A price that could not be confirmed from a published page
// has no amount (`usd: undefined`): the cost table shows its count and leaves it out of the total.
export interface Price {
  label: string;
  usd: number | undefined;
  /** How many `unit` the price is for. */
  per: number;
  unit: string;
  source: string;
  retrieved: string;
}

const FUNCTIONS_PRICING = 'https://azure.microsoft.com/pricing/details/functions/';
const STORAGE_PRICING = 'https://azure.microsoft.com/pricing/details/storage/';
const UNCONFIRMED = `not confirmed: the official page (${FUNCTIONS_PRICING}) could not be read here`;
const STORAGE_UNCONFIRMED = `not confirmed: the official pages (${STORAGE_PRICING}tables/, queues/, blobs/) could not be read here`;

export const PRICES = {
  flexExecutionTime: {
    label: 'Flex Consumption on-demand execution time',
    usd: 0.000026,
    per: 1,
    unit: 'GB-s',
    source: `https://modal.com/blog/azure-function-pricing-guide (a third party's summary, East US, dated 2025-05-22; the official page ${FUNCTIONS_PRICING} could not be read here)`,
    retrieved: '2026-12-02',
  },
  flexExecutions: { label: 'Flex Consumption on-demand executions', usd: undefined, per: 1_000_000, unit: 'executions', source: UNCONFIRMED, retrieved: '2026-12-02' },
  tableTransactions: { label: 'Table storage transactions', usd: undefined, per: 10_000, unit: 'transactions', source: STORAGE_UNCONFIRMED, retrieved: '2026-12-02' },
  queueClass1: { label: 'Queue storage class 1 operations', usd: undefined, per: 10_000, unit: 'operations', source: STORAGE_UNCONFIRMED, retrieved: '2026-12-02' },
  queueClass2: { label: 'Queue storage class 2 operations', usd: undefined, per: 10_000, unit: 'operations', source: STORAGE_UNCONFIRMED, retrieved: '2026-12-02' },
  blobWrite: { label: 'Blob storage (hot) write operations', usd: undefined, per: 10_000, unit: 'operations', source: STORAGE_UNCONFIRMED, retrieved: '2026-12-02' },
  blobRead: { label: 'Blob storage (hot) read operations', usd: undefined, per: 10_000, unit: 'operations', source: STORAGE_UNCONFIRMED, retrieved: '2026-12-02' },
  blobList: { label: 'Blob storage (hot) list and create container operations', usd: undefined, per: 10_000, unit: 'operations', source: STORAGE_UNCONFIRMED, retrieved: '2026-12-02' },
  blobOther: { label: 'Blob storage (hot) other operations', usd: undefined, per: 10_000, unit: 'operations', source: STORAGE_UNCONFIRMED, retrieved: '2026-12-02' },
} satisfies Record<string, Price>;
