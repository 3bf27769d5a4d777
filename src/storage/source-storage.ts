// Blob clients for the storage accounts that segment sources read. A source without an account URL,
// or naming the app's own blob endpoint, reads with the app's own clients (the connection string
// locally and in tests, the identity in Azure); another account is read with the app's identity
// (`DefaultAzureCredential`, the user-assigned identity when its client id is configured), and only
// if it is an Azure Storage endpoint: a storage token is never sent to any other host.
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import type { StorageConfig } from '../config';
import { Errors } from '../errors';
import type { StorageClients } from './clients';

/** Blob endpoints of Azure Storage in the public and sovereign clouds, `blob` or Data Lake `dfs`. */
const AZURE_STORAGE_HOST = /^[a-z0-9]{3,24}\.(blob|dfs)\.core\.(windows\.net|chinacloudapi\.cn|usgovcloudapi\.net)$/;

export interface SourceStorage {
  /** The account's blob endpoint, normalised (`dfs` read as `blob`, no trailing slash). */
  readonly accountUrl: string;
  /** True when this is the app's own account. */
  readonly own: boolean;
  container(name: string): ContainerClient;
}

/** `https://x.dfs.core.windows.net/` and `https://X.blob.core.windows.net` are the same account. */
export function normaliseAccountUrl(url: string): string {
  const parsed = new URL(url);
  const host = parsed.host.toLowerCase().replace(/\.dfs\.core\./, '.blob.core.');
  return `${parsed.protocol}//${host}${parsed.pathname.replace(/\/+$/, '')}`;
}

/** Whether a source may name this account: an Azure Storage endpoint over HTTPS, or the app's own. */
export function isAllowedSourceAccount(storage: StorageClients, accountUrl: string): boolean {
  if (normaliseAccountUrl(accountUrl) === normaliseAccountUrl(storage.blobService.url)) return true;
  const url = new URL(accountUrl);
  return url.protocol === 'https:' && url.port === '' && url.pathname === '/' && AZURE_STORAGE_HOST.test(url.host.toLowerCase());
}

export interface SourceStorageFactoryOptions {
  /** Tests pass a credential; by default the app's identity. */
  credential?: TokenCredential;
}

const clientsByStorage = new WeakMap<StorageClients, Map<string, BlobServiceClient>>();
let defaultCredential: TokenCredential | undefined;

/** The clients to read a source's account with. */
export function sourceStorage(
  storage: StorageClients,
  config: StorageConfig,
  accountUrl: string | undefined,
  options: SourceStorageFactoryOptions = {},
): SourceStorage {
  const own = normaliseAccountUrl(storage.blobService.url);
  const wanted = accountUrl === undefined ? own : normaliseAccountUrl(accountUrl);
  if (wanted === own) return { accountUrl: own, own: true, container: (name) => storage.blobService.getContainerClient(name) };
  if (!isAllowedSourceAccount(storage, wanted)) throw Errors.sourceAccountNotAllowed(accountUrl ?? '');
  let clients = clientsByStorage.get(storage);
  if (!clients) clientsByStorage.set(storage, (clients = new Map<string, BlobServiceClient>()));
  let service = clients.get(wanted);
  if (!service) {
    const credential = options.credential ?? (defaultCredential ??= identityCredential(config));
    service = new BlobServiceClient(wanted, credential);
    clients.set(wanted, service);
  }
  const blobService = service;
  return { accountUrl: wanted, own: false, container: (name) => blobService.getContainerClient(name) };
}

function identityCredential(config: StorageConfig): TokenCredential {
  const clientId = config.kind === 'identity' ? config.clientId : undefined;
  return new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {});
}
