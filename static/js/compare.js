// Comparison pages: the new-comparison form, the grid's columns and live cells, the viewer page.
(() => {
  const colsKey = (slug) => `ganstudio:cols:${slug}`;

  // Visible version columns in order, from the link (?cols=3,1) or what this browser remembered.
  function savedColumns(slug) {
    const fromLink = new URLSearchParams(window.location.search).get("cols");
    const raw = fromLink ?? window.localStorage.getItem(colsKey(slug));
    return raw ? raw.split(",").filter(Boolean) : null;
  }

  function rememberColumns(slug, cols) {
    const url = new URL(window.location.href);
    if (cols === null) {
      window.localStorage.removeItem(colsKey(slug));
      url.searchParams.delete("cols");
    } else {
      window.localStorage.setItem(colsKey(slug), cols.join(","));
      url.searchParams.set("cols", cols.join(","));
    }
    window.history.replaceState(null, "", url);
  }

  // ---- new comparison: pick a filter (reloads), tick 2–8 versions ----
  function setUpForms() {
    for (const select of document.querySelectorAll("select[data-autosubmit]")) {
      select.addEventListener("change", () => select.form.submit());
    }
    const form = document.querySelector("[data-testid=new-comparison]");
    const picker = form && form.querySelector("[data-version-picker]");
    if (!picker) return;
    const most = Number(form.dataset.maxVersions);
    const boxes = [...picker.querySelectorAll("input[type=checkbox]")];
    const count = picker.querySelector("[data-picked-count]");
    const submit = form.querySelector("button[type=submit]");
    const update = () => {
      const picked = boxes.filter((b) => b.checked).length;
      for (const box of boxes) box.disabled = !box.checked && picked >= most;
      count.textContent = `${picked} picked` + (picked < 2 ? " — pick at least 2." : picked >= most ? ` — at most ${most}.` : ".");
      submit.disabled = picked < 2;
    };
    for (const box of boxes) box.addEventListener("change", update);
    update();
  }

  // ---- the grid: hide and reorder columns; tell each poll which cells still wait ----
  function setUpGrid(page) {
    const slug = page.dataset.slug;
    const table = page.querySelector("table.cmp");
    const tools = page.querySelector("[data-column-tools]");
    const all = [...tools.querySelectorAll("[data-chip]")].map((chip) => chip.dataset.chip);
    let order = all.slice();
    let hidden = new Set();
    const saved = savedColumns(slug);
    if (saved) {
      const shown = saved.filter((id) => all.includes(id));
      order = [...shown, ...all.filter((id) => !shown.includes(id))];
      hidden = new Set(all.filter((id) => !shown.includes(id)));
    }
    // A constructed style sheet (not a <style> element, which the CSP refuses) also hides the
    // cells that live polls swap in later.
    const sheet = new CSSStyleSheet();
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];

    const apply = () => {
      sheet.replaceSync([...hidden].map((id) => `table.cmp [data-col="${CSS.escape(id)}"] { display: none; }`).join("\n"));
      for (const row of table.querySelectorAll("tr")) {
        for (const id of order) {
          const cell = row.querySelector(`:scope > [data-col="${CSS.escape(id)}"]`);
          if (cell) row.append(cell);
        }
      }
      for (const id of order) {
        const chip = tools.querySelector(`[data-chip="${CSS.escape(id)}"]`);
        tools.insertBefore(chip, tools.querySelector("[data-reset-cols]"));
        chip.classList.toggle("off", hidden.has(id));
        chip.querySelector("input").checked = !hidden.has(id);
      }
    };
    const changed = () => {
      apply();
      const custom = hidden.size || order.some((id, i) => id !== all[i]);
      rememberColumns(slug, custom ? order.filter((id) => !hidden.has(id)) : null);
    };
    tools.addEventListener("change", (event) => {
      const id = event.target.dataset.toggleCol;
      if (!id) return;
      if (event.target.checked) hidden.delete(id);
      else if (all.length - hidden.size > 1) hidden.add(id);
      else event.target.checked = true; // keep one column
      changed();
    });
    tools.addEventListener("click", (event) => {
      const button = event.target.closest("button");
      if (!button) return;
      if (button.hasAttribute("data-reset-cols")) {
        order = all.slice();
        hidden = new Set();
      } else if (button.dataset.move) {
        const id = button.closest("[data-chip]").dataset.chip;
        const from = order.indexOf(id);
        const to = Math.min(order.length - 1, Math.max(0, from + Number(button.dataset.move)));
        order.splice(from, 1);
        order.splice(to, 0, id);
      }
      changed();
    });
    apply();

    // htmx polls #progress; the server answers with the cells (among these) that moved on.
    document.body.addEventListener("htmx:configRequest", (event) => {
      if (event.detail.elt.id !== "progress") return;
      const waiting = [...table.querySelectorAll("td.cell[data-state=queued], td.cell[data-state=running]")];
      event.detail.parameters.waiting = waiting.map((td) => td.dataset.render).join(",");
    });
    // The last answer may flip the job to finished while a cell below still says "running".
    document.body.addEventListener("htmx:afterSettle", () => {
      page.dataset.waiting = String(table.querySelectorAll("td.cell[data-state=queued], td.cell[data-state=running]").length);
    });
  }

  // ---- the viewer page: one row, full size; polls until its renders are in ----
  function setUpViewer(page) {
    const slug = page.dataset.slug;
    const payload = JSON.parse(document.getElementById("viewer-data").textContent);
    const whyNode = document.getElementById("why-data"); // the "Why" mode's data (static/js/why.js)
    const whyData = whyNode ? JSON.parse(whyNode.textContent) : null;
    const params = new URLSearchParams(window.location.search);
    const visible = (columns) => {
      const saved = savedColumns(slug);
      if (!saved) return columns;
      const [input, ...versions] = columns;
      const shown = saved.map((id) => versions.find((c) => c.key === id)).filter(Boolean);
      return shown.length ? [input, ...shown] : columns;
    };
    // The viewer's state in the link (and carried to the next row); region, box, features and
    // layer are the "Why" mode's.
    const keep = ["mode", "zoom", "px", "py", "left", "right", "split", "a", "b", "gain", "face", "cols", "region", "box", "features", "layer"];
    const carry = (href) => {
      const url = new URL(href, window.location.href);
      for (const name of keep) if (params.has(name)) url.searchParams.set(name, params.get(name));
      return url.toString();
    };
    const go = (href) => href && (window.location.href = carry(href));
    const viewer = new window.GanViewer(page.querySelector("[data-viewer]"), {
      columns: visible(payload.columns),
      faces: payload.faces,
      extraModes: window.GanWhy && whyData ? [window.GanWhy.mode(whyData, Object.fromEntries(params))] : [],
      state: Object.fromEntries(params),
      onPrevious: () => go(payload.previous),
      onNext: () => go(payload.next),
      onClose: () => (window.location.href = payload.grid),
      onState: (state) => {
        for (const name of keep) if (name !== "cols") params.delete(name);
        for (const [name, value] of Object.entries(state)) params.set(name, value);
        const url = new URL(window.location.href);
        url.search = params.toString();
        window.history.replaceState(null, "", url);
        for (const link of page.querySelectorAll("[data-nav]")) link.href = carry(link.getAttribute("href"));
      },
    });
    for (const link of page.querySelectorAll("[data-nav]")) link.href = carry(link.getAttribute("href"));
    const pending = (row) => !row.finished || (row.faces && row.faces.state === "pending");
    if (pending(payload)) {
      const poll = async () => {
        const response = await fetch(`/c/${encodeURIComponent(slug)}/row?sample=${payload.sample.id}`, { headers: { Accept: "application/json" } });
        if (!response.ok) return;
        const row = await response.json();
        viewer.setColumns(visible(row.columns));
        viewer.setFaces(row.faces);
        if (pending(row)) setTimeout(poll, 1500);
      };
      setTimeout(poll, 1500);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    setUpForms();
    const grid = document.querySelector("[data-compare-grid]");
    if (grid) setUpGrid(grid);
    const viewerPage = document.querySelector("[data-compare-viewer]");
    if (viewerPage) setUpViewer(viewerPage);
  });
})();
