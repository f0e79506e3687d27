// coffre.yaml's vault.addresses (a cluster's nodes) and vault.failoverMs: optional, URLs only, not with vault.address.
import t from 'tap';
import { isCoffreError } from '../../src/errors.js';
import { parseConfig } from '../../src/repo/config.js';

t.test('vault.addresses lists a cluster\'s nodes, with an optional failover budget', async (t) => {
  const config = parseConfig('version: 1\nvault:\n  addresses: [http://127.0.0.1:8200, http://127.0.0.1:8210]\n  failoverMs: 3000\n', 'coffre.yaml');
  t.same(config.vault.addresses, ['http://127.0.0.1:8200', 'http://127.0.0.1:8210']);
  t.equal(config.vault.failoverMs, 3000);
  t.equal(config.vault.address, null);
  const plain = parseConfig('version: 1\n', 'coffre.yaml');
  t.equal(plain.vault.addresses, undefined, 'absent by default (one address, as before)');
});

const refused = [
  { name: 'both address and addresses', yaml: 'vault:\n  address: http://a:1\n  addresses: [http://b:1]\n', match: 'not both' },
  { name: 'an empty list', yaml: 'vault:\n  addresses: []\n', match: 'addresses' },
  { name: 'a node that is not a URL', yaml: 'vault:\n  addresses: [bao-1]\n', match: 'addresses' },
  { name: 'a zero failover budget', yaml: 'vault:\n  addresses: [http://a:1]\n  failoverMs: 0\n', match: 'failoverMs' },
];
for (const c of refused) {
  t.test(`coffre.yaml with ${c.name} is COFFRE_CONFIG_INVALID`, async (t) => {
    let error: unknown;
    try {
      parseConfig(`version: 1\n${c.yaml}`, 'coffre.yaml');
    } catch (e) {
      error = e;
    }
    t.ok(isCoffreError(error) && error.code === 'COFFRE_CONFIG_INVALID', String(error));
    t.match(String((error as Error)?.message), c.match);
  });
}
