// A circuit breaker in front of one Vault/OpenBao transport (one address): after a request gets no HTTP answer
// (unreachable, timeout), later requests fail at once with the same failure instead of each waiting out its
// own timeout; after a cool-down one request is let through to probe, and an answer closes the circuit again.
import { VaultTransportFailure, type VaultAnswer, type VaultTransport } from './vault-transport.js';

/** A failure given without sending the request, because an earlier one to the same address got no answer. */
export class VaultCircuitOpen extends VaultTransportFailure {
  constructor(cause: VaultTransportFailure) {
    super(cause.kind, cause.reason);
    this.name = 'VaultCircuitOpen';
  }
}

/** Options of {@link createVaultCircuit}. */
export interface VaultCircuitOptions {
  /** How long after the last failure the next request probes the server again (default 5000 ms). */
  cooldownMs?: number;
  /** Milliseconds clock (default Date.now). */
  now?: () => number;
}

/** The circuit of one address: `closed` (requests go out), `open` (they fail at once) or probing. */
export interface VaultCircuit {
  /** Sends `call` unless the circuit is open; a transport failure opens it, any HTTP answer closes it. */
  run(call: () => Promise<VaultAnswer>): Promise<VaultAnswer>;
  state(): 'closed' | 'open' | 'half-open';
}

export function createVaultCircuit(options: VaultCircuitOptions = {}): VaultCircuit {
  const cooldownMs = options.cooldownMs ?? 5_000;
  const now = options.now ?? Date.now;
  let failure: VaultTransportFailure | null = null;
  let openedAt = 0;
  let probing = false;

  function state(): 'closed' | 'open' | 'half-open' {
    if (failure === null) return 'closed';
    return probing || now() - openedAt < cooldownMs ? 'open' : 'half-open';
  }

  return {
    state,
    async run(call) {
      const current = state();
      if (current === 'open') throw new VaultCircuitOpen(failure as VaultTransportFailure);
      const probe = current === 'half-open';
      if (probe) probing = true;
      try {
        const answer = await call();
        failure = null;
        return answer;
      } catch (error) {
        // A request already in flight when the circuit opened keeps its own (first) failure as the named one.
        if (error instanceof VaultTransportFailure && !(error instanceof VaultCircuitOpen) && (failure === null || probe)) {
          failure = error;
          openedAt = now();
        }
        throw error;
      } finally {
        if (probe) probing = false;
      }
    },
  };
}

/** `transport` with every call going through `circuit` (close() and setToken() untouched). */
export function guardTransport(transport: VaultTransport, circuit: VaultCircuit): VaultTransport {
  return {
    get: (apiPath, token) => circuit.run(() => transport.get(apiPath, token)),
    post: (apiPath, body, token) => circuit.run(() => transport.post(apiPath, body, token)),
    approleLogin: (mount, roleId, secretId) => circuit.run(() => transport.approleLogin(mount, roleId, secretId)),
    setToken: (token) => transport.setToken(token),
    close: () => transport.close(),
  };
}

/** The tail of an error message for a request the circuit did not send ('' for one that was sent). */
export function circuitNote(error: VaultTransportFailure): string {
  return error instanceof VaultCircuitOpen ? ' (not sent: an earlier request to this address got no answer)' : '';
}
