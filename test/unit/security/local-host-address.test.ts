import { describe, expect, it } from 'vitest';
import { localListenAddress } from '../../../dev/local/listen-address';

describe('finding 2: npm start listens on loopback unless HOST says otherwise', () => {
  it('binds 127.0.0.1 without HOST, and with HOST set to a loopback name, saying nothing', () => {
    expect(localListenAddress({})).toEqual({ hostname: '127.0.0.1' });
    expect(localListenAddress({ HOST: '' })).toEqual({ hostname: '127.0.0.1' });
    expect(localListenAddress({ HOST: 'localhost' })).toEqual({ hostname: 'localhost' });
  });

  it('binds the interface HOST names and warns that the principal header is then trusted from anyone', () => {
    const address = localListenAddress({ HOST: '0.0.0.0' });
    expect(address.hostname).toBe('0.0.0.0');
    expect(address.warning).toMatch(/HOST=0\.0\.0\.0/);
    expect(address.warning).toMatch(/x-ms-client-principal/);
    expect(address.warning).toMatch(/Admin/);
  });
});
