// The command-line grammar, table-driven: argv → command, services (positionals), -C chain and option values,
// or the usage errors (with the closest known option). Pure parsing: no repo is read here.
import t from 'tap';
import { levenshtein, suggestion } from '../../src/cli/args.js';
import { parseArgv } from '../../src/cli/main.js';

interface Case {
  name: string;
  argv: string[];
  /** Expected fields of the parsed line (t.match); `errors` defaults to none. */
  expected?: Record<string, unknown>;
  /** A usage error matching this. */
  error?: RegExp;
}

const cases: Case[] = [
  { name: 'a service is a positional', argv: ['check', 'mattermost'], expected: { kind: 'command', command: 'check', positionals: ['mattermost'], repo: [] } },
  { name: 'render takes several services', argv: ['render', 'mattermost', 'website'], expected: { command: 'render', positionals: ['mattermost', 'website'] } },
  { name: '-C before the command', argv: ['-C', 'examples/infra', 'check'], expected: { command: 'check', positionals: [], repo: ['examples/infra'] } },
  { name: '-C after the command', argv: ['check', '-C', 'examples/infra', 'etherpad'], expected: { positionals: ['etherpad'], repo: ['examples/infra'] } },
  { name: '--repo=DIR and -CDIR', argv: ['--repo=a', 'render', '-Cb', 'web'], expected: { repo: ['a', 'b'], positionals: ['web'] } },
  { name: 'several -C chain in order', argv: ['-C', 'a', 'check', '--repo', 'b'], expected: { repo: ['a', 'b'] } },
  { name: 'rotate: service, file, key', argv: ['rotate', 'chat', 'db', 'DB_PASS', '--generate'], expected: { positionals: ['chat', 'db', 'DB_PASS'], values: { generate: true } } },
  { name: '--service a,b and repeated --service', argv: ['check', '--service', 'a,b', '--service', 'c', '-s', 'd'], expected: { values: { service: ['a', 'b', 'c', 'd'] } } },
  { name: '--service=web', argv: ['check', '--service=web'], expected: { values: { service: ['web'] } } },
  { name: '-s=web is web, not "=web"', argv: ['check', '-s=web'], expected: { values: { service: ['web'] } } },
  { name: '-sweb', argv: ['check', '-sweb'], expected: { values: { service: ['web'] } } },
  { name: 'render takes --service too', argv: ['render', '--service', 'a,b'], expected: { values: { service: ['a', 'b'] }, positionals: [] } },
  { name: '-f=json and --format=junit', argv: ['check', '-f=json'], expected: { values: { format: 'json' } } },
  { name: '--format=junit', argv: ['check', '--format=junit', '--keys-only'], expected: { values: { format: 'junit', 'keys-only': true } } },
  { name: '-- ends options', argv: ['check', '--', '-odd'], expected: { positionals: ['-odd'] } },
  { name: 'help <cmd> is <cmd> --help', argv: ['help', 'check'], expected: { kind: 'help', command: 'check' } },
  { name: '<cmd> --help', argv: ['render', '--help'], expected: { kind: 'command', values: { help: true } } },
  { name: '--help before a command', argv: ['--help', 'render'], expected: { kind: 'help', command: 'render' } },
  { name: '-V is --version', argv: ['-V'], expected: { kind: 'version' } },
  { name: '--version', argv: ['--version'], expected: { kind: 'version' } },
  { name: 'no command', argv: [], expected: { kind: 'none' } },
  { name: 'an unknown option names the closest one', argv: ['check', '--fromat', 'json'], error: /unknown option --fromat for coffre check; did you mean --format\?/ },
  { name: 'an unknown option of another command is not suggested', argv: ['check', '--dry-run'], error: /^unknown option --dry-run for coffre check$/ },
  { name: 'a typo of --service', argv: ['render', '--servce', 'x'], error: /did you mean --service\?/ },
  { name: 'a name of Object.prototype is an unknown command', argv: ['constructor'], error: /^unknown command "constructor"/ },
  { name: 'an unknown command names the closest one', argv: ['chek'], error: /unknown command "chek"; did you mean check\?/ },
  { name: 'an unknown short option', argv: ['check', '-x'], error: /unknown option -x for coffre check/ },
  { name: 'a string option without its value', argv: ['check', '--format'], error: /option --format needs a value/ },
  { name: 'a value never swallows the next option', argv: ['check', '--service', '--keys-only'], error: /option --service needs a value \(for a value starting with "-", write --service=--keys-only\)/ },
  { name: 'a boolean option with a value', argv: ['render', '--all=yes'], error: /option --all takes no value/ },
  { name: 'an empty service in a list', argv: ['check', '--service', 'a,,b'], error: /option --service needs a non-empty value/ },
  { name: 'a single-value option given twice differently', argv: ['check', '-f', 'json', '--format', 'junit'], error: /option --format given twice/ },
  { name: '-C without a directory', argv: ['check', '-C'], error: /option -C needs a value/ },
  { name: 'an unknown global option', argv: ['--verison'], error: /unknown option --verison for coffre; did you mean --version\?/ },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const line = await parseArgv(c.argv);
    if (c.error) {
      t.match(line.errors.join('\n'), c.error);
      return;
    }
    t.same(line.errors, [], 'no usage error');
    t.match(line, c.expected ?? {});
    if (c.expected?.positionals) t.same((line as { positionals: string[] }).positionals, c.expected.positionals, 'exactly these positionals');
    if (c.expected?.repo) t.same((line as { repo: string[] }).repo, c.expected.repo, 'exactly this -C chain');
  });
}

t.test('suggestions: edit distance, and nothing for a word far from every candidate', async (t) => {
  t.equal(levenshtein('fromat', 'format'), 2);
  t.equal(levenshtein('', 'abc'), 3);
  t.equal(levenshtein('kitten', 'sitting'), 3);
  t.equal(suggestion('keys-onyl', ['keys-only', 'format']), 'keys-only');
  t.equal(suggestion('zzz', ['format', 'service']), null);
});
