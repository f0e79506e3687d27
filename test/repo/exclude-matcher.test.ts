// discovery.exclude: literal patterns are matched by equality without loading picomatch (start-up, see
// test/cli/lazy-start.test.ts); the result must be exactly picomatch's, for literal and glob patterns alike.
import fc from 'fast-check';
import picomatch from 'picomatch';
import t from 'tap';
import { excludeMatcher } from '../../src/repo/discover.js';

const reference = (patterns: string[]) => picomatch(patterns, { dot: true });

t.test('agrees with picomatch on hand-picked patterns', async (t) => {
  const patterns = ['node_modules', '.git', 'a.b', 'archive/old', 'x/', './a', '.', '..', 'a/../b', '...', '*.bak', '{a,b}', 'a+b', '@scope', '!(x)', 'A', 'a b', 'archive/*', '**/tmp'];
  const values = ['node_modules', '.git', 'git', 'a.b', 'aXb', 'archive/old', 'archive', 'x', 'x/', 'a', './a', '.', '..', '...', 'b', 'f.bak', 'a+b', 'aab', '@scope', 'y', 'A', 'a b', 'archive/new', 'deep/tmp', 'tmp'];
  for (const pattern of patterns) {
    const ours = excludeMatcher([pattern]);
    const theirs = reference([pattern]);
    for (const value of values) t.equal(ours(value), theirs(value), `${JSON.stringify(pattern)} vs ${JSON.stringify(value)}`);
  }
});

t.test('agrees with picomatch on generated patterns and names', async () => {
  const text = (chars: string) => fc.string({ unit: fc.constantFrom(...chars.split('')), minLength: 1, maxLength: 6 });
  fc.assert(
    fc.property(fc.array(text('ab._-/*?!{},+'), { minLength: 0, maxLength: 3 }), text('ab._-/'), (patterns, value) => {
      return excludeMatcher(patterns)(value) === reference(patterns)(value);
    }),
    { numRuns: 2000 },
  );
});
