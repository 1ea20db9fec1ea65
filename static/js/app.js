// Small, page-wide behaviour: "Go back" links, the server's message when an htmx request fails,
// and `window.GanStudio`, the helpers page scripts share. This file loads (deferred) on every
// page before the page's own scripts, so they can use GanStudio when they run.
window.GanStudio = {
  // Build an element: el("a", { href, className, text, "data-x": 1 }, ...children). Attribute
  // values false/null/undefined are left out, true gives an empty attribute.
  el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  },

  // The noun for a count, as ganstudio/text.py's plural: noun(1, "vote") → "vote",
  // noun(3, "vote") → "votes", noun(2, "match", "matches") → "matches".
  noun(count, singular, plural = `${singular}s`) {
    return Number(count) === 1 ? singular : plural;
  },

  // A count with its noun: plural(1, "vote") → "1 vote", plural(3, "vote") → "3 votes".
  plural(count, singular, plural) {
    return `${count} ${window.GanStudio.noun(count, singular, plural)}`;
  },

  // The session's CSRF token: every POST/PUT/PATCH/DELETE sends it as X-CSRF-Token.
  csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  },

  // Make `zone` (holding the file `input`) take dropped files, and open the picker on Enter or
  // Space. `onFiles(files)` gets an array. With `keep`, dropped files are put in the input (its
  // form posts them) and picked ones stay there; otherwise the input is cleared after each pick,
  // so picking the same file again counts.
  dropZone(zone, input, onFiles, { keep = false } = {}) {
    const hover = (on) => zone.classList.toggle("dragging", on);
    ["dragenter", "dragover"].forEach((type) =>
      zone.addEventListener(type, (event) => {
        event.preventDefault();
        hover(true);
      }),
    );
    zone.addEventListener("dragleave", () => hover(false));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      hover(false);
      const dropped = event.dataTransfer ? event.dataTransfer.files : null;
      if (!dropped || !dropped.length) return;
      if (keep) input.files = dropped;
      onFiles([...dropped]);
    });
    zone.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        input.click();
      }
    });
    input.addEventListener("change", () => {
      if (input.files.length) onFiles([...input.files]);
      if (!keep) input.value = "";
    });
  },

  // POST `formData` to `url` with the CSRF token, reporting upload progress (0…1) to
  // `onProgress` and the end of the upload (the server still working) to `onUploaded`.
  // XMLHttpRequest, because fetch cannot report upload progress. Resolves to
  // {status, ok, body, detail, header(name)} for any answer (`detail`: the server's message,
  // or one naming the status); rejects only when the connection fails.
  upload(url, formData, { onProgress, onUploaded } = {}) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("X-CSRF-Token", window.GanStudio.csrfToken());
      xhr.setRequestHeader("Accept", "application/json");
      if (onProgress) {
        xhr.upload.addEventListener("progress", (event) => {
          if (event.lengthComputable) onProgress(event.loaded / event.total);
        });
      }
      if (onUploaded) xhr.upload.addEventListener("load", onUploaded);
      xhr.addEventListener("load", () => {
        let body = {};
        try {
          body = JSON.parse(xhr.responseText) || {};
        } catch {
          body = {};
        }
        const ok = xhr.status >= 200 && xhr.status < 300;
        const detail =
          typeof body.detail === "string" ? body.detail : `The server answered ${xhr.status}.`;
        resolve({ status: xhr.status, ok, body, detail, header: (name) => xhr.getResponseHeader(name) });
      });
      xhr.addEventListener("error", () =>
        reject(new Error("The connection failed; check it and send the file again.")),
      );
      xhr.send(formData);
    });
  },
};

document.addEventListener("click", (event) => {
  const back = event.target.closest("[data-go-back]");
  if (back && window.history.length > 1) {
    event.preventDefault();
    window.history.back();
  }
});

// With htmx loaded, forms that swap in their result on change need no submit button: hide the
// no-JS fallbacks (`.js-fallback`, see app.css).
if (window.htmx) document.documentElement.classList.add("htmx");

document.addEventListener("htmx:responseError", (event) => {
  const xhr = event.detail.xhr;
  let message = `Request failed (${xhr.status}).`;
  try {
    message = JSON.parse(xhr.responseText).detail || message;
  } catch {
    const doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
    const found = doc.querySelector("[data-testid=error-message]");
    if (found) message = found.textContent;
  }
  let toast = document.getElementById("toast");
  if (!toast) {
    toast = document.createElement("div");
    toast.id = "toast";
    document.body.appendChild(toast);
  }
  const item = document.createElement("div");
  item.className = "flash flash-error";
  item.setAttribute("role", "alert");
  item.textContent = message;
  toast.appendChild(item);
  setTimeout(() => item.remove(), 8000);
});
