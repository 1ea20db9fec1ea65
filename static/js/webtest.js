// Web test: drop photos, each goes to POST /api/v1/webtest; the results fill the shared viewer.
(() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;
  const POLL_MS = 600;
  const MAX_RETRIES = 5;

  document.addEventListener("DOMContentLoaded", () => {
    for (const select of document.querySelectorAll("select[data-autosubmit]")) {
      select.addEventListener("change", () => select.form.submit());
    }
    const form = document.querySelector("[data-webtest-form]");
    if (!form || !form.querySelector("[data-dropzone]")) return;
    const zone = form.querySelector("[data-dropzone]");
    const input = zone.querySelector("input[type=file]");
    const strip = document.querySelector("[data-photo-strip]");
    const status = document.querySelector("[data-webtest-status]");
    const saveForm = document.querySelector("[data-save-form]");
    const viewerRoot = document.querySelector("[data-viewer]");
    const photos = []; // {name, thumb, item, job, result, error}
    let current = -1;
    let viewer = null;

    const columnsOf = (photo) => {
      const result = photo.result;
      const input = { key: "input", label: "Input", sub: photo.name, url: photo.thumb, state: "done", width: photo.width, height: photo.height };
      if (!result) return [input];
      input.url = result.photo_url;
      return [
        input,
        ...result.renders.map((r) => ({
          key: String(r.version_id),
          label: r.label,
          sub: `${r.branch} · ${r.status}` + (r.duration_ms ? ` · ${Math.round(r.duration_ms)} ms` : ""),
          url: r.render_url,
          state: r.state,
          error: r.error,
        })),
      ];
    };

    const show = (index) => {
      if (index < 0 || index >= photos.length) return;
      current = index;
      photos.forEach((p, i) => p.item.setAttribute("aria-current", String(i === index)));
      const photo = photos[index];
      viewerRoot.hidden = false;
      if (!viewer) {
        viewer = new window.GanViewer(viewerRoot, {
          columns: columnsOf(photo),
          shareable: false,
          onPrevious: () => show(current - 1),
          onNext: () => show(current + 1),
        });
      } else {
        viewer.setColumns(columnsOf(photo));
      }
      if (saveForm) saveForm.hidden = !photo.result;
      describe();
    };

    const describe = () => {
      const photo = photos[current];
      if (!photo) return;
      if (photo.waiting) {
        status.textContent = `${photo.name}: ${photo.waiting}`;
        status.className = "warning-text";
        status.dataset.status = "waiting";
        return;
      }
      if (photo.error) {
        status.textContent = `${photo.name}: ${photo.error}`;
        status.className = "error-text";
        return;
      }
      status.className = "muted";
      const job = photo.result && photo.result.job;
      if (!job) status.textContent = `${photo.name}: uploading…`;
      else if (["done", "failed", "cancelled"].includes(job.status)) {
        status.textContent = `${photo.name}: ${job.done} of ${job.total} rendered` + (job.failed ? `, ${job.failed} failed` : "") + ".";
      } else status.textContent = `${photo.name}: rendering… ${job.done + job.failed} of ${job.total}`;
      status.dataset.status = job ? job.status : "uploading";
    };

    const poll = async (photo) => {
      const response = await fetch(photo.result.url, { headers: { Accept: "application/json" } });
      if (response.ok) photo.result = await response.json();
      if (photos[current] === photo) show(current);
      photo.item.dataset.status = photo.result.job.status;
      if (!["done", "failed", "cancelled"].includes(photo.result.job.status)) setTimeout(() => poll(photo), POLL_MS);
    };

    const versions = () => [...form.querySelectorAll("input[name=versions]:checked")].map((box) => box.value);

    const send = (file) => {
      const photo = { name: file.name, thumb: URL.createObjectURL(file) };
      const button = document.createElement("button");
      button.type = "button";
      button.title = file.name;
      const img = document.createElement("img");
      img.src = photo.thumb;
      img.alt = file.name;
      img.onload = () => {
        photo.width = img.naturalWidth;
        photo.height = img.naturalHeight;
      };
      const caption = document.createElement("span");
      caption.className = "filename";
      caption.textContent = file.name;
      button.append(img, caption);
      const item = document.createElement("li");
      item.dataset.testid = "webtest-photo";
      item.setAttribute("data-testid", "webtest-photo");
      item.append(button);
      strip.append(item);
      photo.item = item;
      photos.push(photo);
      const index = photos.length - 1;
      button.addEventListener("click", () => show(index));
      show(index);

      upload(photo, file, versions(), 0);
    };

    // Over the per-minute limit (429), a photo waits for Retry-After and is sent again, a few
    // times, with the server's message shown meanwhile; any other refusal is final.
    const upload = (photo, file, picked, tries) => {
      const data = new FormData();
      data.append("image", file, file.name);
      data.append("filter", form.dataset.filter);
      for (const id of picked) data.append("versions", id);
      fetch("/api/v1/webtest", { method: "POST", body: data, headers: { "X-CSRF-Token": csrf(), Accept: "application/json" } })
        .then(async (response) => {
          const body = await response.json().catch(() => ({ detail: `Request failed (${response.status}).` }));
          if (response.status === 429 && tries < MAX_RETRIES) {
            const seconds = Math.max(1, Number(response.headers.get("Retry-After")) || 10);
            photo.waiting = `${body.detail} Sending it again by itself in ${seconds} s…`;
            photo.item.dataset.status = "waiting";
            if (photos[current] === photo) describe();
            setTimeout(() => upload(photo, file, picked, tries + 1), seconds * 1000);
            return;
          }
          if (!response.ok) throw new Error(body.detail || `Request failed (${response.status}).`);
          photo.waiting = null;
          photo.result = body;
          photo.item.dataset.status = body.job.status;
          if (photos[current] === photo) show(current);
          poll(photo);
        })
        .catch((error) => {
          photo.waiting = null;
          photo.error = error.message;
          photo.item.dataset.status = "error";
          photo.item.classList.add("bad");
          if (photos[current] === photo) describe();
        });
    };

    const take = (files) => {
      if (!versions().length) {
        status.textContent = "Tick at least one version first.";
        status.className = "error-text";
        return;
      }
      for (const file of files) send(file);
    };

    zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("dragging");
      take([...event.dataTransfer.files]);
    });
    zone.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        input.click();
      }
    });
    input.addEventListener("change", () => {
      take([...input.files]);
      input.value = "";
    });

    const boxes = [...form.querySelectorAll("input[name=versions]")];
    const most = Number(form.dataset.maxVersions);
    const limit = () => {
      const picked = boxes.filter((b) => b.checked).length;
      for (const box of boxes) box.disabled = !box.checked && picked >= most;
    };
    boxes.forEach((box) => box.addEventListener("change", limit));
    limit();

    if (saveForm) {
      const result = saveForm.querySelector("[data-save-result]");
      saveForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        const photo = photos[current];
        if (!photo || !photo.result) return;
        result.textContent = "Saving…";
        const response = await fetch(`/api/v1/webtest/${encodeURIComponent(photo.result.id)}/save`, {
          method: "POST",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf(), Accept: "application/json" },
          body: JSON.stringify({ set: saveForm.elements.set.value }),
        });
        const body = await response.json().catch(() => ({}));
        result.replaceChildren();
        if (!response.ok) {
          result.textContent = body.detail || `Request failed (${response.status}).`;
          result.className = "error-text small";
          return;
        }
        result.className = "small";
        const link = document.createElement("a");
        link.href = body.sample_url;
        link.textContent = body.filename;
        result.append(body.created ? "Added " : "Already in the library: ", link, ` → ${body.set_name}`);
      });
    }
  });
})();
