// Where a partition (or a schema document) named by a CDM description is: an absolute URL of the
// source's container (blob or dfs endpoint), or a path relative to the description's folder. A
// location in another account or container, or outside the container, is refused: a source reads
// its own container and nothing else, whatever a description says.
import { posix } from 'node:path';

export type Located = { ok: true; blobName: string } | { ok: false; reason: string };

const ABSOLUTE_URL = /^[a-z][a-z0-9+.-]*:\/\//i;
const CORPUS_PATH = /^[a-z][a-z0-9+.-]*:\//i;

/**
 * The blob name `location` names, read from the description `descriptorBlob` in the container at
 * `containerUrl` (`https://acct.blob.core.windows.net/container`, or Azurite's path-style URL).
 */
export function locateBlob(location: string, descriptorBlob: string, containerUrl: string): Located {
  if (ABSOLUTE_URL.test(location)) return locateUrl(location, containerUrl);
  if (CORPUS_PATH.test(location)) return { ok: false, reason: `'${location}' is a CDM corpus path; only URLs and relative paths are read` };
  let path: string;
  try {
    path = decodeURIComponent(location.split('?')[0]!);
  } catch {
    return { ok: false, reason: `'${location}' is not a valid path` };
  }
  const joined = path.startsWith('/') ? posix.normalize(path.slice(1)) : posix.normalize(posix.join(posix.dirname(descriptorBlob), path));
  if (joined === '.' || joined === '..' || joined.startsWith('../') || joined.endsWith('/')) {
    return { ok: false, reason: `'${location}' is not a file inside the container` };
  }
  return { ok: true, blobName: joined };
}

function locateUrl(location: string, containerUrl: string): Located {
  let url: URL;
  let container: URL;
  try {
    url = new URL(location);
    container = new URL(containerUrl);
  } catch {
    return { ok: false, reason: `'${location}' is not a valid URL` };
  }
  const hostOf = (u: URL) => u.host.toLowerCase().replace(/\.dfs\.core\./, '.blob.core.');
  const containerPath = container.pathname.replace(/\/+$/, '');
  const sameContainer = url.protocol === container.protocol && hostOf(url) === hostOf(container) && url.pathname.startsWith(`${containerPath}/`);
  if (!sameContainer) return { ok: false, reason: `'${location}' is not in the source's container (${containerUrl})` };
  let blobName: string;
  try {
    blobName = decodeURIComponent(url.pathname.slice(containerPath.length + 1));
  } catch {
    return { ok: false, reason: `'${location}' is not a valid URL` };
  }
  const normalised = posix.normalize(blobName);
  if (blobName === '' || normalised !== blobName || normalised.startsWith('../')) {
    return { ok: false, reason: `'${location}' is not a file inside the container` };
  }
  return { ok: true, blobName };
}
