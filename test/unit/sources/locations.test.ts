import { describe, expect, it } from 'vitest';
import { locateBlob } from '../../../src/sources/locations';
import { concernsSource, createdBlobUrls, isEventGridMessage } from '../../../src/sources/events';
import { segmentIdFor } from '../../../src/sources/folder';
import type { Source } from '../../../src/domain/source';

const azure = 'https://acct.blob.core.windows.net/ci';
const azurite = 'http://127.0.0.1:10000/devstoreaccount1/ci';

describe('partition locations', () => {
  it.each([
    ['an absolute URL on the dfs endpoint', 'https://ACCT.dfs.core.windows.net/ci/x/A/2025/01/02/0304/A_1.csv', azure, 'x/A/2025/01/02/0304/A_1.csv'],
    ['a URL with escaped characters', `${azure}/x/My%20Segment/A_1.csv`, azure, 'x/My Segment/A_1.csv'],
    ['a path-style (Azurite) URL', `${azurite}/x/A_1.csv`, azurite, 'x/A_1.csv'],
    ['a path relative to the description', 'A/part-1.csv', azure, 'x/A/part-1.csv'],
    ['a path from the container root', '/y/part.csv', azure, 'y/part.csv'],
  ])('reads %s', (_, location, containerUrl, blobName) => {
    expect(locateBlob(location, 'x/model.json', containerUrl)).toEqual({ ok: true, blobName });
  });

  it.each([
    ['another account', 'https://other.blob.core.windows.net/ci/x/A.csv'],
    ['another container', 'https://acct.blob.core.windows.net/cix/x/A.csv'],
    ['a path out of the container', '../../etc/passwd'],
    ['a CDM corpus path', 'adls:/x/A.csv'],
    ['http instead of https', 'http://acct.blob.core.windows.net/ci/x/A.csv'],
  ])('refuses %s', (_, location) => {
    expect(locateBlob(location, 'x/model.json', azure).ok).toBe(false);
  });
});

describe('Event Grid events', () => {
  const event = {
    topic: '/subscriptions/s/resourceGroups/r/providers/Microsoft.Storage/storageAccounts/acct',
    subject: '/blobServices/default/containers/ci/blobs/x/model.json',
    eventType: 'Microsoft.Storage.BlobCreated',
    id: '1',
    data: { api: 'PutBlockList', eTag: '0x1', contentLength: 10, blobType: 'BlockBlob', url: `${azure}/x/model.json` },
    dataVersion: '',
    metadataVersion: '1',
    eventTime: '2025-01-01T00:00:00Z',
  };
  const cdm = { kind: 'cdm-folder', location: { container: 'ci', prefix: 'x/' } } as Source;
  const csv = { kind: 'csv-folder', location: { container: 'ci', prefix: 'x/' } } as Source;

  it('reads BlobCreated events, one or an array, and ignores other events', () => {
    expect(isEventGridMessage(event)).toBe(true);
    expect(isEventGridMessage({ kind: 'scan', sourceId: 'a' })).toBe(false);
    expect(createdBlobUrls([event, { ...event, eventType: 'Microsoft.Storage.BlobDeleted' }])).toEqual({ urls: [event.data.url], ignored: 1 });
  });

  it('concerns a CDM source for its descriptions only, a csv-folder source for files of its sub-folders', () => {
    expect(concernsSource(cdm, azure, `${azure}/x/model.json`)).toBe(true);
    expect(concernsSource(cdm, azure, 'https://acct.dfs.core.windows.net/ci/x/sub/default.manifest.cdm.json')).toBe(true);
    expect(concernsSource(cdm, azure, `${azure}/x/A/2025/A_1.csv`)).toBe(false);
    expect(concernsSource(cdm, azure, `${azure}/y/model.json`)).toBe(false);
    expect(concernsSource(cdm, 'https://acct.blob.core.windows.net/other', `${azure}/x/model.json`)).toBe(false);
    expect(concernsSource(csv, azure, `${azure}/x/vip/2025-01-01.csv`)).toBe(true);
    expect(concernsSource(csv, azure, `${azure}/x/loose.csv`)).toBe(false);
  });
});

describe('segment ids of entities', () => {
  it('keeps a name that is an id, and makes distinct ids of names that are not', () => {
    expect(segmentIdFor('HighValueSegment')).toBe('HighValueSegment');
    expect(segmentIdFor('High value')).toMatch(/^High-value-[0-9a-f]{8}$/);
    expect(segmentIdFor('High value')).not.toBe(segmentIdFor('High-value'));
    expect(segmentIdFor('-é-')).toMatch(/^entity-[0-9a-f]{8}$/);
  });
});
