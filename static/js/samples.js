// Sample library: drag-and-drop upload with per-file progress, grid multi-select, and a set's
// drag-to-reorder. Uses window.GanStudio (app.js) for the drop zone, uploads and CSRF.
(() => {
  const { csrfToken, dropZone, upload } = window.GanStudio;

  // ---- upload: one request per file to the API, two at a time, each with its own progress ----
  function setUpUploader(form) {
    const zone = form.querySelector("[data-dropzone]");
    const input = zone.querySelector("input[type=file]");
    const list = document.querySelector("[data-upload-list]");
    const summary = document.querySelector("[data-upload-summary]");
    const totals = { created: 0, existing: 0, rejected: 0, pending: 0 };

    const showSummary = () => {
      summary.hidden = false;
      const busy = totals.pending ? ` · ${totals.pending} uploading…` : "";
      summary.textContent =
        `${totals.created} added · ${totals.existing} already in the library · ` +
        `${totals.rejected} rejected${busy}`;
      summary.dataset.done = totals.pending ? "false" : "true";
    };

    const line = (parent, cls, text, href) => {
      const item = document.createElement("li");
      item.className = cls;
      if (href) {
        const link = document.createElement("a");
        link.href = href;
        link.textContent = text;
        item.appendChild(link);
      } else {
        item.textContent = text;
      }
      parent.appendChild(item);
      return item;
    };

    const report = (row, body) => {
      const results = row.querySelector("ul");
      for (const a of body.created) {
        totals.created++;
        line(results, "ok", `${a.filename} — added`, `/samples/${a.id}`);
      }
      for (const a of body.existing) {
        totals.existing++;
        line(results, "same", `${a.filename} — already in the library`, `/samples/${a.id}`);
      }
      for (const r of body.rejected) {
        totals.rejected++;
        line(results, "bad", `${r.filename} — rejected: ${r.reason}`);
      }
    };

    const send = async (file) => {
      const row = document.createElement("li");
      row.className = "upload-row";
      const name = document.createElement("span");
      name.className = "filename";
      name.textContent = file.name;
      const bar = document.createElement("progress");
      bar.max = 100;
      bar.value = 0;
      bar.setAttribute("aria-label", `Upload of ${file.name}`);
      row.append(name, bar, document.createElement("ul"));
      list.appendChild(row);
      const fail = (reason) => {
        totals.rejected++;
        line(row.querySelector("ul"), "bad", `${file.name} — rejected: ${reason}`);
      };

      const data = new FormData();
      data.append("files", file, file.name);
      data.append("tags", form.querySelector("#upload-tags").value);
      data.append("set", form.querySelector("#upload-set").value);
      try {
        const answer = await upload("/api/v1/samples", data, {
          onProgress: (share) => (bar.value = Math.round(100 * share)),
        });
        if (answer.ok) report(row, answer.body);
        else fail(answer.detail);
      } catch (error) {
        fail(error.message);
      }
      bar.value = 100;
    };

    const uploadAll = async (files) => {
      const queue = Array.from(files);
      totals.pending += queue.length;
      showSummary();
      const worker = async () => {
        while (queue.length) {
          await send(queue.shift());
          totals.pending--;
          showSummary();
        }
      };
      await Promise.all([worker(), worker()]);
    };

    dropZone(zone, input, uploadAll);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (input.files.length) uploadAll(input.files);
    });
  }

  // ---- grid: count the selection, select all/none, shift-click ranges ----
  function setUpBulk(form) {
    const boxes = () => Array.from(form.querySelectorAll("input.pick"));
    const counter = form.querySelector("[data-selected-count]");
    const refresh = () => {
      const n = boxes().filter((b) => b.checked).length;
      if (counter) counter.textContent = String(n);
      form.querySelectorAll("[data-needs-selection]").forEach((b) => (b.disabled = n === 0));
      boxes().forEach((b) => b.closest(".tile").classList.toggle("selected", b.checked));
    };
    let last = null;
    form.addEventListener("click", (e) => {
      const box = e.target.closest("input.pick");
      if (!box) return;
      if (e.shiftKey && last) {
        const all = boxes();
        const [a, b] = [all.indexOf(last), all.indexOf(box)].sort((x, y) => x - y);
        all.slice(a, b + 1).forEach((x) => (x.checked = box.checked));
      }
      last = box;
    });
    form.addEventListener("change", refresh);
    form.querySelectorAll("[data-select]").forEach((button) =>
      button.addEventListener("click", () => {
        boxes().forEach((b) => (b.checked = button.dataset.select === "all"));
        refresh();
      }),
    );
    refresh();
  }

  // ---- a set's order: drag a row by its handle; one request saves the page's new order ----
  // Without JavaScript the position numbers and "Save order" do the same through the form.
  function setUpReorder(list) {
    const status = document.querySelector("[data-order-status]");
    const offset = Number(list.dataset.offset) || 0;
    const rows = () => [...list.querySelectorAll("li[data-sample-id]")];
    const orderOf = () => rows().map((row) => row.dataset.sampleId).join(",");
    let saved = orderOf();
    let dragged = null;
    const say = (text, bad) => {
      status.textContent = text;
      status.className = bad ? "error-text small" : "muted small";
    };
    const renumber = () =>
      rows().forEach((row, i) => {
        row.querySelector("input[name=position]").value = String(offset + i + 1);
      });

    const save = async () => {
      const order = orderOf();
      if (order === saved) return;
      renumber();
      const moves = rows().map((row, i) => ({
        sample_id: Number(row.dataset.sampleId),
        position: offset + i + 1,
      }));
      say("Saving the order…");
      list.dataset.saving = "true";
      try {
        const response = await fetch(list.dataset.reorderApi, {
          method: "POST",
          headers: {
            "Content-Type": "application/json",
            Accept: "application/json",
            "X-CSRF-Token": csrfToken(),
          },
          body: JSON.stringify({ moves }),
        });
        const body = await response.json().catch(() => ({}));
        if (response.ok) {
          saved = order;
          say("Saved the order.");
        } else {
          say(`${body.detail || `The order was not saved (${response.status}).`} Reload the page.`, true);
        }
      } catch {
        say("The order was not saved: the connection failed. Reload the page and try again.", true);
      }
      list.dataset.saving = "false";
    };

    rows().forEach((row) => {
      row.draggable = true;
      row.classList.add("draggable");
    });
    list.addEventListener("dragstart", (event) => {
      dragged = event.target.closest("li[data-sample-id]");
      if (!dragged) return;
      dragged.classList.add("dragged");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", dragged.dataset.sampleId);
    });
    list.addEventListener("dragover", (event) => {
      if (!dragged) return;
      event.preventDefault();
      const over = event.target.closest("li[data-sample-id]");
      if (!over || over === dragged) return;
      const box = over.getBoundingClientRect();
      const below = event.clientY > box.top + box.height / 2;
      list.insertBefore(dragged, below ? over.nextSibling : over);
    });
    list.addEventListener("drop", (event) => {
      if (dragged) event.preventDefault();
    });
    list.addEventListener("dragend", () => {
      if (!dragged) return;
      dragged.classList.remove("dragged");
      dragged = null;
      save();
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-uploader]").forEach(setUpUploader);
    document.querySelectorAll("[data-bulk]").forEach(setUpBulk);
    document.querySelectorAll("[data-reorder-api]").forEach(setUpReorder);
  });
})();
