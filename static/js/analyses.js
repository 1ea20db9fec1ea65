// The analysis page: sort the share table by any column (click its head; again to reverse; the
// head's aria-sort says how). The body is re-rendered by htmx while the job runs, so the chosen
// order is re-applied then. The new-analysis form: feature maps need no region, so the region
// picker is disabled while "Feature maps" is chosen.
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
      const head = button.closest("th");
      if (Number(button.dataset.sort) === chosen.column) {
        button.dataset.dir = chosen.dir > 0 ? "asc" : "desc";
        head?.setAttribute("aria-sort", chosen.dir > 0 ? "ascending" : "descending");
      } else {
        delete button.dataset.dir;
        head?.setAttribute("aria-sort", "none");
      }
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

  const setUpForm = () => {
    const form = document.querySelector("form[data-new-analysis]");
    if (!form) return;
    const regions = form.querySelector("[data-regions]");
    const note = form.querySelector("[data-features-note]");
    const sync = () => {
      const features = form.querySelector("input[name=kind]:checked")?.value === "features";
      regions.disabled = features; // a disabled fieldset's radios are not sent
      if (note) note.hidden = !features;
    };
    for (const radio of form.querySelectorAll("input[name=kind]")) radio.addEventListener("change", sync);
    sync();
  };

  document.addEventListener("DOMContentLoaded", setUp);
  document.addEventListener("DOMContentLoaded", setUpForm);
  document.body?.addEventListener("htmx:afterSettle", setUp);
  document.addEventListener("htmx:afterSettle", setUp);
})();
