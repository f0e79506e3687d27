// Which example or stored values read as stand-ins for a secret.
import t from 'tap';
import { looksLikePlaceholder } from '../../src/core/placeholder.js';

const placeholders = [
  '', '   ', 'changeme', 'ChangeMe', 'CHANGEME', 'change_me', 'change-me', 'changeme_generate_a_secret', 'REPLACEME', 'replace_me',
  'REPLACE_WITH_RANDOM_SECRET', '<change_me>', '<your token>', '{PASSDB}', '{DBROOTPASS}', '{{ api_key }}', 'xxx', 'XXXXXXXX',
  'xxxx-xxxx', 'your-cloudflare-api-token-here', 'your_api_key_here', 'TODO', 'todo', 'FIXME', 'secret', 'password', 'Password',
  '…', '...',
];
const realValues = [
  'ephios', 'immich', 'admin', 'America/New_York', '5432', 'https://example.org', 'postgres://mattermost:changeme@database:5432/mm',
  '${DB_PASSWORD}', 'homeassistant.${BASE_HOSTNAME}', 'REMOTE_USER', 'GENERATEADMINTOKENHERE', 'SECURE_PASSWORD', 'adminadmin',
  'super_secret_token', '{"a":1}', 'Admin <admin@example.com>', 'xkcd', 'secrets', 'my-password-123', 'Zk9$q!x', 'yourself',
];

t.test('recognises placeholder markers', async (t) => {
  for (const value of placeholders) t.equal(looksLikePlaceholder(value), true, JSON.stringify(value));
});

t.test('keeps real values, templates, ALL-CAPS words and embedded markers', async (t) => {
  for (const value of realValues) t.equal(looksLikePlaceholder(value), false, JSON.stringify(value));
});
