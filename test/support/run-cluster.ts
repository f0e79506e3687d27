// `npm run cluster`: starts a 3-node OpenBao Raft cluster on loopback (test/support/openbao-cluster.ts), prints
// how to point coffre at it, and on Ctrl-C (or SIGTERM) kills every node and removes its temp directory.
import { startOpenBaoCluster } from './openbao-cluster.js';

const started = Date.now();
const cluster = await startOpenBaoCluster({ log: (line) => process.stderr.write(`cluster: ${line}\n`) });
process.stdout.write(
  [
    `3-node OpenBao Raft cluster ready in ${((Date.now() - started) / 1000).toFixed(1)} s (KV v2 at secret/):`,
    ...cluster.nodes.map((n) => `  ${n.id}  ${n.address}`),
    '',
    'coffre.yaml:',
    '  vault:',
    '    addresses:',
    ...cluster.addresses.map((a) => `      - ${a}`),
    '',
    `export BAO_TOKEN=${cluster.rootToken}   # root token of this throw-away cluster`,
    'Ctrl-C stops the cluster and deletes its data.',
    '',
  ].join('\n'),
);
// Ctrl-C / SIGTERM / SIGHUP: openbao-cluster.ts kills every node and removes the temp directory, then exits.
setInterval(() => {}, 1 << 30);
