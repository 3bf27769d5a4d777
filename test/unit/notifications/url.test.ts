import { describe, expect, it } from 'vitest';
import { notificationUrlProblem } from '../../../src/domain/notification';

describe('notificationUrlProblem', () => {
  it.each<[string, boolean, string | undefined]>([
    ['https://hooks.slack.com/services/T/B/x', false, undefined],
    ['https://example.com:8443/hook', false, undefined],
    ['http://example.com/hook', false, 'must be https'],
    ['http://example.com/hook', true, 'must be https'],
    ['http://127.0.0.1:8080/hook', true, undefined],
    ['http://localhost:8080/hook', true, undefined],
    ['http://127.0.0.1:8080/hook', false, 'must not point at this machine'],
    ['https://[::1]/hook', false, 'must not point at this machine'],
    ['https://10.1.2.3/hook', true, 'must not point at a private, link-local or reserved address'],
    ['https://172.20.0.1/hook', false, 'must not point at a private, link-local or reserved address'],
    ['https://192.168.1.1/hook', false, 'must not point at a private, link-local or reserved address'],
    ['https://169.254.169.254/metadata', false, 'must not point at a private, link-local or reserved address'],
    ['https://100.64.0.1/hook', false, 'must not point at a private, link-local or reserved address'],
    ['https://[fd00::1]/hook', false, 'must not point at a private, link-local or reserved address'],
    ['https://[::ffff:10.0.0.1]/hook', false, 'must not point at a private, link-local or reserved address'],
    ['https://intranet/hook', false, 'must be a public host name'],
    ['https://build.corp/hook', false, 'must be a public host name'],
    ['https://user:secret@example.com/hook', false, 'must not carry a user name or password'],
    ['not a url', false, 'is not an absolute URL'],
    ['ftp://example.com/x', false, 'must be https'],
  ])('%s (loopback allowed: %s) -> %s', (url, allowLoopback, problem) => {
    expect(notificationUrlProblem(url, { allowLoopback })).toBe(problem);
  });
});
