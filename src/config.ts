// Every app setting, read once from the environment and validated together so that start-up
// fails with one message naming every bad setting.
import { z } from 'zod';
import { DEFAULT_SEGMENT_LIMITS } from './domain/segment';
import { Errors } from './errors';
import { CronSyntaxError, parseNcrontab } from './schedule/ncrontab';

export const DEFAULT_REFRESH_SCHEDULE = '0 0 2 * * *';
/** The segment-source rescan: every 15 minutes. */
export const DEFAULT_SOURCE_SCAN_SCHEDULE = '0 */15 * * * *';
export const DEFAULT_LOCAL_SECRETS_FILE = '.secrets/local-secrets.json';
export const DEFAULT_AUDIT_RETENTION_DAYS = 400;
const KEY_VAULT_REFERENCE = '@Microsoft.KeyVault(';

const optionalText = z
  .string()
  .transform((value) => value.trim())
  .optional()
  .transform((value) => (value === '' ? undefined : value));

const httpUrl = (what: string) =>
  optionalText.refine((value) => value === undefined || isHttpUrl(value), `must be an absolute http(s) URL (${what})`);

const positiveInteger = (what: string) =>
  optionalText.refine((value) => value === undefined || (/^[1-9]\d{0,15}$/.test(value) && Number.isSafeInteger(Number(value))), `must be a positive whole number (${what})`);

const storageConnectionString = optionalText.refine(
  (value) => value === undefined || value === 'UseDevelopmentStorage=true' || /(^|;)\s*(AccountName|BlobEndpoint|QueueEndpoint|TableEndpoint)=/i.test(value),
  'must be a storage connection string (AccountName=…;AccountKey=… or endpoints) or UseDevelopmentStorage=true',
);

/** The settings the app reads; names are the public contract (README, Bicep). */
export const settingsSchema = z
  .object({
    AzureWebJobsStorage: storageConnectionString,
    AzureWebJobsStorage__accountName: optionalText.refine(
      (value) => value === undefined || /^[a-z0-9]{3,24}$/.test(value),
      'must be a storage account name (3-24 lower-case letters and digits)',
    ),
    AzureWebJobsStorage__credential: optionalText.refine(
      (value) => value === undefined || value.toLowerCase() === 'managedidentity',
      "must be 'managedidentity' when set",
    ),
    AzureWebJobsStorage__clientId: optionalText,
    AzureWebJobsStorage__blobServiceUri: httpUrl('blob endpoint'),
    AzureWebJobsStorage__queueServiceUri: httpUrl('queue endpoint'),
    AzureWebJobsStorage__tableServiceUri: httpUrl('table endpoint'),
    KEY_VAULT_URL: httpUrl('the vault URI, https://<name>.vault.azure.net'),
    REFRESH_SCHEDULE: optionalText.refine((value) => value === undefined || isNcrontab(value), {
      message: 'must be a six-field NCRONTAB expression such as "0 0 2 * * *"',
    }),
    SOURCE_SCAN_SCHEDULE: optionalText.refine((value) => value === undefined || isNcrontab(value), {
      message: 'must be a six-field NCRONTAB expression such as "0 */15 * * * *"',
    }),
    ITERABLE_BASE_URL: httpUrl('Iterable host'),
    BREVO_BASE_URL: httpUrl('Brevo API root'),
    OMNISEND_BASE_URL: httpUrl('Omnisend API root'),
    PUBLIC_BASE_URL: httpUrl("the app's own public URL"),
    LOCAL_SECRETS_FILE: optionalText,
    AUDIT_RETENTION_DAYS: optionalText.refine((value) => value === undefined || (/^\d{1,4}$/.test(value) && Number(value) >= 1 && Number(value) <= 3650), {
      message: 'must be a whole number of days between 1 and 3650',
    }),
    APPLICATIONINSIGHTS_CONNECTION_STRING: optionalText.refine((value) => value === undefined || /(^|;)\s*(InstrumentationKey|IngestionEndpoint)=/i.test(value), {
      message: 'must be an Application Insights connection string (InstrumentationKey=…;IngestionEndpoint=…)',
    }),
    SEGMENT_MAX_RECORDS: positiveInteger('records in one segment upload'),
    SEGMENT_MAX_UPLOAD_BYTES: positiveInteger('bytes of one segment upload'),
  })
  .superRefine((settings, ctx) => {
    const identity = settings.AzureWebJobsStorage__accountName ?? settings.AzureWebJobsStorage__blobServiceUri;
    if (settings.AzureWebJobsStorage === undefined && identity === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['AzureWebJobsStorage'],
        message:
          'is missing: set a connection string, UseDevelopmentStorage=true, or AzureWebJobsStorage__accountName for identity-based access',
      });
    }
  });

export type Settings = z.infer<typeof settingsSchema>;
export const SETTING_NAMES = Object.keys(settingsSchema.shape) as (keyof Settings)[];

export type StorageConfig =
  | { kind: 'connectionString'; connectionString: string }
  | {
      kind: 'identity';
      accountName: string | undefined;
      clientId: string | undefined;
      blobServiceUri: string;
      queueServiceUri: string;
      tableServiceUri: string;
    };

export interface Config {
  storage: StorageConfig;
  keyVaultUrl: string | undefined;
  refreshSchedule: string;
  sourceScanSchedule: string;
  providerBaseUrls: { iterable: string | undefined; brevo: string | undefined; omnisend: string | undefined };
  publicBaseUrl: string | undefined;
  localSecretsFile: string;
  /** How long audit rows are kept (`AUDIT_RETENTION_DAYS`). */
  auditRetentionDays: number;
  /** Where telemetry goes (`APPLICATIONINSIGHTS_CONNECTION_STRING`); unset: nowhere. */
  applicationInsightsConnectionString: string | undefined;
  /** What one segment upload may hold: the ingestion keeps every profile key in memory. */
  segmentLimits: { maxRecords: number; maxBodyBytes: number };
  /** Where the app runs: App Service sets these itself (they are not app settings). */
  platform: PlatformInfo;
}

