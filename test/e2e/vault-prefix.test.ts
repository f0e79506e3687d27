// Issue 10 item 12: a Vault source derived with an empty vault.prefix is a path another repo on the same
// OpenBao derives alike: check warns (VAULT_PREFIX_EMPTY); a prefix, a path template without {prefix}, or no
// Vault at all mean no warning.
import t from 'tap';
import { sharedOpenBao } from '../support/openbao.js';
import { runCoffre } from '../support/run-cli.js';

t.test('an empty prefix is a VAULT_PREFIX_EMPTY warning naming coffre.yaml; a prefix silences it', async (t) => {
  const bao = await sharedOpenBao(t);
  // The service folder carries the run's unique prefix, so the unprefixed path is still this test's own.
  const service = `${bao.prefix}-chat`;
  const tree = (config: string) => ({
    'coffre.yaml': config,
    [service]: { 'docker-compose.yml': 'services:\n  db:\n    image: postgres\n    env_file: db.secrets\n', 'db.secrets.example': 'DB_PASS=\n' },
  });
  await bao.vaultHttp('POST', `secret/data/${service}/db`, { data: { DB_PASS: 'p-1' } });
  await bao.vaultHttp('POST', `secret/data/${bao.prefix}/${service}/db`, { data: { DB_PASS: 'p-1' } });
  const env = { BAO_ADDR: bao.address, BAO_TOKEN: bao.rootToken };

  const empty = t.testdir(tree('vault:\n  mount: secret\n'));
  const result = await runCoffre(['-C', empty, 'check', '--keys-only', '--format', 'json'], env);
  t.equal(result.code, 0, 'a warning does not change the exit code');
  const report = JSON.parse(result.stdout);
  t.same(report.problems.map((p: { code: string; file: string; severity: string }) => [p.severity, p.code, p.file]), [['warning', 'VAULT_PREFIX_EMPTY', 'coffre.yaml']]);
  t.match(report.problems[0].message, `vault.prefix is empty: 1 secrets file uses Vault paths like secret/${service}/db, which another repo on the same server would share; set a per-repo vault.prefix`);

  for (const config of [`vault:\n  prefix: ${bao.prefix}\n`, `vault:\n  path: "${service}-repo/{service}/{name}"\n`]) {
    const dir = t.testdir(tree(config));
    const other = JSON.parse((await runCoffre(['-C', dir, 'check', '--keys-only', '--format', 'json'], env)).stdout);
    t.same(other.problems.filter((p: { code: string }) => p.code === 'VAULT_PREFIX_EMPTY'), [], config.trim());
  }

  const noVault = t.testdir(tree('# no vault\n'));
  const sopsOnly = JSON.parse((await runCoffre(['-C', noVault, 'check', '--format', 'json'], {})).stdout);
  t.same(sopsOnly.problems, [], 'no Vault source: nothing to warn about');

  const silenced = t.testdir(tree('warnings:\n  ignore: [{ code: VAULT_PREFIX_EMPTY }]\n'));
  const quiet = JSON.parse((await runCoffre(['-C', silenced, 'check', '--keys-only', '--format', 'json'], env)).stdout);
  t.same(quiet.problems, []);
  t.equal(quiet.summary.warningsSilenced, 1, 'silenced, and counted');
});
