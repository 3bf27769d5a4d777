// Brevo's own Node SDK (`@getbrevo/brevo`, a dev dependency) as the contract of both sides:
// - the adapter's request bodies are checked against the SDK's request types at compile time
//   (`npm run typecheck` fails when a field we send is not one the SDK declares, or has another type);
// - the emulator's answers are parsed with schemas that are compile-time equal to the SDK's
//   response types (no field the SDK lacks, none it requires missing), with the SDK's own runtime
//   enums for statuses and process names.
import { Brevo } from '@getbrevo/brevo';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { startBrevoEmulator, type BrevoEmulator } from '../../dev/emulators';
import { BrevoAdapter, removeBody } from '../../src/providers/brevo/adapter';
import { ProviderHttpClient } from '../../src/providers/http';
import type { MemberRecord } from '../../src/providers/types';
import { call } from '../emulators/test-http';

/** `T`'s keys are all `U`'s, and `T` is assignable to `U`: nothing sent that the SDK does not declare. */
type Declared<T, U> = Exclude<keyof T, keyof U> extends never ? (T extends U ? true : false) : false;
/** The schema's type and the SDK's type are the same. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

const adapter = new BrevoAdapter({ http: new ProviderHttpClient({ provider: 'brevo', baseUrl: 'http://127.0.0.1:1/v3', credentialHeaders: {}, secret: 'unused' }) });
const record: MemberRecord = { email: 'a@example.com', fields: { firstName: 'Ann', lastName: 'Lee', phone: '+33612345678' } };

// Compile-time: the bodies the adapter builds are SDK request bodies (drift fails `npm run typecheck`).
const importBody = adapter.importBody(2, [record], 'https://app.example/api/webhooks/brevo/t') satisfies Brevo.ImportContactsRequest;
const row = adapter.encode(record) satisfies Brevo.ImportContactsRequest.JsonBody.Item;
const removal = removeBody(['a@example.com']) satisfies Brevo.RemoveContactFromListRequestBody;
const importDeclared: Declared<typeof importBody, Brevo.ImportContactsRequest> = true;
const rowDeclared: Declared<typeof row, Brevo.ImportContactsRequest.JsonBody.Item> = true;
const removalDeclared: Declared<typeof removal, { emails?: string[] }> = true;

const sdkEnum = <T extends Record<string, string>>(values: T) => z.enum(Object.values(values) as [T[keyof T], ...Array<T[keyof T]>]);
const url = z.string().nullable().optional();
const importInfoSchema = z.strictObject({
  invalid_emails: url,
  duplicate_contact_id: url,
  duplicate_ext_id: url,
  duplicate_email_id: url,
  duplicate_phone_id: url,
  duplicate_whatsapp_id: url,
  duplicate_landline_number_id: url,
});
const processSchema = z.strictObject({
  id: z.number().int(),
  name: sdkEnum(Brevo.GetProcessResponse.Name),
  status: sdkEnum(Brevo.GetProcessResponse.Status),
  info: z.strictObject({ import: importInfoSchema.optional() }).optional(),
  export_url: z.string().optional(),
});
const processesSchema = z.strictObject({ count: z.number().int(), processes: z.array(processSchema) });
const importedSchema = z.strictObject({ processId: z.number().int() });
const listSchema = z.strictObject({
  id: z.number().int(),
  name: z.string(),
  totalBlacklisted: z.number().int(),
  totalSubscribers: z.number().int(),
  uniqueSubscribers: z.number().int(),
  createdAt: z.string(),
  folderId: z.number().int(),
  dynamicList: z.boolean().optional(),
  campaignStats: z.array(z.strictObject({ campaignId: z.number(), stats: z.custom<Brevo.GetCampaignStats>() })).optional(),
});
const postContactInfoSchema = z.strictObject({
  contacts: z.strictObject({
    success: z.union([z.array(z.string()), z.array(z.number())]).optional(),
    failure: z.union([z.array(z.string()), z.array(z.number())]).optional(),
    processId: z.number().optional(),
    total: z.number().optional(),
  }),
});

describe("Brevo's Node SDK as the contract", () => {
  let brevo: BrevoEmulator;
  beforeAll(async () => {
    brevo = await startBrevoEmulator({ asyncDelayMs: 20 });
  });
  afterAll(async () => {
    await brevo?.close();
  });
  const api = (method: string, path: string, json?: unknown) => call(`${brevo.baseUrl}${path}`, method, { headers: { 'api-key': brevo.apiKeys[0]! }, json });

  it('builds request bodies the SDK declares (checked by the compiler; these lines keep the checks from being dead code)', () => {
    expect([importDeclared, rowDeclared, removalDeclared]).toEqual([true, true, true]);
    expect(row).toEqual({ email: 'a@example.com', attributes: { FIRSTNAME: 'Ann', LASTNAME: 'Lee', SMS: '+33612345678' } });
    expect(removal).toEqual({ emails: ['a@example.com'] });
    expect(importBody).toMatchObject({ listIds: [2], updateExistingContacts: true, emptyContactsAttributes: false, disableNotification: true });
  });

  it('checks its schemas against the SDK types, both ways', () => {
    expectTypeOf<Same<z.infer<typeof processSchema>, Brevo.GetProcessResponse>>().toEqualTypeOf<true>();
    expectTypeOf<Same<z.infer<typeof processesSchema>, Brevo.GetProcessesResponse>>().toEqualTypeOf<true>();
    expectTypeOf<Same<z.infer<typeof importedSchema>, Brevo.ImportContactsResponse>>().toEqualTypeOf<true>();
    expectTypeOf<Same<z.infer<typeof listSchema>, Brevo.GetListResponse>>().toEqualTypeOf<true>();
    expectTypeOf<Same<z.infer<typeof postContactInfoSchema>, Brevo.PostContactInfo>>().toEqualTypeOf<true>();
  });

  it("answers imports, processes (one and all, with every report) and lists in the SDK's response shapes", async () => {
    brevo.addContact('holder@example.com', { SMS: '+33699999999' });
    const imported = await api('POST', '/contacts/import', {
      ...adapter.importBody(2, [record, { email: 'x@example.invalid', fields: {} }, { email: 'clash@example.com', fields: { phone: '+33699999999' } }], undefined),
    });
    expect(imported.status).toBe(202);
    const { processId } = importedSchema.parse(imported.body);
    processSchema.parse((await api('GET', `/processes/${processId}`)).body);
    await brevo.settled();
    const done = processSchema.parse((await api('GET', `/processes/${processId}`)).body);
    expect(done.info?.import?.invalid_emails).toMatch(/^http/);
    expect(done.info?.import?.duplicate_phone_id).toMatch(/^http/);
    processesSchema.parse((await api('GET', '/processes?limit=50')).body);
    listSchema.parse((await api('GET', '/contacts/lists/2')).body);
    postContactInfoSchema.parse((await api('POST', '/contacts/lists/2/contacts/remove', removeBody(['a@example.com', 'nobody@example.com']))).body);
  });
});