/**
 * In Azure (`WEBSITE_SITE_NAME` is set) the principal header can be trusted only while App Service
 * Authentication is on (`WEBSITE_AUTH_ENABLED=True`, which the platform sets with it).
 */
export interface PlatformInfo {
  siteName: string | undefined;
  appServiceAuthEnabled: boolean;
}

/** Validates an environment; throws one `invalid_configuration` error naming every bad setting. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const problems = unresolvedKeyVaultReferences(env);
  const parsed = settingsSchema.safeParse(pickSettings(env));
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0] ?? 'settings');
      if (!problems.some((problem) => problem.startsWith(`${name} `))) problems.push(`${name} ${issue.message}`);
    }
  }
  if (problems.length > 0 || !parsed.success) {
    throw Errors.invalidConfiguration(problems, { details: { problems } });
  }
  return { ...toConfig(parsed.data), platform: readPlatform(env) };
}

/**
 * Whether the app runs in Azure App Service / Functions (`WEBSITE_SITE_NAME` is set there): a
 * notification URL must then be https; elsewhere (running locally) loopback http is allowed too.
 */
export function runsInAzure(config: Pick<Config, 'platform'>): boolean {
  return config.platform.siteName !== undefined;
}

/** The platform's own variables, valid or not the app settings are. */
export function readPlatform(env: Record<string, string | undefined>): PlatformInfo {
  const siteName = env.WEBSITE_SITE_NAME?.trim();
  return { siteName: siteName === '' ? undefined : siteName, appServiceAuthEnabled: env.WEBSITE_AUTH_ENABLED?.trim().toLowerCase() === 'true' };
}

let cached: Config | undefined;

/** The process's configuration, read from `process.env` on first use. */
export function getConfig(): Config {
  cached ??= loadConfig(process.env);
  return cached;
}

/** Forgets the cached configuration (tests, and the local host after it changed the environment). */
export function resetConfig(): void {
  cached = undefined;
}

function pickSettings(env: Record<string, string | undefined>): Record<string, string | undefined> {
  return Object.fromEntries(SETTING_NAMES.map((name) => [name, env[name]]));
}

function unresolvedKeyVaultReferences(env: Record<string, string | undefined>): string[] {
  return SETTING_NAMES.filter((name) => env[name]?.trim().startsWith(KEY_VAULT_REFERENCE)).map(
    (name) =>
      `${name} is an unresolved Key Vault reference: the platform could not read the secret (check that the app's identity may read it and that the reference names an existing secret)`,
  );
}

function toConfig(settings: Settings): Omit<Config, 'platform'> {
  return {
    storage: toStorageConfig(settings),
    keyVaultUrl: settings.KEY_VAULT_URL,
    refreshSchedule: settings.REFRESH_SCHEDULE ?? DEFAULT_REFRESH_SCHEDULE,
    sourceScanSchedule: settings.SOURCE_SCAN_SCHEDULE ?? DEFAULT_SOURCE_SCAN_SCHEDULE,
    providerBaseUrls: {
      iterable: settings.ITERABLE_BASE_URL,
      brevo: settings.BREVO_BASE_URL,
      omnisend: settings.OMNISEND_BASE_URL,
    },
    publicBaseUrl: settings.PUBLIC_BASE_URL?.replace(/\/+$/, ''),
    localSecretsFile: settings.LOCAL_SECRETS_FILE ?? DEFAULT_LOCAL_SECRETS_FILE,
    auditRetentionDays: settings.AUDIT_RETENTION_DAYS === undefined ? DEFAULT_AUDIT_RETENTION_DAYS : Number(settings.AUDIT_RETENTION_DAYS),
    applicationInsightsConnectionString: settings.APPLICATIONINSIGHTS_CONNECTION_STRING,
    segmentLimits: {
      maxRecords: settings.SEGMENT_MAX_RECORDS === undefined ? DEFAULT_SEGMENT_LIMITS.maxRecords : Number(settings.SEGMENT_MAX_RECORDS),
      maxBodyBytes: settings.SEGMENT_MAX_UPLOAD_BYTES === undefined ? DEFAULT_SEGMENT_LIMITS.maxBodyBytes : Number(settings.SEGMENT_MAX_UPLOAD_BYTES),
    },
  };
}

function toStorageConfig(settings: Settings): StorageConfig {
  if (settings.AzureWebJobsStorage !== undefined) {
    return { kind: 'connectionString', connectionString: settings.AzureWebJobsStorage };
  }
  const account = settings.AzureWebJobsStorage__accountName;
  const serviceUri = (service: 'blob' | 'queue' | 'table', explicit: string | undefined): string =>
    explicit ?? `https://${account ?? ''}.${service}.core.windows.net`;
  return {
    kind: 'identity',
    accountName: account,
    clientId: settings.AzureWebJobsStorage__clientId,
    blobServiceUri: serviceUri('blob', settings.AzureWebJobsStorage__blobServiceUri),
    queueServiceUri: serviceUri('queue', settings.AzureWebJobsStorage__queueServiceUri),
    tableServiceUri: serviceUri('table', settings.AzureWebJobsStorage__tableServiceUri),
  };
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

function isNcrontab(value: string): boolean {
  try {
    parseNcrontab(value);
    return true;
  } catch (error) {
    if (error instanceof CronSyntaxError) return false;
    throw error;
  }
}
