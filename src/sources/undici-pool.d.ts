// undici's Client and connector, imported by their own modules (vault-transport.ts): undici's index would load
// its fetch, mocks and caches too. The types are undici's own.
declare module 'undici/lib/dispatcher/client.js' {
  import type { Client } from 'undici';
  const ClientClass: typeof Client;
  export default ClientClass;
}
declare module 'undici/lib/core/connect.js' {
  import type { buildConnector } from 'undici';
  const build: typeof buildConnector;
  export default build;
}
