/* dfind report: theme switch, help dialog and keyboard dispatch, shared by every page. */
"use strict";
const dfind = (() => {
  const root = document.documentElement;
  const THEMES = ["auto", "light", "dark"];
  const store = {
    get(key) { try { return window.localStorage.getItem(key); } catch (e) { return null; } },
    set(key, value) { try { window.localStorage.setItem(key, value); } catch (e) { /* storage off */ } },
  };

  function setTheme(theme) {
    root.dataset.theme = theme;
    store.set("dfind-theme", theme);
    const button = document.getElementById("theme");
    if (button) button.title = "Theme: " + theme + " (t)";
  }
  const saved = store.get("dfind-theme");
  setTheme(THEMES.includes(saved) ? saved : "auto");
  const nextTheme = () => setTheme(THEMES[(THEMES.indexOf(root.dataset.theme) + 1) % THEMES.length]);

  const help = document.getElementById("help");
  const toggleHelp = (show) => { if (help) help.hidden = show === undefined ? !help.hidden : !show; };
  if (help) help.addEventListener("click", (event) => { if (event.target === help) toggleHelp(false); });
  const themeButton = document.getElementById("theme");
  if (themeButton) themeButton.addEventListener("click", nextTheme);
  const helpButton = document.getElementById("help-button");
  if (helpButton) helpButton.addEventListener("click", () => toggleHelp());

  /* keys: {"f": handler, ...}; a handler that returns false lets the browser act too. */
  function onKeys(keys) {
    document.addEventListener("keydown", (event) => {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      const target = event.target;
      const typing = target && (target.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName));
      if (event.key === "Escape") {
        if (help && !help.hidden) { toggleHelp(false); event.preventDefault(); return; }
        if (typing) { target.blur(); event.preventDefault(); return; }
      }
      if (typing && !(target.type === "range" || target.type === "checkbox")) return;
      if (typing && event.key.startsWith("Arrow")) return;
      let handler = null;
      if (event.key === "?") handler = () => toggleHelp();
      else if (event.key === "t") handler = nextTheme;
      else handler = keys[event.key];
      if (!handler) return;
      if (handler(event) !== false) event.preventDefault();
    });
  }
  return { onKeys, store };
})();
