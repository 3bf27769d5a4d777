// Azurite's well-known development account and default ports: what `UseDevelopmentStorage=true`
// means. Public values, the same on every machine; never a real account's.

export const DEV_ACCOUNT_NAME = 'devstoreaccount1';
export const DEV_ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
export const DEV_PORTS = { blob: 10000, queue: 10001, table: 10002 } as const;

export interface AzuritePorts {
  blob: number;
  queue: number;
  table: number;
}

export function developmentConnectionString(ports: AzuritePorts, host = '127.0.0.1'): string {
  return [
    'DefaultEndpointsProtocol=http',
    `AccountName=${DEV_ACCOUNT_NAME}`,
    `AccountKey=${DEV_ACCOUNT_KEY}`,
    `BlobEndpoint=http://${host}:${ports.blob}/${DEV_ACCOUNT_NAME}`,
    `QueueEndpoint=http://${host}:${ports.queue}/${DEV_ACCOUNT_NAME}`,
    `TableEndpoint=http://${host}:${ports.table}/${DEV_ACCOUNT_NAME}`,
  ].join(';');
}
