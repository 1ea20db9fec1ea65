// The analysis page: sort the share table by any column (click its head; again to reverse).
// The body is re-rendered by htmx while the job runs, so the chosen order is re-applied then.
(() => {
  let chosen = null; // {column, dir}

  const apply = (table) => {
    if (!chosen) return;
    const body = table.tBodies[0];
    const rows = [...body.rows];
    const value = (row) => {
      const cell = row.cells[chosen.column];
      return cell ? cell.dataset.value ?? "" : "";
    };
    const numeric = chosen.type === "number";
    rows.sort((a, b) => {
      const va = value(a);
      const vb = value(b);
      if (numeric) {
        // Cells without a share (queued, failed) go last in either direction.
        if (va === "" || vb === "") return (va === "") - (vb === "");
        return chosen.dir * (Number(va) - Number(vb));
      }
      return chosen.dir * va.localeCompare(vb);
    });
    body.append(...rows);
    for (const button of table.querySelectorAll("button.sort")) {
      if (Number(button.dataset.sort) === chosen.column) button.dataset.dir = chosen.dir > 0 ? "asc" : "desc";
      else delete button.dataset.dir;
    }
  };

  const setUp = () => {
    const table = document.querySelector("table[data-sortable]");
    if (!table || table.dataset.ready) return;
    table.dataset.ready = "true";
    for (const button of table.querySelectorAll("button.sort")) {
      button.addEventListener("click", () => {
        const column = Number(button.dataset.sort);
        const dir = chosen && chosen.column === column ? -chosen.dir : button.dataset.type === "number" ? -1 : 1;
        chosen = { column, dir, type: button.dataset.type };
        apply(table);
      });
    }
    apply(table);
  };

  document.addEventListener("DOMContentLoaded", setUp);
  document.body?.addEventListener("htmx:afterSettle", setUp);
  document.addEventListener("htmx:afterSettle", setUp);
})();
