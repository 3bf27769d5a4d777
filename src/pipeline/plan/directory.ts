// Which contacts the provider already has, for providers whose upsert would overwrite an existing
// contact's subscription status (Omnisend): a status is sent only for a new member the provider
// does not have. The answer comes from the provider itself, whichever way costs fewer requests
// for the run at hand: one lookup per expected add, or one listing of every contact (a page per
// 250). A listing may take longer than one planner invocation should (a million contacts at
// 340 requests a minute is 12 minutes): its progress is kept in a blob and the planner continues
// in its next invocation.
import { z } from 'zod';
import type { AppContext } from '../../app/context';
import type { RunDoc } from '../../domain/run';
import type { ContactDirectory } from '../../providers/types';
import { getEntity } from '../../storage/tables';
import type { ProviderAccount } from '../accounts';
import { getGovernor } from '../accounts';
import { takePaced } from '../pacing';
import { hashEmail, type Hash64 } from '../../hashing/hash';
import { HashIndex } from '../../hashing/hash-index';

const DEFAULT_LISTING_BUDGET_IN_MS = 7 * 60_000;
/** Without a brand size learnt from an earlier listing, adds up to this many are looked up one by one. */
const LOOKUPS_WITHOUT_ESTIMATE = 500;
const SIZE_PARTITION = '~directory';
const sizeRowSchema = z.object({ contacts: z.number().int().min(0) });
const progressSchema = z.object({ cursor: z.string().optional(), done: z.boolean(), pages: z.number().int().min(0) });

/** The listing did not finish within this invocation's budget; planning continues in the next. */
export class ListingUnfinished extends Error {}

export type ExistenceMode = 'lookup' | 'listing';

/** Lookups when they cost no more than listing every contact (`ceil(contacts / pageSize)` requests). */
export function chooseExistenceMode(expectedAdds: number, knownContacts: number | undefined, pageSize: number): ExistenceMode {
  if (knownContacts === undefined) return expectedAdds <= LOOKUPS_WITHOUT_ESTIMATE ? 'lookup' : 'listing';
  return expectedAdds <= Math.ceil(knownContacts / pageSize) ? 'lookup' : 'listing';
}

export class ContactExistence {
  lookups = 0;
  listingPages = 0;

  private constructor(
    private readonly context: AppContext,
    private readonly account: ProviderAccount,
    private readonly directory: ContactDirectory,
    private readonly listed: HashIndex | undefined,
  ) {}

  /** What the provider has, or undefined for providers that need no answer. Throws `ListingUnfinished` to continue later. */
  static async prepare(context: AppContext, run: RunDoc, account: ProviderAccount, expectedAdds: number, abortSignal?: AbortSignal): Promise<ContactExistence | undefined> {
    const { directory } = account.adapter;
    if (!directory || run.dryRun) return undefined;
    const known = await getEntity(sizeTable(context), SIZE_PARTITION, account.connection.id, sizeRowSchema, { abortSignal });
    const mode = chooseExistenceMode(expectedAdds, known?.contacts, directory.pageSize);
    context.log.info('contact existence', { runId: run.runId, mode, expectedAdds, knownContacts: known?.contacts });
    if (mode === 'lookup') return new ContactExistence(context, account, directory, undefined);
    const listing = await listEveryContact(context, run, account, directory, abortSignal);
    const existence = new ContactExistence(context, account, directory, listing.index);
    existence.listingPages = listing.pages;
    return existence;
  }

  /** Whether the provider has this contact. */
  async has(email: string, key: Hash64 = hashEmail(email), abortSignal?: AbortSignal): Promise<boolean> {
    if (this.listed) return this.listed.find(key) >= 0;
    const { governorAccount } = this.account;
    await takePaced(getGovernor(this.context), governorAccount, this.directory.bucket, { maxPacedWaitMs: Number.POSITIVE_INFINITY, abortSignal });
    this.lookups++;
    return await this.directory.contactExists(email, { abortSignal });
  }
}

function sizeTable(context: AppContext) {
  return context.storage.table(context.storage.names.tables.ledger);
}

function progressBlob(context: AppContext, run: RunDoc) {
  return context.storage.container(context.storage.names.containers.ledgers).getBlockBlobClient(`${run.exportId}/~directory/${run.runId}.bin`);
}

/**
 * Every contact of the account as email hashes (8 bytes each), resumed from the blob an earlier
 * invocation of this run's planner left, and saved there again when the budget runs out.
 */
async function listEveryContact(
  context: AppContext,
  run: RunDoc,
  account: ProviderAccount,
  directory: ContactDirectory,
  abortSignal?: AbortSignal,
): Promise<{ index: HashIndex; pages: number }> {
  const blob = progressBlob(context, run);
  const saved = await loadProgress(blob);
  if (saved.progress.done) return { index: saved.index, pages: saved.progress.pages };
  const deadline = Date.now() + (context.tuning.plannerListingBudgetMs ?? DEFAULT_LISTING_BUDGET_IN_MS);
  let { cursor, pages } = saved.progress;
  const { index } = saved;
  for (;;) {
    await takePaced(getGovernor(context), account.governorAccount, directory.bucket, { maxPacedWaitMs: Number.POSITIVE_INFINITY, abortSignal });
    const page = await directory.listContacts(cursor, { abortSignal });
    for (const email of page.emails) index.set(hashEmail(email), 0);
    pages++;
    cursor = page.cursor;
    if (cursor === undefined) break;
    if (Date.now() > deadline) {
      await saveProgress(blob, index, { cursor, done: false, pages });
      throw new ListingUnfinished(`Listed ${index.size} contacts in ${pages} pages; continuing`);
    }
  }
  await saveProgress(blob, index, { done: true, pages });
  await sizeTable(context).upsertEntity({ partitionKey: SIZE_PARTITION, rowKey: account.connection.id, contacts: index.size }, 'Replace');
  return { index, pages };
}

type ProgressBlob = ReturnType<typeof progressBlob>;

async function loadProgress(blob: ProgressBlob): Promise<{ index: HashIndex; progress: z.infer<typeof progressSchema> }> {
  const index = new HashIndex(1024);
  try {
    const properties = await blob.getProperties();
    const progress = progressSchema.parse(JSON.parse(properties.metadata?.progress ?? '{}'));
    const bytes = await blob.downloadToBuffer();
    for (let offset = 0; offset + 8 <= bytes.length; offset += 8) index.set({ hi: bytes.readUInt32LE(offset), lo: bytes.readUInt32LE(offset + 4) }, 0);
    return { index, progress };
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
    return { index, progress: { done: false, pages: 0 } };
  }
}

async function saveProgress(blob: ProgressBlob, index: HashIndex, progress: z.infer<typeof progressSchema>): Promise<void> {
  const bytes = Buffer.alloc(index.size * 8);
  let offset = 0;
  index.forEachKey((key) => {
    bytes.writeUInt32LE(key.hi, offset);
    bytes.writeUInt32LE(key.lo, offset + 4);
    offset += 8;
  });
  await blob.uploadData(bytes, { metadata: { progress: JSON.stringify(progress) } });
}
