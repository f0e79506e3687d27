// The admin page's stylesheet (served at /ui/app.css): readable on a phone, visible focus, statuses told by
// text and symbol as well as colour, colours with at least 4.5:1 contrast.

export const UI_STYLE = `
:root { --fg: #1b1f24; --muted: #4a5361; --bg: #ffffff; --line: #c9ced6; --accent: #1a4d8f; --focus: #b3400a;
  --ok-bg: #dcf3e0; --ok-fg: #0b5320; --warn-bg: #fff1c2; --warn-fg: #5c4100; --miss-bg: #e4e8f7; --miss-fg: #25337a;
  --err-bg: #fbe0e0; --err-fg: #8a1010; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.skip { position: absolute; left: -999px; top: 0; background: var(--bg); padding: .5rem; }
.skip:focus { left: .5rem; }
.top { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; padding: .6rem 1rem; border-bottom: 1px solid var(--line); }
.top h1 { font-size: 1.25rem; margin: 0; }
.top h1 a { text-decoration: none; color: var(--fg); }
#who { margin: 0; color: var(--muted); flex: 1; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
main:focus { outline: none; }
h2 { font-size: 1.3rem; margin: .5rem 0; }
h3 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
label { font-weight: 600; }
input, select, button { font: inherit; }
input[type=password], input[type=search], input[type=number], select { padding: .4rem .5rem; border: 1px solid #7a8390; border-radius: 4px; min-height: 2.5rem; }
button { padding: .4rem .8rem; border: 1px solid var(--accent); border-radius: 4px; background: var(--accent); color: #fff; cursor: pointer; min-height: 2.5rem; }
button.secondary { background: var(--bg); color: var(--accent); }
button.danger { background: #a3160e; border-color: #a3160e; }
button:disabled { opacity: .6; cursor: not-allowed; }
.hint { color: var(--muted); font-size: .9rem; }
#login-form { display: grid; gap: .5rem; max-width: 28rem; }
.toolbar { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin: .5rem 0; }
.toolbar input { flex: 1 1 12rem; }
#counts { color: var(--muted); }
#status:empty, #alert[hidden] { display: none; }
#alert { background: var(--err-bg); color: var(--err-fg); border: 1px solid var(--err-fg); padding: .5rem .75rem; border-radius: 4px; }
#status { background: #eef3fb; border-left: 4px solid var(--accent); padding: .4rem .75rem; }
.table-wrap { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; width: 100%; }
caption { text-align: left; color: var(--muted); font-size: .9rem; padding-bottom: .3rem; }
th, td { border-bottom: 1px solid var(--line); padding: .45rem .5rem; text-align: left; vertical-align: top; }
thead th { background: #f3f5f8; position: sticky; top: 0; }
tbody th { font-weight: 600; white-space: nowrap; }
#matrix tbody th { position: sticky; left: 0; background: var(--bg); z-index: 1; }
#matrix td { padding: .25rem; }
#matrix td.last-render { font-size: .85rem; color: var(--muted); white-space: nowrap; }
#matrix td.none { color: var(--muted); text-align: center; }
.cell { display: block; width: 100%; text-align: left; border-width: 2px; min-width: 9rem; }
.cell small { display: block; font-size: .8rem; }
.st-complete { background: var(--ok-bg); color: var(--ok-fg); border-color: var(--ok-fg); }
.st-incomplete { background: var(--warn-bg); color: var(--warn-fg); border-color: var(--warn-fg); }
.st-source-missing { background: var(--miss-bg); color: var(--miss-fg); border-color: var(--miss-fg); }
.st-error { background: var(--err-bg); color: var(--err-fg); border-color: var(--err-fg); }
.k-ok { color: var(--ok-fg); } .k-missing, .k-empty, .k-placeholder { color: var(--warn-fg); font-weight: 600; } .k-extra { color: var(--miss-fg); }
.badge { display: inline-block; padding: 0 .4rem; border: 1px solid; border-radius: 3px; font-size: .85rem; white-space: nowrap; }
.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .3rem 1.2rem; color: var(--muted); font-size: .9rem; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: .5rem 0; }
.meta dt { font-weight: 600; } .meta dd { margin: 0; overflow-wrap: anywhere; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .92em; overflow-wrap: anywhere; }
.panel { border: 1px solid var(--line); border-radius: 6px; padding: .75rem; margin: .75rem 0; }
.panel .buttons, dialog .buttons { display: flex; flex-wrap: wrap; gap: .5rem; margin-top: .5rem; }
dialog { border: 1px solid var(--line); border-radius: 8px; max-width: min(34rem, 94vw); padding: 1rem; }
dialog::backdrop { background: rgba(0, 0, 0, .45); }
dialog .field { display: grid; gap: .25rem; margin: .5rem 0; }
.problems li { margin: .2rem 0; }
@media (max-width: 40rem) {
  body { font-size: 15px; }
  main { padding: .6rem; }
  .cell { min-width: 6rem; font-size: .9rem; padding: .3rem .4rem; }
  #matrix tbody th { padding-left: .2rem; }
  #keys thead { position: absolute; left: -9999px; }
  #keys tr { display: block; border-bottom: 2px solid var(--line); padding: .3rem 0; }
  #keys td, #keys th { display: block; border: 0; padding: .1rem .3rem; }
  #keys td[data-label]::before { content: attr(data-label) ": "; font-weight: 600; }
}
`;
