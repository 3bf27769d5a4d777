// One POST to a notification receiver. The URL was checked when the export was saved; here the
// address it resolves to is checked too (a public name that resolves to a private address is
// refused), redirects are not followed, and every attempt has a timeout. Nothing about the
// receiver's answer but its status code is kept.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { Agent, request, type Dispatcher } from 'undici';
import { ipKind, notificationUrlProblem } from '../../domain/notification';

export const RECEIVER_TIMEOUT_IN_MS = 10_000;
const MAX_ANSWER_BYTES = 64 * 1024;

export interface ReceiverAnswer {
  statusCode: number;
}

export class ReceiverRefused extends Error {
  readonly code = 'receiver_refused';
}

const agents = new Map<boolean, Agent>();

/** A connection pool whose DNS lookups refuse internal addresses (loopback too, unless allowed). */
function receiverAgent(allowLoopback: boolean): Dispatcher {
  let agent = agents.get(allowLoopback);
  if (!agent) {
    agent = new Agent({ connect: { lookup: guardedLookup(allowLoopback), timeout: RECEIVER_TIMEOUT_IN_MS }, maxResponseSize: MAX_ANSWER_BYTES, keepAliveTimeout: 10_000 });
    agents.set(allowLoopback, agent);
  }
  return agent;
}

function guardedLookup(allowLoopback: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      const refused = addresses.find(({ address }) => {
        const kind = ipKind(address);
        return kind === 'private' || (kind === 'loopback' && !allowLoopback);
      });
      if (refused || addresses.length === 0) return callback(new ReceiverRefused(`${hostname} resolves to an internal address`), '', 0);
      if (options.all) return (callback as unknown as (error: null, addresses: LookupAddress[]) => void)(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

export interface PostToReceiverOptions {
  allowLoopback: boolean;
  headers: Record<string, string>;
  timeoutInMs?: number;
}

/** POSTs `body` (JSON text) to `url`: the receiver's status code, or a thrown network, timeout or refusal error. */
export async function postToReceiver(url: string, body: string, options: PostToReceiverOptions): Promise<ReceiverAnswer> {
  const problem = notificationUrlProblem(url, { allowLoopback: options.allowLoopback });
  if (problem) throw new ReceiverRefused(`The receiver URL ${problem}`);
  const response = await request(url, {
    method: 'POST',
    dispatcher: receiverAgent(options.allowLoopback),
    headers: { 'content-type': 'application/json', 'user-agent': 'segment-export', ...options.headers },
    body,
    signal: AbortSignal.timeout(options.timeoutInMs ?? RECEIVER_TIMEOUT_IN_MS),
  });
  await response.body.dump({ limit: MAX_ANSWER_BYTES }).catch(() => undefined);
  return { statusCode: response.statusCode };
}

/** Closes the receiver pools (tests, hosts at shutdown). */
export async function closeReceiverAgents(): Promise<void> {
  const closing = [...agents.values()].map((agent) => agent.close());
  agents.clear();
  await Promise.all(closing);
}
