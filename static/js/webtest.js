// Web test: drop photos, each goes to POST /api/v1/webtest; the results fill the shared viewer.
// A refused photo shows why in its place in the strip; the viewer stays on the last good photo.
// The address names the web tests on the page (/webtest?test=ID&test=ID2): a reload, or that
// link opened later, reads each with GET /api/v1/webtest/{id} and shows it the same way.
(() => {
  const { csrfToken, dropZone, upload } = window.GanStudio;
  const WAIT_S = 25; // the API's long-poll wait (at most 30)
  const RETRY_MS = 1500;
  const MAX_RETRIES = 5;

  document.addEventListener("DOMContentLoaded", () => {
    for (const select of document.querySelectorAll("select[data-autosubmit]")) {
      select.addEventListener("change", () => select.form.submit());
    }
    const form = document.querySelector("[data-webtest-form]");
    if (!form) return;
    const zone = form.querySelector("[data-dropzone]"); // none when the filter has no versions
    const results = document.querySelector("[data-open-tests]");
    const strip = document.querySelector("[data-photo-strip]");
    const status = document.querySelector("[data-webtest-status]");
    const saveForm = document.querySelector("[data-save-form]");
    const viewerRoot = document.querySelector("[data-viewer]");
    const empty = document.querySelector("[data-viewer-empty]");
    const photos = []; // {name, thumb, item, previewable, result, waiting, error}
    let current = -1; // the photo picked in the strip
    let displayed = null; // the photo in the viewer: never a refused one
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
          sub: `${r.branch} · ${r.status}` + (r.duration_ms ? ` · ${Math.round(r.duration_ms)} ms` : "") + (r.note ? ` · ${r.note}` : ""),
          url: r.render_url,
          state: r.state,
          error: r.error,
        })),
      ];
    };

    // Something to look at: the server has it, or at least the browser could preview it.
    const good = (photo) => !photo.error && (photo.result || photo.previewable);

    const display = (photo) => {
      displayed = photo;
      viewerRoot.hidden = !photo;
      if (empty) empty.hidden = Boolean(photo);
      if (!photo) return;
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
    };

    const show = (index) => {
      if (index < 0 || index >= photos.length) return;
      current = index;
      photos.forEach((p, i) => p.item.setAttribute("aria-current", String(i === index)));
      const photo = photos[index];
      if (good(photo)) display(photo);
      else if (!displayed || displayed.error) {
        // Keep the last good photo; with none, say what to do instead of an empty viewer.
        display([...photos].reverse().find(good) || null);
      }
      if (saveForm) saveForm.hidden = !photo.result || Boolean(photo.error);
      describe();
    };

    // Put the server's refusal where the photo's thumbnail was.
    const refuse = (photo, message) => {
      photo.waiting = null;
      photo.error = message;
      photo.item.dataset.status = "error";
      photo.item.classList.add("bad");
      URL.revokeObjectURL(photo.thumb);
      const name = document.createElement("span");
      name.className = "filename";
      name.textContent = photo.name;
      const why = document.createElement("span");
      why.className = "refusal";
      why.setAttribute("data-testid", "webtest-refusal");
      why.textContent = message;
      photo.item.querySelector("button").replaceChildren(name, why);
      if (photos[current] === photo) show(current);
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

    // Long-poll: the server answers as soon as a render changes (or after WAIT_S), so each
    // render shows the moment it exists; a failed request backs off before trying again.
    const poll = async (photo) => {
      const url = `${photo.result.url}?wait=${WAIT_S}&after=${encodeURIComponent(photo.result.revision)}`;
      let ok = false;
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" } });
        ok = response.ok;
        if (ok) photo.result = await response.json();
      } catch (error) {
        ok = false;
      }
      if (photos[current] === photo) show(current);
      photo.item.dataset.status = photo.result.job.status;
      if (!["done", "failed", "cancelled"].includes(photo.result.job.status)) {
        if (ok) poll(photo);
        else setTimeout(() => poll(photo), RETRY_MS);
      }
    };

    const versions = () => [...form.querySelectorAll("input[name=versions]:checked")].map((box) => box.value);

    // A photo's place in the strip: `thumb` is the dropped file's object URL, or the stored
    // photo's URL for a web test opened again.
    const addToStrip = (name, thumb) => {
      const photo = { name, thumb };
      const button = document.createElement("button");
      button.type = "button";
      button.title = name;
      // The thumbnail goes in only once the browser could decode it: never a broken image.
      const slot = document.createElement("span");
      slot.className = "thumb-slot";
      const img = new Image();
      img.alt = name;
      img.onload = () => {
        photo.width = img.naturalWidth;
        photo.height = img.naturalHeight;
        photo.previewable = true;
        if (photo.error) return;
        slot.replaceChildren(img);
        if (photos[current] === photo) show(current);
      };
      if (thumb) img.src = thumb;
      const caption = document.createElement("span");
      caption.className = "filename";
      caption.textContent = name;
      button.append(slot, caption);
      const item = document.createElement("li");
      item.setAttribute("data-testid", "webtest-photo");
      item.append(button);
      strip.append(item);
      photo.item = item;
      photos.push(photo);
      const index = photos.length - 1;
      button.addEventListener("click", () => show(index));
      show(index);
      return photo;
    };

    const addPhoto = (file) => {
      const photo = addToStrip(file.name, URL.createObjectURL(file));
      submit(photo, file, versions(), 0);
    };

    // The address names every web test on the page, so a reload (or the link) shows them again.
    const remember = () => {
      // The newest 12: as many as the page opens again (MAX_OPENED in routes/webtest.py).
      const ids = photos.filter((p) => p.result && !p.error).map((p) => p.result.id).slice(-12);
      if (!ids.length || !window.history.replaceState) return;
      const query = ids.map((id) => `test=${encodeURIComponent(id)}`).join("&");
      window.history.replaceState(null, "", `/webtest?${query}`);
    };

    // The server's answer about a web test (just started, or opened again): show it, follow it.
    const receive = (photo, body) => {
      photo.waiting = null;
      photo.result = body;
      photo.item.dataset.status = body.job.status;
      photo.item.dataset.testId = body.id;
      remember();
      if (photos[current] === photo) show(current);
      if (!["done", "failed", "cancelled"].includes(body.job.status)) poll(photo);
    };

    // Web tests named by the address (the server checked they are yours: a refusal is already
    // a sentence on the page); each is read once, then shown by the code that shows new ones.
    const reopen = async (ids) => {
      const answers = await Promise.all(
        ids.map(async (id) => {
          try {
            const response = await fetch(`/api/v1/webtest/${encodeURIComponent(id)}`, { headers: { Accept: "application/json" } });
            const body = await response.json().catch(() => ({}));
            return { id, ok: response.ok, body, detail: body.detail || `Request failed (${response.status}).` };
          } catch (error) {
            return { id, ok: false, body: {}, detail: `The web test ${id} could not be loaded (${error.message}); reload the page to try again.` };
          }
        }),
      );
      for (const answer of answers) {
        const photo = addToStrip(answer.ok ? answer.body.filename : answer.id, answer.ok ? answer.body.photo_url : "");
        if (answer.ok) receive(photo, answer.body);
        else refuse(photo, typeof answer.detail === "string" ? answer.detail : JSON.stringify(answer.detail));
      }
    };

    // Over the per-minute limit (429), a photo waits for Retry-After and is sent again, a few
    // times, with the server's message shown meanwhile; any other refusal is final.
    const submit = async (photo, file, picked, tries) => {
      const data = new FormData();
      data.append("image", file, file.name);
      data.append("filter", form.dataset.filter);
      for (const id of picked) data.append("versions", id);
      let answer;
      try {
        answer = await upload("/api/v1/webtest", data);
      } catch (error) {
        refuse(photo, error.message);
        return;
      }
      if (answer.status === 429 && tries < MAX_RETRIES) {
        const seconds = Math.max(1, Number(answer.header("Retry-After")) || 10);
        photo.waiting = `${answer.detail} Sending it again by itself in ${seconds} s…`;
        photo.item.dataset.status = "waiting";
        if (photos[current] === photo) describe();
        setTimeout(() => submit(photo, file, picked, tries + 1), seconds * 1000);
        return;
      }
      if (!answer.ok) {
        refuse(photo, answer.detail);
        return;
      }
      receive(photo, answer.body);
    };

    const take = (files) => {
      if (!versions().length) {
        status.textContent = "Tick at least one version first.";
        status.className = "error-text";
        return;
      }
      for (const file of files) addPhoto(file);
    };

    if (zone) dropZone(zone, zone.querySelector("input[type=file]"), take);

    const boxes = [...form.querySelectorAll("input[name=versions]")];
    const most = Number(form.dataset.maxVersions);
    const limit = () => {
      const picked = boxes.filter((b) => b.checked).length;
      for (const box of boxes) box.disabled = !box.checked && picked >= most;
    };
    boxes.forEach((box) => box.addEventListener("change", limit));
    limit();

    const opened = results ? results.dataset.openTests.split(" ").filter(Boolean) : [];
    if (opened.length) reopen(opened);

    if (saveForm) {
      const result = saveForm.querySelector("[data-save-result]");
      saveForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        const photo = photos[current];
        if (!photo || !photo.result) return;
        result.textContent = "Saving…";
        const response = await fetch(`/api/v1/webtest/${encodeURIComponent(photo.result.id)}/save`, {
          method: "POST",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken(), Accept: "application/json" },
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
