import type { AccessToken, TokenCredential } from '@azure/identity';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An in-process Azure Key Vault that speaks the part of the secrets REST API `SecretClient` uses —
 * set, get (latest or a version), list, delete with soft delete, get and list deleted, recover,
 * purge — and the bearer challenge, so that the real SDK runs against it. State is inspectable.
 */
export const FAKE_VAULT_TOKEN = 'fake-key-vault-token';
const TENANT_ID = '00000000-0000-0000-0000-000000000000';

/** The credential tests hand to the SDK: always the one token this vault accepts. */
export const fakeCredential: TokenCredential = {
  getToken: async (): Promise<AccessToken> => ({ token: FAKE_VAULT_TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }),
};

/** Options every `SecretClient` needs to talk to this vault over http on 127.0.0.1. */
export const fakeVaultClientOptions = {
  allowInsecureConnection: true,
  disableChallengeResourceVerification: true,
  retryOptions: { maxRetries: 0 },
} as const;

interface Version {
  id: string;
  value: string;
  contentType: string | undefined;
  created: number;
}

interface StoredSecret {
  versions: Version[];
}

interface DeletedSecret extends StoredSecret {
  deletedDate: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  authorized: boolean;
}

export interface FakeKeyVault {
  readonly url: string;
  /** Live secrets: name → versions, oldest first. */
  readonly secrets: ReadonlyMap<string, StoredSecret>;
  /** Soft-deleted secrets, recoverable until purged. */
  readonly deleted: ReadonlyMap<string, DeletedSecret>;
  /** Every request the vault answered, challenges included. */
  readonly requests: RecordedRequest[];
  /** When true, recovery is forbidden (403), as for an identity without the recover permission. */
  denyRecover: boolean;
  /**
   * How many `set` calls answer 409 `ObjectIsBeingRecovered` right after a recovery, as the real
   * vault sometimes does while the recovery settles.
   */
  conflictsAfterRecover: number;
  /** Puts a secret straight into the soft-deleted state (a name someone deleted earlier). */
  seedDeleted(name: string, value: string): void;
  /** Every value the vault holds, live or deleted, for leak checks. */
  allValues(): string[];
  close(): Promise<void>;
}

const API_VERSION = /^\d{4}-\d{2}-\d{2}(-preview)?$|^7\.\d$/;

