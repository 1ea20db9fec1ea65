// Sample library: drag-and-drop upload with per-file progress, and grid multi-select.
(() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

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

    const send = (file) =>
      new Promise((resolve) => {
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

        const data = new FormData();
        data.append("files", file, file.name);
        data.append("tags", form.querySelector("#upload-tags").value);
        data.append("set", form.querySelector("#upload-set").value);
        const xhr = new XMLHttpRequest();
        xhr.open("POST", "/api/v1/samples");
        xhr.setRequestHeader("X-CSRF-Token", csrf());
        xhr.upload.onprogress = (e) => {
          if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total);
        };
        const fail = (reason) => {
          totals.rejected++;
          line(row.querySelector("ul"), "bad", `${file.name} — rejected: ${reason}`);
        };
        xhr.onload = () => {
          bar.value = 100;
          let body = null;
          try {
            body = JSON.parse(xhr.responseText);
          } catch {
            body = null;
          }
          if (xhr.status === 200 && body) report(row, body);
          else fail((body && body.detail) || `the server answered ${xhr.status}`);
          resolve();
        };
        xhr.onerror = () => {
          fail("the connection failed; try again");
          resolve();
        };
        xhr.send(data);
      });

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

    zone.addEventListener("dragover", (e) => {
      e.preventDefault();
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("dragging");
      if (e.dataTransfer && e.dataTransfer.files.length) uploadAll(e.dataTransfer.files);
    });
    zone.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        input.click();
      }
    });
    input.addEventListener("change", () => {
      if (input.files.length) uploadAll(input.files);
      input.value = "";
    });
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

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-uploader]").forEach(setUpUploader);
    document.querySelectorAll("[data-bulk]").forEach(setUpBulk);
  });
})();
