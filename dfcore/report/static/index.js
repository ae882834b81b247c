/* dfind report, folder index: filter, sort by column, move with the keyboard. */
(() => {
  const table = document.querySelector("table.pairs");
  if (!table) return;
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  const filter = document.getElementById("filter");
  const failedOnly = document.getElementById("failed-only");
  const shown = document.getElementById("shown");
  let selected = -1;

  const visible = () => rows.filter((row) => !row.hidden);
  function applyFilter() {
    const text = filter.value.trim().toLowerCase();
    for (const row of rows) {
      const name = (row.dataset.name || "").toLowerCase();
      row.hidden = (text && !name.includes(text)) || (failedOnly.checked && !row.classList.contains("failed"));
    }
    const count = visible().length;
    shown.textContent = count === rows.length ? `${rows.length} pairs` : `${count} of ${rows.length} pairs`;
    select(-1);
  }
  filter.addEventListener("input", applyFilter);
  failedOnly.addEventListener("change", applyFilter);

  /* sort by a column: numbers where the cells carry data-value, text otherwise */
  const headers = Array.from(table.tHead.rows[0].cells);
  headers.forEach((th, column) => {
    if (th.classList.contains("nosort")) return;
    th.tabIndex = 0;
    const sort = () => {
      const ascending = th.getAttribute("aria-sort") !== "ascending";
      headers.forEach((h) => h.removeAttribute("aria-sort"));
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      const key = (row) => {
        const cell = row.cells[column];
        const value = cell.dataset.value;
        return value === undefined ? cell.textContent.trim().toLowerCase() : Number(value);
      };
      const sorted = rows.slice().sort((r1, r2) => {
        const a = key(r1), b = key(r2);
        const order = typeof a === "number" && typeof b === "number"
          ? (Number.isNaN(a) ? 1 : Number.isNaN(b) ? -1 : a - b) : String(a).localeCompare(String(b));
        return ascending ? order : -order;
      });
      for (const row of sorted) body.appendChild(row);
      rows.splice(0, rows.length, ...sorted);
      select(-1);
    };
    th.addEventListener("click", sort);
    th.addEventListener("keydown", (event) => { if (event.key === "Enter") { sort(); event.preventDefault(); } });
  });

  function select(index) {
    const list = visible();
    rows.forEach((row) => row.classList.remove("selected"));
    if (index < 0 || !list.length) { selected = -1; return; }
    selected = Math.min(index, list.length - 1);
    list[selected].classList.add("selected");
    list[selected].scrollIntoView({ block: "nearest" });
  }
  function open() {
    const row = visible()[selected];
    const link = row && row.querySelector("a.pair-link");
    if (link) window.location.href = link.getAttribute("href");
    return Boolean(link);
  }
  dfind.onKeys({
    "/": () => filter.focus(),
    j: () => select(selected + 1),
    k: () => select(Math.max(selected - 1, 0)),
    Enter: open,
    o: open,
  });
  applyFilter();
})();
