// Omnisend tag names: Omnisend's own SDK accepts `[a-zA-Z0-9_\- ]{1,128}`. A segment's name is
// mapped onto that alphabet deterministically (the same name always gives the same tag): accents
// are dropped, every run of other characters becomes `-`, and a name that had to change gets a
// short hash of the original, so two names that differ only in dropped characters stay two tags.
// The export resource shows the mapping (`omnisendTags`).
import { createHash } from 'node:crypto';

export const OMNISEND_TAG_PATTERN = /^[a-zA-Z0-9_\- ]{1,128}$/;
const MAX_TAG_LENGTH = 128;
const HASH_LENGTH = 6;

export function omnisendTagName(name: string): string {
  if (OMNISEND_TAG_PATTERN.test(name)) return name;
  const folded = name
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .replace(/[^a-zA-Z0-9_\- ]+/g, '-')
    .trim();
  const hash = createHash('sha256').update(name, 'utf8').digest('hex').slice(0, HASH_LENGTH);
  const base = folded.slice(0, MAX_TAG_LENGTH - HASH_LENGTH - 1).replace(/^[-\s]+|[-\s]+$/g, '');
  return base === '' ? `segment-${hash}` : `${base}-${hash}`;
}
