// The admin page's script (served at /ui/app.js), plain browser JavaScript kept as a string so the build (tsc)
// ships it inside dist/ with no bundler. Written without backticks or dollar-brace so String.raw holds it verbatim.
// test/http/ui-page.test.ts parses it; test/http/ui.test.ts runs it in Chromium.

export const UI_SCRIPT = String.raw`
// coffre admin page. Talks to this server's /v1 API only; the token lives in the variable below (never in
// storage or cookies). Builds the DOM with createElement/textContent: no innerHTML (Trusted Types).
'use strict';

const state = { token: null, me: null, report: null, history: null };

const $ = (id) => document.getElementById(id);

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'class') el.className = value;
    else if (name === 'text') el.textContent = value;
    else if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function show(section) {
  for (const id of ['login', 'overview', 'file']) $(id).hidden = id !== section;
}

function say(text) {
  $('status').textContent = text;
}

function alertError(error) {
  const box = $('alert');
  if (!error) {
    box.hidden = true;
    box.textContent = '';
    return;
  }
  box.hidden = false;
  box.textContent = error.message || String(error);
}

class ApiError extends Error {
  constructor(status, body) {
    const detail = body && body.error ? body.error.code + ': ' + body.error.message : 'HTTP ' + status;
    super(detail);
    this.status = status;
    this.body = body;
    this.code = body && body.error ? body.error.code : null;
  }
}

async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (state.token !== null) headers.authorization = 'Bearer ' + state.token;
  const init = { method, headers, credentials: 'omit', cache: 'no-store', redirect: 'error' };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  let data = null;
  try {
    data = await response.json();
  } catch (_ignored) {
    data = null;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    if (response.status === 401 && state.me !== null) signOut('The server no longer accepts this token: sign in again.');
    throw error;
  }
  return data;
}

const enc = encodeURIComponent;
const fileUrl = (service, file) => '/v1/services/' + enc(service) + '/secrets/' + enc(file);

/** A secrets file's column name: its target's file name without a trailing .secrets / .env (as coffre names it). */
function logicalName(target) {
  const base = target.split('/').pop();
  if (base === '.env') return 'env';
  return base.replace(/\.(secrets|env)$/, '') || base;
}

const STATUS_TEXT = { complete: '✓ complete', incomplete: '! incomplete', 'source-missing': '? source missing', error: '✕ error' };

// ---- sign in -------------------------------------------------------------------------------------------

async function start() {
  $('login-form').addEventListener('submit', onLogin);
  $('signout').addEventListener('click', () => signOut('Token forgotten.'));
  $('filter').addEventListener('input', applyFilter);
  $('refresh').addEventListener('click', () => loadOverview(true));
  $('confirm-cancel').addEventListener('click', () => $('confirm').close('cancel'));
  window.addEventListener('hashchange', route);
  // serve says in the page whether it wants a token (none: --insecure-no-auth, read-only).
  const auth = document.querySelector('meta[name="coffre-auth"]');
  if (auth === null || auth.getAttribute('content') !== 'none') return showLogin();
  try {
    await whoami();
    route();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      showLogin();
    } else {
      alertError(error);
    }
  }
}

function showLogin() {
  show('login');
  $('token').focus();
}

async function onLogin(event) {
  event.preventDefault();
  const input = $('token');
  const token = input.value.trim();
  input.value = '';
  if (token === '') {
    alertError(new Error('Enter a token.'));
    return;
  }
  state.token = token;
  try {
    await whoami();
    alertError(null);
    route();
  } catch (error) {
    state.token = null;
    alertError(error instanceof ApiError && error.status === 401 ? new Error('This token is not accepted (' + error.message + ').') : error);
    input.focus();
  }
}

async function whoami() {
  const me = await api('GET', '/v1/whoami');
  state.me = me;
  $('who').textContent = (me.anonymous ? 'No authentication (read-only)' : 'Token ' + me.id) + ' · role ' + me.role + ' · services ' + me.services.join(', ');
  $('signout').hidden = me.anonymous;
  document.body.dataset.role = me.role;
  return me;
}

function signOut(message) {
  state.token = null;
  state.me = null;
  state.report = null;
  state.history = null;
  $('who').textContent = '';
  $('signout').hidden = true;
  delete document.body.dataset.role;
  // Nothing the previous token could see stays on the page.
  for (const id of ['counts', 'problems', 'file-meta', 'render-panel', 'versions', 'history']) $(id).replaceChildren();
  for (const table of [$('matrix'), $('keys')]) {
    table.tHead.replaceChildren();
    table.tBodies[0].replaceChildren();
  }
  // Back to the matrix: the next token may not see the file that was open.
  history.replaceState(null, '', '#/');
  say(message);
  showLogin();
}

// ---- routing ---------------------------------------------------------------------------------------------

function route() {
  if (state.me === null) return showLogin();
  const match = /^#\/f\/([^/]+)\/([^/]+)$/.exec(location.hash);
  alertError(null);
  if (match) {
    openFile(decodeURIComponent(match[1]), decodeURIComponent(match[2])).catch(alertError);
  } else {
    loadOverview(false).catch(alertError);
  }
}

// ---- the matrix ------------------------------------------------------------------------------------------

async function loadOverview(fresh) {
  show('overview');
  if (fresh || state.report === null) {
    $('matrix').setAttribute('aria-busy', 'true');
    say('Checking…');
    try {
      const [report, history] = await Promise.all([api('GET', '/v1/check'), api('GET', '/v1/history')]);
      state.report = report;
      state.history = history;
    } finally {
      $('matrix').setAttribute('aria-busy', 'false');
    }
    say('Checked ' + new Date().toLocaleTimeString() + '.');
  }
  drawMatrix(state.report);
}

function drawMatrix(report) {
  const columns = [];
  for (const service of report.services) {
    for (const file of service.files) {
      const name = logicalName(file.target);
      if (!columns.includes(name)) columns.push(name);
    }
  }
  columns.sort();
  const head = $('matrix').tHead;
  head.replaceChildren(h('tr', {}, h('th', { scope: 'col', text: 'Service' }), columns.map((c) => h('th', { scope: 'col', text: c })), h('th', { scope: 'col', text: 'Last render' })));
  const body = $('matrix').tBodies[0];
  body.replaceChildren();
  for (const service of report.services) {
    const row = h('tr', { 'data-service': service.name }, h('th', { scope: 'row', text: service.name }));
    if (service.errors && service.errors.length > 0) row.dataset.errors = String(service.errors.length);
    for (const column of columns) {
      const files = service.files.filter((f) => logicalName(f.target) === column);
      if (files.length === 0) {
        row.append(h('td', { class: 'none', 'data-file': column }, h('span', { 'aria-hidden': 'true' }, '—'), h('span', { class: 'visually-hidden', text: 'no ' + column + ' file' })));
        continue;
      }
      row.append(h('td', { 'data-file': column, 'data-status': files.map((f) => f.status).join(' ') }, files.map((f) => cellButton(service.name, column, f))));
    }
    const last = state.history ? state.history.entries.find((e) => e.service === service.name && e.action === 'render') : null;
    row.append(h('td', { class: 'last-render' }, last ? [h('time', { datetime: last.time, text: formatTime(last.time) }), h('br'), last.outcome + (last.dryRun ? ' (dry run)' : '') + (last.tokenId ? ' by ' + last.tokenId : '')] : '—'));
    body.append(row);
  }
  const problems = report.problems.concat(...report.services.map((s) => (s.errors || []).map((e) => ({ severity: 'error', code: e.code, file: e.file, line: e.line, message: e.message }))));
  const box = $('problems');
  box.replaceChildren();
  if (problems.length > 0) {
    box.append(
      h('h3', { text: 'Problems found in the repo' }),
      h('ul', { class: 'problems' }, problems.map((p) => h('li', {}, h('span', { class: 'badge ' + (p.severity === 'error' ? 'st-error' : 'st-incomplete'), text: p.severity }), ' ', h('code', { text: p.file + (p.line ? ':' + p.line : '') }), ' ' + p.code + ': ' + p.message))),
    );
  }
  applyFilter();
}

function keyCounts(file) {
  const required = file.keys.filter((k) => !k.optional && k.status !== 'extra');
  const set = required.filter((k) => k.status === 'ok').length;
  return { set, required: required.length };
}

function cellButton(service, column, file) {
  const counts = keyCounts(file);
  const detail = file.status === 'error' ? (file.error ? file.error.code : 'error') : file.status === 'source-missing' && file.keys.length === 0 ? 'no source' : counts.set + '/' + counts.required + ' keys set';
  const label = service + ' ' + column + ': ' + file.status.replace('-', ' ') + ', ' + detail + '. Open';
  return h(
    'button',
    {
      type: 'button',
      class: 'cell st-' + file.status,
      'aria-label': label,
      'data-target': file.target,
      onclick: () => {
        location.hash = '#/f/' + enc(service) + '/' + enc(file.target);
      },
    },
    STATUS_TEXT[file.status] || file.status,
    h('small', { text: detail }),
  );
}

function applyFilter() {
  const report = state.report;
  if (report === null) return;
  const needle = $('filter').value.trim().toLowerCase();
  const rows = [...$('matrix').tBodies[0].rows];
  const totals = { complete: 0, incomplete: 0, 'source-missing': 0, error: 0 };
  let services = 0;
  let files = 0;
  for (const row of rows) {
    const service = report.services.find((s) => s.name === row.dataset.service);
    const matching = service.files.filter((f) => needle === '' || service.name.toLowerCase().includes(needle) || f.target.toLowerCase().includes(needle));
    const visible = needle === '' || matching.length > 0 || service.name.toLowerCase().includes(needle);
    row.hidden = !visible;
    if (!visible) continue;
    services += 1;
    for (const file of matching) {
      files += 1;
      totals[file.status] = (totals[file.status] || 0) + 1;
    }
  }
  $('counts').textContent =
    services + ' of ' + report.services.length + ' services, ' + files + ' files: ' + totals.complete + ' complete, ' + totals.incomplete + ' incomplete, ' +
    totals['source-missing'] + ' source missing, ' + totals.error + ' error' + (totals.error === 1 ? '' : 's');
}

// ---- one file --------------------------------------------------------------------------------------------

async function openFile(service, target) {
  show('file');
  const title = $('file-title');
  title.textContent = service + ' · ' + logicalName(target);
  say('Loading ' + target + '…');
  const [check, keys, versions, history] = await Promise.all([
    api('GET', '/v1/services/' + enc(service) + '/check'),
    api('GET', fileUrl(service, target) + '/keys').catch((error) => ({ error })),
    api('GET', fileUrl(service, target) + '/versions').catch((error) => ({ error })),
    api('GET', '/v1/services/' + enc(service) + '/history'),
  ]);
  const file = check.services[0] && check.services[0].files.find((f) => f.target === target);
  if (!file) throw new Error('No secrets file ' + target + ' in service ' + service + '.');
  const ctx = { service, target, file, keys: keys.error ? null : keys, versions: versions.error ? null : versions, history };
  drawMeta(ctx, keys.error, versions.error);
  drawRenderPanel(ctx);
  drawKeys(ctx);
  drawVersions(ctx, versions.error);
  drawHistory(ctx);
  say('Showing ' + target + '.');
  title.focus();
}

function drawMeta(ctx, keysError, versionsError) {
  const { file } = ctx;
  const rows = [
    ['Status', h('span', { class: 'badge st-' + file.status, id: 'file-status', text: STATUS_TEXT[file.status] || file.status })],
    ['Target', h('code', { text: file.target })],
    ['Example', file.example ? h('code', { text: file.example }) : 'none'],
    ['Source', file.source.kind ? file.source.kind + ' ' : 'none', file.source.ref ? h('code', { text: file.source.ref }) : null],
  ];
  if (file.version !== undefined) rows.push(['Version checked', h('span', { id: 'checked-version', text: String(file.version) })]);
  if (file.error) rows.push(['Error', file.error.code + ': ' + file.error.message]);
  if (file.reason) rows.push(['Why', file.reason]);
  if (keysError) rows.push(['Example keys', keysError.message]);
  if (versionsError) rows.push(['Versions', versionsError.message]);
  $('file-meta').replaceChildren(...rows.flatMap(([label, ...value]) => [h('dt', { text: label }), h('dd', {}, value)]));
}

function keyRows(ctx) {
  const byName = new Map();
  for (const k of ctx.keys ? ctx.keys.keys : []) byName.set(k.name, { name: k.name, line: k.line, optional: k.optional, allowEmpty: k.allowEmpty, generate: k.generate, interpolated: k.interpolated, status: k.commentedOut ? 'commented out' : 'not checked' });
  for (const k of ctx.file.keys) {
    const known = byName.get(k.name) || { name: k.name, line: k.line, optional: k.optional, allowEmpty: false, generate: null, interpolated: false };
    byName.set(k.name, { ...known, status: k.status });
  }
  return [...byName.values()];
}

function drawKeys(ctx) {
  const admin = state.me.may.admin;
  const table = $('keys');
  const columns = ['Key', 'Status', 'Example line', 'Optional', 'Allow empty', 'Generate'];
  if (admin) columns.push('Action');
  table.tHead.replaceChildren(h('tr', {}, columns.map((c) => h('th', { scope: 'col', text: c }))));
  const rows = keyRows(ctx).map((k) =>
    h(
      'tr',
      { 'data-key': k.name },
      h('th', { scope: 'row' }, h('code', { text: k.name })),
      h('td', { 'data-label': 'Status', class: 'k-' + k.status, text: k.status }),
      h('td', { 'data-label': 'Example line' }, k.line ? h('code', { title: (ctx.file.example || '') + ':' + k.line, text: (ctx.file.example || '').split('/').pop() + ':' + k.line }) : '—'),
      h('td', { 'data-label': 'Optional', text: k.optional ? 'yes' : 'no' }),
      h('td', { 'data-label': 'Allow empty', text: k.allowEmpty ? 'yes' : 'no' }),
      h('td', { 'data-label': 'Generate', text: k.generate ? k.generate.charset + ':' + k.generate.length : '—' }),
      admin
        ? h('td', { 'data-label': 'Action' }, k.interpolated || k.status === 'extra' || ctx.file.source.kind === null ? '—' : h('button', { type: 'button', class: 'secondary', 'data-action': 'rotate', 'aria-label': 'Rotate ' + k.name + '…', onclick: () => askRotate(ctx, k) }, 'Rotate…'))
        : null,
    ),
  );
  table.tBodies[0].replaceChildren(...rows);
}

function versionWho(ctx, version) {
  const entry = ctx.history.entries.find((e) => e.action !== 'render' && e.file === (ctx.versions && ctx.versions.file) && e.newVersion === version && e.outcome !== 'error');
  return entry ? (entry.tokenId || '?') + ' (' + entry.action + ')' : 'not known';
}

function drawVersions(ctx, error) {
  const box = $('versions');
  box.replaceChildren();
  const v = ctx.versions;
  if (!v) {
    box.append(h('p', { text: error ? 'Versions unavailable: ' + error.message : 'No versions.' }));
    return;
  }
  if (v.source.kind === 'vault') {
    if (!v.exists) return box.append(h('p', { text: 'The Vault secret ' + v.source.ref + ' does not exist yet.' }));
    const admin = state.me.may.admin;
    const head = ['Version', 'Created', 'Deleted', 'Current', 'Written through this server by'];
    if (admin) head.push('Action');
    box.append(
      h(
        'div',
        { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Vault versions' },
        h(
          'table',
          { id: 'versions-table' },
          h('caption', { text: 'Vault KV v2 versions of ' + v.source.ref + ' (Vault keeps no author; the last column comes from this server\'s audit trail)' }),
          h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col', text: c })))),
          h(
            'tbody',
            {},
            [...v.versions].reverse().map((ver) =>
              h(
                'tr',
                { 'data-version': ver.version, 'data-current': ver.current ? 'true' : 'false' },
                h('th', { scope: 'row', text: String(ver.version) }),
                h('td', { text: formatTime(ver.createdTime) }),
                h('td', { text: ver.destroyed ? 'destroyed' : ver.deletionTime ? formatTime(ver.deletionTime) : '—' }),
                h('td', { text: ver.current ? 'current' : '' }),
                h('td', { text: versionWho(ctx, ver.version) }),
                admin ? h('td', {}, ver.current || ver.destroyed || ver.deletionTime ? '—' : h('button', { type: 'button', class: 'secondary', 'data-action': 'rollback', onclick: () => askRollback(ctx, ver.version) }, 'Roll back to ' + ver.version + '…')) : null,
              ),
            ),
          ),
        ),
      ),
    );
    return;
  }
  box.append(h('p', {}, 'sops file ', h('code', { text: v.source.ref }), ', last modified ' + (v.lastModified ? formatTime(v.lastModified) : 'unknown') + '. Its history is git; roll back with git.'));
  if (v.git && v.git.length > 0) {
    box.append(
      h(
        'div',
        { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'git history' },
        h('table', { id: 'versions-table' }, h('caption', { text: 'Recent commits touching the sops file' }), h('thead', {}, h('tr', {}, ['Commit', 'Date', 'Subject'].map((c) => h('th', { scope: 'col', text: c })))), h('tbody', {}, v.git.map((c) => h('tr', {}, h('th', { scope: 'row' }, h('code', { text: c.commit.slice(0, 10) })), h('td', { text: formatTime(c.date) }), h('td', { text: c.subject }))))),
      ),
    );
  } else {
    box.append(h('p', { text: v.git === null ? 'No git history (not a git checkout, or git is missing).' : 'No commit touches it yet.' }));
  }
}

function drawHistory(ctx) {
  const box = $('history');
  const entries = ctx.history.entries;
  box.replaceChildren(h('p', { class: 'hint', text: 'Kept in this server\'s memory since it started (the last ' + ctx.history.kept.capacity + ' audit lines of all services).' }));
  if (entries.length === 0) {
    box.append(h('p', { text: 'Nothing rendered or written through this server yet.' }));
    return;
  }
  box.append(
    h(
      'div',
      { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Recent renders and writes' },
      h(
        'table',
        { id: 'history-table' },
        h('caption', { text: 'Newest first' }),
        h('thead', {}, h('tr', {}, ['Time', 'Action', 'Outcome', 'Keys', 'Versions', 'Token'].map((c) => h('th', { scope: 'col', text: c })))),
        h(
          'tbody',
          {},
          entries.map((e) =>
            h(
              'tr',
              {},
              h('td', { text: formatTime(e.time) }),
              h('th', { scope: 'row', text: e.action + (e.dryRun ? ' (dry run)' : '') + (e.file ? ' ' + e.file : '') }),
              h('td', { text: e.outcome + (e.errorCode ? ' (' + e.errorCode + ')' : '') }),
              h('td', {}, (e.key ? [e.key] : e.keys).length === 0 ? '—' : (e.key ? [e.key] : e.keys).map((name, i) => [i > 0 ? ', ' : '', h('code', { text: name })])),
              h('td', { text: e.oldVersion === null && e.newVersion === null ? '—' : (e.oldVersion === null ? '∅' : e.oldVersion) + ' → ' + (e.newVersion === null ? '∅' : e.newVersion) }),
              h('td', { text: e.tokenId || '—' }),
            ),
          ),
        ),
      ),
    ),
  );
}

function formatTime(text) {
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? text : date.toLocaleString();
}

// ---- actions ---------------------------------------------------------------------------------------------

/** Opens the confirmation dialog; resolves true only when the user confirms. */
function confirmStep(title, body, okLabel) {
  const dialog = $('confirm');
  $('confirm-title').textContent = title;
  $('confirm-body').replaceChildren(...body);
  $('confirm-ok').textContent = okLabel;
  dialog.returnValue = '';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    $('confirm-ok').value = 'ok';
    dialog.showModal();
  });
}

const CHARSETS = ['alnum', 'hex', 'base64url', 'ascii-safe'];

async function askRotate(ctx, key) {
  const spec = key.generate || { charset: 'alnum', length: 32 };
  const charset = h('select', { id: 'rotate-charset' }, CHARSETS.map((c) => h('option', { value: c, selected: c === spec.charset }, c)));
  const length = h('input', { id: 'rotate-length', type: 'number', min: '1', max: '4096', value: String(spec.length), required: true });
  const render = h('input', { id: 'rotate-render', type: 'checkbox' });
  const step1 = await confirmStep(
    'Rotate ' + key.name,
    [
      h('p', {}, 'A new random value is generated by the server and written to ', h('code', { text: ctx.file.source.ref || '' }), '. Nobody sees it; running containers keep the old one until rendered and restarted.'),
      h('div', { class: 'field' }, h('label', { for: 'rotate-charset', text: 'Characters' }), charset),
      h('div', { class: 'field' }, h('label', { for: 'rotate-length', text: 'Length' }), length),
      h('div', { class: 'field' }, h('label', {}, render, ' Render ' + ctx.service + ' afterwards')),
      key.generate ? h('p', { class: 'hint', text: 'Prefilled from the example: @generate=' + key.generate.charset + ':' + key.generate.length }) : h('p', { class: 'hint', text: 'The example has no @generate annotation: default alnum:32.' }),
    ],
    'Continue…',
  );
  if (!step1) return say('Rotation cancelled.');
  const body = { generate: { charset: charset.value, length: Number(length.value) }, render: render.checked };
  const current = ctx.versions && ctx.versions.source.kind === 'vault' ? ctx.versions.currentVersion : null;
  const sure = await confirmStep(
    'Confirm: rotate ' + key.name + '?',
    [
      h('p', {}, 'Write a new ', h('strong', { text: body.generate.charset + ':' + body.generate.length }), ' value for ', h('code', { text: key.name }), ' in ', h('code', { text: ctx.file.source.ref || '' }), current !== null ? ' (now at version ' + current + ')' : '', '?'),
      h('p', { text: ctx.file.source.kind === 'vault' ? 'The old value stays in Vault as a version you can roll back to.' : 'The old value stays only in git history.' }),
    ],
    'Rotate ' + key.name,
  );
  if (!sure) return say('Rotation cancelled.');
  await act(ctx, 'Rotating ' + key.name + '…', () => api('PUT', fileUrl(ctx.service, ctx.target) + '/keys/' + enc(key.name), body), (r) => 'Rotated ' + key.name + (r.newVersion !== null ? ': version ' + r.oldVersion + ' → ' + r.newVersion : '') + (r.render ? ', render ' + r.render.status : '') + '.');
}

async function askRollback(ctx, version) {
  const render = h('input', { id: 'rollback-render', type: 'checkbox' });
  const sure = await confirmStep(
    'Confirm: roll back to version ' + version + '?',
    [
      h('p', {}, 'The data of version ' + version + ' of ', h('code', { text: ctx.versions.source.ref }), ' becomes a new current version (after ' + ctx.versions.currentVersion + '). Every key of the file takes its old value.'),
      h('div', { class: 'field' }, h('label', {}, render, ' Render ' + ctx.service + ' afterwards')),
    ],
    'Roll back to ' + version,
  );
  if (!sure) return say('Rollback cancelled.');
  await act(ctx, 'Rolling back…', () => api('POST', fileUrl(ctx.service, ctx.target) + '/rollback', { to: version, render: render.checked }), (r) => 'Rolled back: version ' + r.oldVersion + ' → ' + r.newVersion + '.');
}

async function act(ctx, busy, call, done) {
  say(busy);
  alertError(null);
  let message;
  try {
    message = done(await call());
  } catch (error) {
    alertError(error);
    message = 'The action failed.';
  }
  state.report = null;
  await openFile(ctx.service, ctx.target).catch(alertError);
  say(message);
}

function drawRenderPanel(ctx) {
  const box = $('render-panel');
  box.replaceChildren();
  if (!state.me.may.render) return;
  const result = h('div', { id: 'render-result', 'aria-live': 'polite' });
  const renderButton = h('button', { type: 'button', class: 'danger', id: 'render-now', disabled: true }, 'Render ' + ctx.service + ' now');
  const planButton = h('button', { type: 'button', id: 'render-plan' }, 'Plan render (dry run)');
  planButton.addEventListener('click', async () => {
    renderButton.disabled = true;
    say('Planning the render of ' + ctx.service + '…');
    try {
      const plan = await api('POST', '/v1/services/' + enc(ctx.service) + '/render', { dryRun: true });
      result.replaceChildren(...describeRender(plan.services[0], true));
      renderButton.disabled = plan.services[0].status !== 'planned';
      say('Plan ready: review it, then render.');
    } catch (error) {
      result.replaceChildren(...(error.body && error.body.services ? describeRender(error.body.services[0], true) : []), h('p', { class: 'k-missing', text: error.message }));
      say('The plan was refused.');
    }
  });
  renderButton.addEventListener('click', async () => {
    const sure = await confirmStep('Confirm: render ' + ctx.service + '?', [h('p', { text: 'Writes the env files planned above on the server (atomically). Containers pick them up when restarted.' })], 'Render ' + ctx.service);
    if (!sure) return say('Render cancelled.');
    renderButton.disabled = true;
    await act(ctx, 'Rendering ' + ctx.service + '…', () => api('POST', '/v1/services/' + enc(ctx.service) + '/render', { dryRun: false }), (r) => 'Rendered ' + ctx.service + ': ' + r.services[0].status + '.');
  });
  box.append(h('div', { class: 'panel' }, h('h3', { text: 'Render ' + ctx.service }), h('p', { class: 'hint', text: 'First a dry run shows what would change (key names only); then render writes it.' }), h('div', { class: 'buttons' }, planButton, renderButton), result));
}

function describeRender(service, dryRun) {
  const out = [h('p', {}, (dryRun ? 'Plan: ' : 'Result: ') + service.status)];
  if (service.files.length > 0) {
    out.push(
      h(
        'ul',
        {},
        service.files.map((f) => {
          const parts = [];
          if (f.keys.added.length) parts.push('added ' + f.keys.added.join(', '));
          if (f.keys.changed.length) parts.push('changed ' + f.keys.changed.join(', '));
          if (f.keys.removed.length) parts.push('removed ' + f.keys.removed.join(', '));
          return h('li', {}, h('code', { text: f.target }), ': ' + f.action + (parts.length ? ' (' + parts.join('; ') + ')' : ''));
        }),
      ),
    );
  }
  if (service.problems.length > 0) out.push(h('ul', {}, service.problems.map((p) => h('li', { class: 'k-missing' }, h('code', { text: p.key.name }), ' ' + p.key.status + ' in ', h('code', { text: p.target })))));
  return out;
}

start();
`;
