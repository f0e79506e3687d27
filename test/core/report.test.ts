// The check report's text form: --quiet keeps what needs attention, including a service whose only problem is
// a compose error (it has no file results to show, so a files-only filter would drop it).
import t from 'tap';
import { formatText, summarize, type CheckReport, type ServiceResult } from '../../src/core/report.js';

function reportOf(services: ServiceResult[]): CheckReport {
  return { version: 1, complete: false, keysOnly: false, services, problems: [], summary: summarize(services) };
}

t.test('--quiet keeps a service whose compose file could not be read, with its error; leaves out a fine one', async (t) => {
  const report = reportOf([
    { name: 'broken', files: [], errors: [{ code: 'COFFRE_COMPOSE_INVALID', file: 'broken/docker-compose.yml', line: 3, message: 'duplicate key "services"' }] },
    { name: 'fine', files: [] },
  ]);
  const quiet = formatText(report, { color: false, quiet: true });
  t.match(quiet, /broken\n.*broken\/docker-compose\.yml:3 {2}error\n.*COFFRE_COMPOSE_INVALID duplicate key/);
  t.notMatch(quiet, /^fine$/m, 'a service with nothing to report is left out');
  t.match(quiet, /0 source-missing, 1 error\n$/, 'the summary counts the compose error');
});
