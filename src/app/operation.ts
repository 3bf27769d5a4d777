// The base of every options bag that an async I/O function takes as its last argument: a bag is
// named `<Operation>Options` and extends this, or is this when the operation needs nothing more.
// Cancellation is always `abortSignal` (as in the Azure SDKs). It lives apart from every layer,
// imports nothing, and every layer may use it.
export interface OperationOptions {
  /** Cancels the operation: handed on to every SDK call it makes. */
  abortSignal?: AbortSignal;
}
