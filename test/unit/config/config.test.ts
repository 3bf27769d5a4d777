import { describe, expect, it } from 'vitest';
import { DEFAULT_REFRESH_SCHEDULE, DEFAULT_SOURCE_SCAN_SCHEDULE, loadConfig } from '../../../src/config';
import { AppError } from '../../../src/errors';

function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return ((error as AppError).details as { problems: string[] }).problems;
  }
  throw new Error('expected the configuration to be refused');
}

describe('configuration', () => {
  it('reads a development setup with defaults', () => {
    const config = loadConfig({ AzureWebJobsStorage: 'UseDevelopmentStorage=true' });
    expect(config.refreshSchedule).toBe(DEFAULT_REFRESH_SCHEDULE);
    expect(config.keyVaultUrl).toBeUndefined();
    expect(config.storage).toEqual({ kind: 'connectionString', connectionString: 'UseDevelopmentStorage=true' });
  });

  it('rescans segment sources every 15 minutes unless SOURCE_SCAN_SCHEDULE says otherwise', () => {
    expect(loadConfig({ AzureWebJobsStorage: 'UseDevelopmentStorage=true' }).sourceScanSchedule).toBe(DEFAULT_SOURCE_SCAN_SCHEDULE);
    expect(DEFAULT_SOURCE_SCAN_SCHEDULE).toBe('0 */15 * * * *');
    expect(loadConfig({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', SOURCE_SCAN_SCHEDULE: '0 */5 * * * *' }).sourceScanSchedule).toBe('0 */5 * * * *');
    expect(problemsOf({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', SOURCE_SCAN_SCHEDULE: '*/15 * * * *' })).toEqual([expect.stringMatching(/^SOURCE_SCAN_SCHEDULE /)]);
  });

  it('reads identity-based storage', () => {
    const config = loadConfig({
      AzureWebJobsStorage__accountName: 'stsegexport01',
      AzureWebJobsStorage__credential: 'managedidentity',
      AzureWebJobsStorage__clientId: '00000000-0000-0000-0000-000000000001',
      KEY_VAULT_URL: 'https://kv-segexport.vault.azure.net/',
    });
    expect(config.storage).toMatchObject({
      kind: 'identity',
      clientId: '00000000-0000-0000-0000-000000000001',
      queueServiceUri: 'https://stsegexport01.queue.core.windows.net',
    });
  });

  it('names every bad setting in one error', () => {
    const env = {
      REFRESH_SCHEDULE: '0 2 * * *',
      KEY_VAULT_URL: 'not a url',
      BREVO_BASE_URL: 'ftp://example.com',
      PUBLIC_BASE_URL: 'localhost:7071',
    };
    let message = '';
    try {
      loadConfig(env);
    } catch (error) {
      message = (error as Error).message;
    }
    const problems = problemsOf(env);
    for (const name of ['AzureWebJobsStorage', 'REFRESH_SCHEDULE', 'KEY_VAULT_URL', 'BREVO_BASE_URL', 'PUBLIC_BASE_URL']) {
      expect(problems.some((problem) => problem.startsWith(`${name} `))).toBe(true);
      expect(message).toContain(name);
    }
    expect(problems).toHaveLength(5);
  });

  it('reports a setting that still holds a Key Vault reference as unresolved', () => {
    const problems = problemsOf({
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
      PUBLIC_BASE_URL: '@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/url/)',
    });
    expect(problems).toEqual([expect.stringMatching(/^PUBLIC_BASE_URL is an unresolved Key Vault reference/)]);
  });
});
