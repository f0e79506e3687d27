#!/usr/bin/env node
// Container healthcheck for `coffre serve` (Dockerfile HEALTHCHECK, docker-compose.yml): GET /healthz where
// serve listens, from the same environment serve reads: COFFRE_LISTEN (default 127.0.0.1:8080; a wildcard
// host is asked on loopback) and, when COFFRE_TLS_CERT is set, HTTPS. The certificate is not verified: the
// probe stays on this host and sends nothing but the path. Exit 0 when /healthz answers 200, else 1.
import http from 'node:http';
import https from 'node:https';

const listen = process.env.COFFRE_LISTEN || '127.0.0.1:8080';
const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(listen);
if (!match) {
  process.stderr.write(`healthcheck: COFFRE_LISTEN "${listen}" is not HOST:PORT\n`);
  process.exit(1);
}
let host = match[1] ?? match[2] ?? '';
if (host === '' || host === '0.0.0.0') host = '127.0.0.1';
else if (host === '::') host = '::1';
const secure = (process.env.COFFRE_TLS_CERT ?? '') !== '';
const request = (secure ? https : http).get(
  { host, port: Number(match[3]), path: '/healthz', timeout: 4000, agent: false, ...(secure ? { rejectUnauthorized: false } : {}) },
  (response) => {
    response.resume();
    process.exitCode = response.statusCode === 200 ? 0 : 1;
    if (process.exitCode !== 0) process.stderr.write(`healthcheck: /healthz answered ${response.statusCode}\n`);
  },
);
request.on('timeout', () => request.destroy(new Error('timeout')));
request.on('error', (error) => {
  process.stderr.write(`healthcheck: ${secure ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${match[3]}/healthz: ${error.message}\n`);
  process.exitCode = 1;
});