export async function startFakeKeyVault(): Promise<FakeKeyVault> {
  const secrets = new Map<string, StoredSecret>();
  const deleted = new Map<string, DeletedSecret>();
  const requests: RecordedRequest[] = [];
  /** Names just recovered → how many more sets answer `ObjectIsBeingRecovered`. */
  const settling = new Map<string, number>();
  let baseUrl = '';

  const vault: FakeKeyVault = {
    get url() {
      return baseUrl;
    },
    secrets,
    deleted,
    requests,
    denyRecover: false,
    conflictsAfterRecover: 0,
    seedDeleted(name, value) {
      deleted.set(name, { versions: [newVersion(value, 'text/plain')], deletedDate: nowInSeconds() });
    },
    allValues() {
      return [...secrets.values(), ...deleted.values()].flatMap((secret) => secret.versions.map((version) => version.value));
    },
    close: () => closeServer(server),
  };

  const secretId = (name: string, version: Version) => `${baseUrl}/secrets/${name}/${version.id}`;

  const bundle = (name: string, version: Version, withValue = true) => ({
    ...(withValue ? { value: version.value } : {}),
    id: secretId(name, version),
    contentType: version.contentType,
    attributes: {
      enabled: true,
      created: version.created,
      updated: version.created,
      recoveryLevel: 'Recoverable+Purgeable',
      recoverableDays: 90,
    },
    tags: {},
  });

  const deletedBundle = (name: string, secret: DeletedSecret, withValue = false) => {
    const latest = secret.versions.at(-1)!;
    return {
      ...bundle(name, latest, withValue),
      recoveryId: `${baseUrl}/deletedsecrets/${name}`,
      deletedDate: secret.deletedDate,
      scheduledPurgeDate: secret.deletedDate + 90 * 24 * 3600,
    };
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://vault');
    const method = request.method ?? 'GET';
    const authorized = request.headers.authorization === `Bearer ${FAKE_VAULT_TOKEN}`;
    const body = await readBody(request);
    requests.push({ method, path: url.pathname, authorized });

    if (!authorized) {
      // The SDK first sends each request without a token or body and expects this challenge.
      response.setHeader(
        'WWW-Authenticate',
        `Bearer authorization="https://login.microsoftonline.com/${TENANT_ID}", resource="https://vault.azure.net"`,
      );
      return send(response, 401, { error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' } });
    }
    if (!API_VERSION.test(url.searchParams.get('api-version') ?? '')) {
      return send(response, 400, { error: { code: 'BadParameter', message: 'The api-version query parameter is missing or not valid' } });
    }

    const segments = url.pathname.split('/').filter((segment) => segment !== '').map(decodeURIComponent);
    const [collection, name, third, fourth] = segments;

    if (collection === 'secrets') {
      if (name === undefined && method === 'GET') {
        const items = [...secrets.entries()].map(([secretName, secret]) => {
          const { value: _value, ...item } = bundle(secretName, secret.versions.at(-1)!, false);
          return { ...item, id: `${baseUrl}/secrets/${secretName}` };
        });
        return send(response, 200, { value: items, nextLink: null });
      }
      if (name === undefined) return notAllowed(response);
      if (!/^[0-9A-Za-z-]{1,127}$/.test(name)) {
        return send(response, 400, { error: { code: 'BadParameter', message: 'The request URI contains an invalid name' } });
      }
      if (method === 'PUT' && third === undefined) {
        if (deleted.has(name)) {
          return send(response, 409, {
            error: {
              code: 'Conflict',
              message: `Secret ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.`,
              innererror: { code: 'ObjectIsDeletedButRecoverable' },
            },
          });
        }
        const remaining = settling.get(name) ?? 0;
        if (remaining > 0) {
          settling.set(name, remaining - 1);
          return send(response, 409, {
            error: {
              code: 'Conflict',
              message: `Secret ${name} is currently being recovered and cannot be re-created; retry later.`,
              innererror: { code: 'ObjectIsBeingRecovered' },
            },
          });
        }
        const parsed = parseJson(body) as { value?: unknown; contentType?: unknown } | undefined;
        if (typeof parsed?.value !== 'string') {
          return send(response, 400, { error: { code: 'BadParameter', message: 'Property value is required' } });
        }
        const version = newVersion(parsed.value, typeof parsed.contentType === 'string' ? parsed.contentType : undefined);
        const secret = secrets.get(name) ?? { versions: [] };
        secret.versions.push(version);
        secrets.set(name, secret);
        return send(response, 200, bundle(name, version));
      }
      if (method === 'DELETE' && third === undefined) {
        const secret = secrets.get(name);
        if (!secret) return secretNotFound(response, name);
        secrets.delete(name);
        const gone: DeletedSecret = { ...secret, deletedDate: nowInSeconds() };
        deleted.set(name, gone);
        return send(response, 200, deletedBundle(name, gone));
      }
      if (method === 'GET' && third === 'versions') {
        const secret = secrets.get(name);
        if (!secret) return secretNotFound(response, name);
        const { value: _value, ...item } = bundle(name, secret.versions.at(-1)!, false);
        return send(response, 200, { value: secret.versions.map((version) => ({ ...item, id: secretId(name, version) })), nextLink: null });
      }
      if (method === 'GET' && fourth === undefined) {
        const secret = secrets.get(name);
        const version = third ? secret?.versions.find((candidate) => candidate.id === third) : secret?.versions.at(-1);
        if (!version) return secretNotFound(response, name);
        return send(response, 200, bundle(name, version));
      }
      return notAllowed(response);
    }

    if (collection === 'deletedsecrets') {
      if (name === undefined && method === 'GET') {
        return send(response, 200, { value: [...deleted.entries()].map(([deletedName, secret]) => deletedBundle(deletedName, secret)), nextLink: null });
      }
      if (name === undefined) return notAllowed(response);
      const secret = deleted.get(name);
      if (method === 'GET' && third === undefined) {
        return secret ? send(response, 200, deletedBundle(name, secret)) : deletedNotFound(response, name);
      }
      if (method === 'DELETE' && third === undefined) {
        if (!secret) return deletedNotFound(response, name);
        deleted.delete(name);
        response.writeHead(204).end();
        return;
      }
      if (method === 'POST' && third === 'recover') {
        if (vault.denyRecover) {
          return send(response, 403, {
            error: { code: 'Forbidden', message: 'The user, group or application does not have secrets recover permission' },
          });
        }
        if (!secret) return deletedNotFound(response, name);
        deleted.delete(name);
        secrets.set(name, { versions: secret.versions });
        settling.set(name, vault.conflictsAfterRecover);
        return send(response, 200, bundle(name, secret.versions.at(-1)!));
      }
      return notAllowed(response);
    }
    return send(response, 404, { error: { code: 'NotFound', message: 'No such endpoint' } });
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) send(response, 500, { error: { code: 'InternalError', message: String(error) } });
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return vault;
}

function newVersion(value: string, contentType: string | undefined): Version {
  return { id: randomBytes(16).toString('hex'), value, contentType, created: nowInSeconds() };
}

function nowInSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

function secretNotFound(response: ServerResponse, name: string): void {
  send(response, 404, { error: { code: 'SecretNotFound', message: `A secret with (name/id) ${name} was not found in this key vault.` } });
}

function deletedNotFound(response: ServerResponse, name: string): void {
  send(response, 404, { error: { code: 'SecretNotFound', message: `Deleted Secret not found: ${name}` } });
}

function notAllowed(response: ServerResponse): void {
  send(response, 405, { error: { code: 'MethodNotAllowed', message: 'This method is not allowed here' } });
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}
