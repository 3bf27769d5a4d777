// Where `npm start` listens. The local host trusts the `x-ms-client-principal` header its caller
// sends (there is no App Service Authentication in front of it), so anyone who can reach it is
// whoever they claim to be: it listens on loopback only unless HOST says otherwise, and then says
// what that means.
export const LOOPBACK_HOST = '127.0.0.1';

export interface ListenAddress {
  hostname: string;
  /** Printed at start when HOST opens the host to other machines. */
  warning?: string;
}

export function localListenAddress(env: Record<string, string | undefined>): ListenAddress {
  const host = env.HOST?.trim();
  if (!host || host === LOOPBACK_HOST || host === 'localhost' || host === '::1') return { hostname: host || LOOPBACK_HOST };
  return {
    hostname: host,
    warning:
      `WARNING: HOST=${host}: the local host listens beyond this machine and trusts the x-ms-client-principal header ` +
      'its callers send, so anyone who can reach it acts as any user and role (Admin included) with the provider keys stored here. ' +
      'Unset HOST to listen on 127.0.0.1 only.',
  };
}
