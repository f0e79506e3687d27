// The admin page's HTML shell (served at /ui/): no inline script or style (the CSP forbids both); app.js
// builds the content with DOM calls (never innerHTML: Trusted Types are required) from the /v1 API.
// `{{AUTH}}` becomes `token` or `none` (serve --insecure-no-auth): whether the page must ask for a token.

export const UI_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="coffre-auth" content="{{AUTH}}">
<title>coffre — secrets</title>
<link rel="icon" href="/ui/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/ui/app.css">
<script type="module" src="/ui/app.js"></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <h1><a href="#/" id="home">coffre</a></h1>
  <p id="who"></p>
  <button type="button" id="signout" hidden>Forget token</button>
</header>
<main id="main" tabindex="-1">
  <noscript><p>This page needs JavaScript. The same data is in the API: /v1/check, /v1/services.</p></noscript>
  <p id="status" role="status" aria-live="polite"></p>
  <p id="alert" role="alert" hidden></p>

  <section id="login" hidden aria-labelledby="login-title">
    <h2 id="login-title">Sign in</h2>
    <form id="login-form" novalidate>
      <label for="token">API token</label>
      <input id="token" name="token" type="password" autocomplete="off" spellcheck="false" required aria-describedby="token-hint">
      <p id="token-hint" class="hint">Kept in this tab's memory only (never stored), sent as a Bearer token to this server's /v1 API. Reloading the page forgets it.</p>
      <button type="submit">Sign in</button>
    </form>
  </section>

  <section id="overview" hidden aria-labelledby="matrix-title">
    <h2 id="matrix-title">Completeness</h2>
    <div class="toolbar">
      <label for="filter">Filter</label>
      <input id="filter" type="search" placeholder="service or file name" aria-describedby="counts">
      <button type="button" id="refresh">Refresh</button>
    </div>
    <p id="counts"></p>
    <p id="matrix-help" class="hint">Services (rows) × secrets files (columns). Each cell gives the file's status; open it for its keys, versions and actions.</p>
    <div class="table-wrap" tabindex="0" role="region" aria-labelledby="matrix-title">
      <table id="matrix" aria-describedby="matrix-help">
        <caption class="visually-hidden">Completeness of each service's secrets files</caption>
        <thead></thead>
        <tbody></tbody>
      </table>
    </div>
    <ul class="legend" aria-label="Statuses">
      <li><span class="badge st-complete">✓ complete</span> every required key is set</li>
      <li><span class="badge st-incomplete">! incomplete</span> a key is missing, empty or a placeholder</li>
      <li><span class="badge st-source-missing">? source missing</span> no store entry for the file</li>
      <li><span class="badge st-error">✕ error</span> the check could not run</li>
    </ul>
    <div id="problems"></div>
  </section>

  <section id="file" hidden aria-labelledby="file-title">
    <p><a href="#/" id="back">← All services</a></p>
    <h2 id="file-title" tabindex="-1"></h2>
    <dl id="file-meta" class="meta"></dl>
    <div id="render-panel"></div>
    <h3 id="keys-title">Keys</h3>
    <div class="table-wrap" tabindex="0" role="region" aria-labelledby="keys-title">
      <table id="keys"><caption>Keys of the example and their status in the store (names only, never a value)</caption><thead></thead><tbody></tbody></table>
    </div>
    <h3 id="versions-title">Versions</h3>
    <div id="versions"></div>
    <h3 id="history-title">Last renders and writes of this service</h3>
    <div id="history"></div>
  </section>

  <dialog id="confirm" aria-labelledby="confirm-title">
    <form id="confirm-form" method="dialog">
      <h2 id="confirm-title"></h2>
      <div id="confirm-body"></div>
      <div class="buttons">
        <button type="button" id="confirm-cancel">Cancel</button>
        <button type="submit" id="confirm-ok" class="danger"></button>
      </div>
    </form>
  </dialog>
</main>
</body>
</html>
`;

/** A small padlock, same-origin (the CSP allows no data: URL). */
export const UI_FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect x="3" y="7" width="10" height="8" rx="1" fill="#1a4d8f"/><path d="M5 7V5a3 3 0 0 1 6 0v2" fill="none" stroke="#1a4d8f" stroke-width="1.6"/></svg>
`;
